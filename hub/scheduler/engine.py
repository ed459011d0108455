"""The leader's APScheduler: finds due jobs in ``scheduler_jobs``, reserves each fire in the ledger,
hands it to the hub's event loop, and moves the job to its next time.

APScheduler 3's job stores are synchronous. With AsyncIOScheduler every job-store query would run on
the hub's event loop, and on SQLite a store write waiting for the write lock that one of the hub's
own transactions holds would block the very loop that transaction needs to finish — a stall until
the busy timeout. So the scheduler's own loop runs in a thread (BackgroundScheduler) with a sync
engine on the same database, and only the jobs run on the hub's event loop, through
``LoopExecutor``.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.base import BaseExecutor, MaxInstancesReachedError
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.engine import make_url

from hub.scheduler import ledger
from hub.scheduler.jobs import EXECUTOR
from hub.scheduler.ledger import ReservedFire
from hub.scheduler.tables import JOBS_TABLE, FireState

log = logging.getLogger(__name__)


def sync_url(database_url: str) -> str:
    """The hub's async URL with a synchronous driver: stdlib sqlite3, or psycopg for PostgreSQL."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite")
    elif backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"unsupported database {backend!r} for the scheduler: use SQLite or PostgreSQL")
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # wait for the hub's writers instead of failing
    cursor.close()


def sync_engine(database_url: str) -> Engine:
    url = sync_url(database_url)
    if url.startswith("sqlite"):
        # Used from the scheduler thread and disposed from the event loop's thread.
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)


class ReservationFailed(RuntimeError):
    pass


class HubJobStore(SQLAlchemyJobStore):
    """SQLAlchemyJobStore that leaves alone a job changed by another process while it fired.

    Between reading a due job and writing back its next run time (or deleting a one-off job), any
    process may replace or cancel that job through ``scheduler_jobs``. The stock store would write
    the stale job over the replacement (or raise, killing the scheduler thread, when it was
    cancelled). Here the write-back only applies to the row as it was read.
    """

    def __init__(self, engine: Engine, unreserved: set[str]) -> None:
        super().__init__(engine=engine, tablename=JOBS_TABLE)
        self._read_as: dict[str, bytes] = {}
        self._unreserved = unreserved

    def _check_reserved(self, job_id: str) -> None:
        # APScheduler moves a job on even when submitting it failed. If the fire could not be
        # reserved, moving on would lose it: fail the round instead, so it is retried.
        if job_id in self._unreserved:
            self._unreserved.discard(job_id)
            raise ReservationFailed(f"job {job_id}: its fire could not be recorded; retrying the round")

    def _reconstitute_job(self, job_state: bytes) -> Job:
        job = super()._reconstitute_job(job_state)
        self._read_as[job.id] = job_state
        return job

    def update_job(self, job: Job) -> None:
        self._check_reserved(job.id)
        read_as = self._read_as.pop(job.id, None)
        blob = pickle.dumps(job.__getstate__(), self.pickle_protocol)
        condition = self.jobs_t.c.id == job.id
        if read_as is not None:
            condition &= self.jobs_t.c.job_state == read_as
        with self.engine.begin() as connection:
            result = connection.execute(
                update(self.jobs_t)
                .where(condition)
                .values(
                    next_run_time=job.next_run_time.timestamp() if job.next_run_time else None, job_state=blob
                )
            )
        if result.rowcount == 0:
            log.info("job %s was replaced or cancelled while it fired; keeping that change", job.id)

    def remove_job(self, job_id: str) -> None:
        self._check_reserved(job_id)
        read_as = self._read_as.pop(job_id, None)
        condition = self.jobs_t.c.id == job_id
        if read_as is not None:
            condition &= self.jobs_t.c.job_state == read_as
        with self.engine.begin() as connection:
            connection.execute(self.jobs_t.delete().where(condition))


class LoopExecutor(BaseExecutor):
    """Reserves each fire (synchronously, in the scheduler thread, before APScheduler moves the job
    on) and runs it on the hub's event loop."""

    def __init__(
        self,
        engine: Engine,
        loop: asyncio.AbstractEventLoop,
        run: Callable[[ReservedFire], Coroutine[Any, Any, Any]],
        unreserved: set[str],
    ) -> None:
        super().__init__()
        self._engine = engine
        self._unreserved = unreserved
        self._loop = loop
        self._run = run

    def submit_job(self, job: Job, run_times: list[datetime]) -> None:
        try:
            super().submit_job(job, run_times)
        except MaxInstancesReachedError:
            # The previous fire still runs: record that this one was skipped, then let APScheduler
            # move the job on as it does.
            try:
                for fire in _fires(job, run_times):
                    ledger.reserve(self._engine, fire, FireState.SKIPPED)
            except Exception:
                log.exception("job %s: could not record its skipped fire", job.id)
            raise

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        fires = _fires(job, run_times)
        try:
            for fire in fires:
                ledger.reserve(self._engine, fire)
        except Exception:
            self._unreserved.add(job.id)
            raise
        self._loop.call_soon_threadsafe(self._start, job.id, fires)

    def _start(self, job_id: str, fires: list[ReservedFire]) -> None:
        task = self._loop.create_task(self._run_all(fires), name=f"scheduled-job-{job_id}")
        task.add_done_callback(lambda done: self._finished(job_id, done))

    async def _run_all(self, fires: list[ReservedFire]) -> None:
        for fire in fires:  # one with coalescing, which every hub job has
            await self._run(fire)

    def _finished(self, job_id: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            self._run_job_success(job_id, [])
        elif (exc := task.exception()) is not None:
            self._run_job_error(job_id, exc, exc.__traceback__)
        else:
            self._run_job_success(job_id, [])


class LeaderScheduler(BackgroundScheduler):
    """BackgroundScheduler whose loop survives a failing round (a database that went away) and
    retries after ``jobstore_retry_interval`` instead of ending its thread."""

    def _process_jobs(self) -> float | None:
        try:
            return super()._process_jobs()  # type: ignore[no-any-return]
        except Exception:
            log.exception("scheduler round failed; retrying in %s s", self.jobstore_retry_interval)
            return float(self.jobstore_retry_interval)


def _fires(job: Job, run_times: list[datetime]) -> list[ReservedFire]:
    return [
        ReservedFire(
            job_id=job.id,
            fire_time=run_time.astimezone(UTC),
            func_ref=job.func_ref,
            args=list(job.args),
            kwargs=dict(job.kwargs),
            misfire_grace_seconds=job.misfire_grace_time,
        )
        for run_time in run_times
    ]


def build_leader_scheduler(
    engine: Engine,
    loop: asyncio.AbstractEventLoop,
    run: Callable[[ReservedFire], Coroutine[Any, Any, Any]],
    retry_seconds: float,
) -> LeaderScheduler:
    unreserved: set[str] = set()  # shared: the executor notes failures, the store acts on them
    return LeaderScheduler(
        jobstores={"default": HubJobStore(engine, unreserved)},
        executors={EXECUTOR: LoopExecutor(engine, loop, run, unreserved)},
        timezone=UTC,
        jobstore_retry_interval=retry_seconds,
        daemon=True,
    )
