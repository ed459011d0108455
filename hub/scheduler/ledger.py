"""The fire-once ledger (``schedule_fires``): one row per (job, scheduled time).

A fire goes through two steps:

1. **reserve** — the leader inserts the row as ``due`` (ON CONFLICT DO NOTHING) *before* APScheduler
   moves the job to its next time or deletes a one-off job. A leader that dies after that point
   leaves a ``due`` row with everything needed to run the fire, which the next leader recovers.
2. **claim** — inside the transaction that does the job's work, ``due`` becomes ``done`` with a
   conditional UPDATE. The work and the claim commit together or not at all, so a fire whose work
   committed is never run again, and two leaders racing for one fire (a failover, a recovery) find
   exactly one winner: on PostgreSQL the second UPDATE waits for the first transaction's row lock
   and then matches nothing; on SQLite writers are serialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Insert, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.scheduler.tables import FireState, fires_table

# Error texts are for people reading the ledger; a traceback belongs in the log.
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class ReservedFire:
    """One scheduled run of a job: which, when it was due, and what to call."""

    job_id: str
    fire_time: datetime  # the scheduled time (UTC), not when it actually ran
    func_ref: str
    args: list[Any]
    kwargs: dict[str, Any]
    misfire_grace_seconds: float | None

    @property
    def key(self) -> tuple[str, datetime]:
        return self.job_id, self.fire_time


@dataclass(frozen=True)
class FireRecord:
    """A ledger row as read back (history, tests, operators)."""

    job_id: str
    fire_time: datetime
    state: FireState
    reserved_at: datetime
    finished_at: datetime | None
    error: str | None


def reserve_statement(dialect: str, fire: ReservedFire, state: FireState, now: datetime) -> Insert:
    """Insert the fire unless it is already in the ledger (a second leader, a retried submit)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(fires_table)
        .values(
            job_id=fire.job_id,
            fire_time=fire.fire_time.astimezone(UTC),
            state=state,
            func_ref=fire.func_ref,
            arguments={"args": fire.args, "kwargs": fire.kwargs},
            misfire_grace_seconds=fire.misfire_grace_seconds,
            reserved_at=now,
            finished_at=now if state is not FireState.DUE else None,
        )
        .on_conflict_do_nothing(index_elements=["job_id", "fire_time"])
    )


def reserve(engine: Engine, fire: ReservedFire, state: FireState = FireState.DUE) -> None:
    """Synchronous reserve, for the leader's scheduler thread (APScheduler's loop is synchronous)."""
    with engine.begin() as connection:
        connection.execute(reserve_statement(engine.dialect.name, fire, state, datetime.now(UTC)))


async def claim(session: AsyncSession, fire: ReservedFire) -> bool:
    """Mark the fire done in the caller's transaction; False when it is not ``due`` any more (already
    run, missed, failed). Commit the job's work in this same transaction."""
    return await settle(session, fire, FireState.DONE)


async def settle(
    session: AsyncSession, fire: ReservedFire, state: FireState, error: str | None = None
) -> bool:
    """Move a ``due`` fire to its final state; False when something else settled it first."""
    result = await session.execute(
        update(fires_table)
        .where(
            fires_table.c.job_id == fire.job_id,
            fires_table.c.fire_time == fire.fire_time.astimezone(UTC),
            fires_table.c.state == FireState.DUE,
        )
        .values(state=state, finished_at=datetime.now(UTC), error=error and error[:MAX_ERROR_LENGTH])
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def due_fires(session: AsyncSession, reserved_before: datetime) -> list[ReservedFire]:
    """Fires reserved before ``reserved_before`` but not run: left by a leader that died, or by a run
    that could not even record its failure. Oldest first."""
    rows = await session.execute(
        select(
            fires_table.c.job_id,
            fires_table.c.fire_time,
            fires_table.c.func_ref,
            fires_table.c.arguments,
            fires_table.c.misfire_grace_seconds,
        )
        .where(fires_table.c.state == FireState.DUE, fires_table.c.reserved_at < reserved_before)
        .order_by(fires_table.c.fire_time)
    )
    return [
        ReservedFire(
            job_id=row.job_id,
            fire_time=row.fire_time,
            func_ref=row.func_ref,
            args=list(row.arguments["args"]),
            kwargs=dict(row.arguments["kwargs"]),
            misfire_grace_seconds=row.misfire_grace_seconds,
        )
        for row in rows
    ]


async def history(session: AsyncSession, job_id: str, limit: int = 100) -> list[FireRecord]:
    """The job's most recent fires, newest first."""
    rows = await session.execute(
        select(fires_table)
        .where(fires_table.c.job_id == job_id)
        .order_by(fires_table.c.fire_time.desc())
        .limit(limit)
    )
    return [
        FireRecord(
            job_id=row.job_id,
            fire_time=row.fire_time,
            state=FireState(row.state),
            reserved_at=row.reserved_at,
            finished_at=row.finished_at,
            error=row.error,
        )
        for row in rows
    ]


async def prune(session: AsyncSession, keep: timedelta, now: datetime | None = None) -> int:
    """Delete settled fires older than ``keep``; ``due`` rows stay whatever their age (they are work)."""
    cutoff = (now or datetime.now(UTC)) - keep
    result = await session.execute(
        delete(fires_table).where(fires_table.c.fire_time < cutoff, fires_table.c.state != FireState.DUE)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
