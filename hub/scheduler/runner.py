"""Running one fire: the job's work and its ledger claim in one transaction.

The job function gets a ``Fire``: the transaction to work in (``fire.session``), when it was due,
and the hub's context. It must not open another ``Database.transaction()`` (on SQLite the process's
writes queue on one lock, which this fire already holds); live events go out through
``fire.after_commit``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from apscheduler.util import ref_to_obj
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.scheduler import ledger
from hub.scheduler.ledger import ReservedFire
from hub.scheduler.tables import FireState

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None] | None]


class FireOutcome(StrEnum):
    RAN = "ran"
    ALREADY_FIRED = "already_fired"  # another run (another leader, a recovery) settled it first
    MISSED = "missed"  # later than its misfire grace time
    FAILED = "failed"  # the job raised; its work was rolled back


@dataclass
class Fire:
    """What a job function receives as its first argument."""

    job_id: str
    fire_time: datetime  # when it was scheduled (UTC); the same on every leader, unlike "now"
    session: AsyncSession  # the fire's transaction: the job's writes commit with the claim
    context: Any  # whatever the hub gave the scheduler (the Hub itself)
    _after_commit: list[AfterCommit] = field(default_factory=list, repr=False)

    def after_commit(self, callback: AfterCommit) -> None:
        """Call ``callback`` once the fire's transaction committed (publish live events here)."""
        self._after_commit.append(callback)


class FireRunner:
    def __init__(self, db: Database, context: Any = None) -> None:
        self.db = db
        self.context = context
        self._in_flight: set[tuple[str, datetime]] = set()

    def in_flight(self, fire: ReservedFire) -> bool:
        return fire.key in self._in_flight

    async def run(self, fire: ReservedFire) -> FireOutcome:
        """Run a reserved fire unless it is too late or already settled. Never raises for the job's
        own errors (they are recorded as ``failed``); a database failure propagates and leaves the
        fire ``due`` for recovery."""
        self._in_flight.add(fire.key)
        try:
            return await self._run(fire, datetime.now(UTC))
        finally:
            self._in_flight.discard(fire.key)

    async def _run(self, fire: ReservedFire, now: datetime) -> FireOutcome:
        grace = fire.misfire_grace_seconds
        if grace is not None and now - fire.fire_time > timedelta(seconds=grace):
            async with self.db.transaction() as session:
                await ledger.settle(session, fire, FireState.MISSED)
            log.warning(
                "job %s missed its %s run by %s (grace %s s)",
                fire.job_id,
                fire.fire_time,
                now - fire.fire_time,
                grace,
            )
            return FireOutcome.MISSED
        callbacks: list[AfterCommit] = []
        started = False  # errors before the job is called are the database's: the fire stays due
        try:
            async with self.db.transaction() as session:
                if not await ledger.claim(session, fire):
                    log.info("job %s: its %s run was already settled; skipped", fire.job_id, fire.fire_time)
                    return FireOutcome.ALREADY_FIRED
                started = True
                func = ref_to_obj(fire.func_ref)
                context = Fire(fire.job_id, fire.fire_time, session, self.context, callbacks)
                await func(context, *fire.args, **fire.kwargs)
        except Exception as exc:
            if not started:
                raise
            log.exception("job %s (%s) failed in its %s run", fire.job_id, fire.func_ref, fire.fire_time)
            async with self.db.transaction() as session:
                await ledger.settle(session, fire, FireState.FAILED, f"{type(exc).__name__}: {exc}")
            return FireOutcome.FAILED
        for callback in callbacks:
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("job %s: an after-commit callback failed", fire.job_id)
        return FireOutcome.RAN

    async def recover(self, reserved_before: datetime) -> int:
        """Run every ``due`` fire reserved before ``reserved_before`` that nobody in this process is
        running (a previous leader died between reserving and committing). Returns how many."""
        async with self.db.session() as session:
            fires = await ledger.due_fires(session, reserved_before)
        count = 0
        for fire in fires:
            if self.in_flight(fire):
                continue
            log.warning(
                "recovering job %s's %s run, left unfinished by a previous leader",
                fire.job_id,
                fire.fire_time,
            )
            await self.run(fire)
            count += 1
        return count
