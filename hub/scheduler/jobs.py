"""Jobs in the job store, written and read through the caller's AsyncSession.

Any process may add, replace or cancel a job: it only writes a row of ``scheduler_jobs`` in
APScheduler's own format (version 1 of ``Job.__getstate__``, pickled), which the leader's
SQLAlchemyJobStore reads. Writing through the caller's session rather than APScheduler's
``add_job`` means a job is scheduled in the same transaction as whatever it belongs to (a campaign is
saved together with its schedule, or neither is), and on SQLite no second connection has to wait for
the write lock the caller already holds.

A job is a module-level ``async def f(fire: Fire, *args, **kwargs)`` named by its textual reference
("package.module:function") with JSON-able arguments, so a job written today still means the same
thing after a restart or a deploy.
"""

from __future__ import annotations

import inspect
import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.util import obj_to_ref, ref_to_obj
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.scheduler.cron import InvalidSchedule
from hub.scheduler.tables import MAX_JOB_ID_LENGTH, jobs_table

# The executor the leader registers under this alias runs every hub job (hub/scheduler/engine.py).
EXECUTOR = "default"


@dataclass(frozen=True)
class ScheduledJob:
    """A job as stored: what runs, with what, on which schedule, and when next."""

    id: str
    func_ref: str
    args: list[Any]
    kwargs: dict[str, Any]
    schedule: str  # "cron '0 10 * * MON' in Europe/Kyiv" or "once at 2026-05-01 10:00:00+00:00"
    next_run_time: datetime | None
    misfire_grace_seconds: int | None


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidSchedule(f"job id {job_id!r}: must be a non-empty string")
    if len(job_id) > MAX_JOB_ID_LENGTH:
        raise InvalidSchedule(f"job id {job_id[:40]!r}…: longer than {MAX_JOB_ID_LENGTH} characters")
    return job_id


def resolve_job_function(func_ref: str) -> Callable[..., Any]:
    """The coroutine function named by ``func_ref``; InvalidSchedule says why it cannot be a job."""
    if not isinstance(func_ref, str) or ":" not in func_ref:
        raise InvalidSchedule(f"job function {func_ref!r}: give a reference like 'hub.campaigns.jobs:send'")
    try:
        func = ref_to_obj(func_ref)
    except (LookupError, ImportError, ValueError) as exc:
        raise InvalidSchedule(f"job function {func_ref!r}: {exc}") from None
    if not inspect.iscoroutinefunction(func):
        raise InvalidSchedule(f"job function {func_ref!r}: must be an async def function")
    try:
        round_trip = obj_to_ref(func)
    except ValueError:
        round_trip = None
    if round_trip != func_ref:
        # A nested function or a re-exported alias would not be found under this name later.
        raise InvalidSchedule(f"job function {func_ref!r}: must be defined at module level under this name")
    return func


def check_arguments(
    func_ref: str, func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Arguments that survive JSON unchanged (so they mean the same after a restart) and that the
    function accepts after its ``fire`` parameter."""
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise InvalidSchedule(
            f"job arguments for {func_ref!r}: args must be a list, got {type(args).__name__}"
        )
    plain_args, plain_kwargs = list(args), dict(kwargs)
    try:
        encoded = json.dumps([plain_args, plain_kwargs], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidSchedule(f"job arguments for {func_ref!r} are not JSON: {exc}") from None
    if json.loads(encoded) != [plain_args, plain_kwargs]:
        raise InvalidSchedule(
            f"job arguments for {func_ref!r} change through JSON (tuples, non-string keys): "
            "pass lists and string-keyed dicts"
        )
    try:
        inspect.signature(func).bind(None, *plain_args, **plain_kwargs)
    except TypeError as exc:
        raise InvalidSchedule(f"job function {func_ref!r} does not take these arguments: {exc}") from None
    return plain_args, plain_kwargs


def job_state(
    *,
    job_id: str,
    func_ref: str,
    trigger: BaseTrigger,
    args: list[Any],
    kwargs: dict[str, Any],
    description: str,
    next_run_time: datetime | None,
    misfire_grace_seconds: int | None,
) -> dict[str, Any]:
    """APScheduler's serialised Job (version 1): what SQLAlchemyJobStore would pickle for add_job.
    Every hub job coalesces missed runs into one and never overlaps itself."""
    return {
        "version": 1,
        "id": job_id,
        "func": func_ref,
        "trigger": trigger,
        "executor": EXECUTOR,
        "args": tuple(args),
        "kwargs": kwargs,
        "name": description,
        "misfire_grace_time": misfire_grace_seconds,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": next_run_time,
    }


async def save_job(session: AsyncSession, state: Mapping[str, Any]) -> None:
    """Insert the job, or replace the one with the same id (scheduling again is idempotent)."""
    next_run_time = state["next_run_time"]
    values = {
        "id": state["id"],
        "next_run_time": next_run_time.timestamp() if next_run_time is not None else None,
        "job_state": pickle.dumps(dict(state), pickle.HIGHEST_PROTOCOL),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(jobs_table).values(values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_={"next_run_time": insert.excluded.next_run_time, "job_state": insert.excluded.job_state},
        )
    )


async def delete_job(session: AsyncSession, job_id: str) -> bool:
    """Remove the job; False when there was none. A fire already under way still finishes."""
    result = await session.execute(delete(jobs_table).where(jobs_table.c.id == job_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def load_jobs(session: AsyncSession, job_id: str | None = None) -> list[ScheduledJob]:
    """Every stored job (or the one with ``job_id``), soonest first; paused jobs last."""
    query = select(jobs_table.c.job_state).order_by(
        jobs_table.c.next_run_time.is_(None), jobs_table.c.next_run_time, jobs_table.c.id
    )
    if job_id is not None:
        query = query.where(jobs_table.c.id == job_id)
    jobs = []
    for (blob,) in await session.execute(query):
        # Our own rows, written by save_job or the leader's job store: trusted like the database.
        state = pickle.loads(blob)
        jobs.append(
            ScheduledJob(
                id=state["id"],
                func_ref=state["func"],
                args=list(state["args"]),
                kwargs=dict(state["kwargs"]),
                schedule=state["name"],
                next_run_time=state["next_run_time"],
                misfire_grace_seconds=state["misfire_grace_time"],
            )
        )
    return jobs
