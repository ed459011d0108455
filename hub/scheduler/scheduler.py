"""HubScheduler: scheduled and recurring jobs that survive restarts and fire once.

Every process may schedule, replace and cancel jobs (they are rows of ``scheduler_jobs``, written in
the caller's transaction). Processes that ``start()`` the scheduler are candidates; exactly one of
them — the holder of the leader lock — runs due jobs. See "Scheduling" in docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.date import DateTrigger
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.scheduler import jobs as store
from hub.scheduler import ledger
from hub.scheduler.cron import InvalidSchedule, cron_trigger, zone
from hub.scheduler.engine import LeaderScheduler, build_leader_scheduler, sync_engine
from hub.scheduler.jobs import ScheduledJob
from hub.scheduler.leader import LeaderLock, leader_lock
from hub.scheduler.ledger import FireRecord
from hub.scheduler.runner import FireRunner

log = logging.getLogger(__name__)

DEFAULT_MISFIRE_GRACE_SECONDS = 3600
PRUNE_EVERY_SECONDS = 6 * 3600
RECOVER_EVERY_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class HubScheduler:
    """Schedule jobs from any process; run them in the one leader.

    ``misfire_grace_seconds``: a fire that could not run on time (the hub was down, no leader yet)
    still runs once if it is at most this late, else it is recorded as missed. ``poll_seconds``: how
    often the leader re-reads the job store for jobs other processes wrote (their pick-up latency)
    and checks that it still holds the lock. ``election_seconds``: how often a non-leader tries to
    take over. ``keep_fires``: how long settled fires stay in the ledger.
    """

    def __init__(
        self,
        db: Database,
        *,
        context: Any = None,
        misfire_grace_seconds: int = DEFAULT_MISFIRE_GRACE_SECONDS,
        poll_seconds: float = 2.0,
        election_seconds: float = 5.0,
        keep_fires: timedelta = timedelta(days=30),
    ) -> None:
        _check_grace(misfire_grace_seconds, keep_fires)
        if poll_seconds <= 0 or election_seconds <= 0:
            raise ValueError("poll_seconds and election_seconds must be positive")
        self.db = db
        self.runner = FireRunner(db, context)
        self.misfire_grace_seconds = misfire_grace_seconds
        self.poll_seconds = poll_seconds
        self.election_seconds = election_seconds
        self.keep_fires = keep_fires
        self._lock: LeaderLock | None = None  # made on start(): processes that only schedule need none
        self._aps: LeaderScheduler | None = None
        self._election: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._leading_since: datetime | None = None
        self._last_recovery: float | None = None
        self._last_prune: float | None = None
        self._fire_tasks: set[asyncio.Task[Any]] = set()

    @property
    def context(self) -> Any:
        """Handed to every job as ``fire.context`` (the hub sets it to itself)."""
        return self.runner.context

    @context.setter
    def context(self, value: Any) -> None:
        self.runner.context = value

    @property
    def is_leader(self) -> bool:
        return self._aps is not None

    # Scheduling: any process, in the caller's transaction or one of its own.

    async def schedule_cron(
        self,
        job_id: str,
        func_ref: str,
        *,
        cron: str,
        timezone: str = "UTC",
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        start_at: datetime | None = None,
        misfire_grace_seconds: int | None = None,
        session: AsyncSession | None = None,
    ) -> ScheduledJob:
        """Run ``func_ref`` at every time of the crontab expression ``cron`` (five fields, read in
        ``timezone``; 0 and 7 are Sunday), from ``start_at`` (default now) on. Replaces any job with
        the same id."""
        trigger = cron_trigger(cron, timezone)
        start = _aware(start_at, "start_at") if start_at is not None else datetime.now(UTC)
        first = trigger.get_next_fire_time(None, start)
        if first is None:
            raise InvalidSchedule(f"cron {cron!r}: never fires (no such date)")
        description = f"cron {cron!r} in {zone(timezone)}"
        return await self._save(
            job_id, func_ref, trigger, description, first, args, kwargs, misfire_grace_seconds, session
        )

    async def schedule_at(
        self,
        job_id: str,
        func_ref: str,
        run_at: datetime,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        misfire_grace_seconds: int | None = None,
        session: AsyncSession | None = None,
    ) -> ScheduledJob:
        """Run ``func_ref`` once at ``run_at`` (timezone-aware; a time in the past runs at once if
        within the grace time). Replaces any job with the same id."""
        when = _aware(run_at, "run_at").astimezone(UTC)
        trigger = DateTrigger(run_date=when, timezone=UTC)
        description = f"once at {when.isoformat()}"
        return await self._save(
            job_id, func_ref, trigger, description, when, args, kwargs, misfire_grace_seconds, session
        )

    async def cancel(self, job_id: str, *, session: AsyncSession | None = None) -> bool:
        """Remove the job; False when there was none. A fire already under way finishes."""
        async with self._transaction(session) as s:
            return await store.delete_job(s, job_id)

    async def jobs(self) -> list[ScheduledJob]:
        """Every scheduled job, soonest first."""
        async with self.db.session() as session:
            return await store.load_jobs(session)

    async def job(self, job_id: str) -> ScheduledJob | None:
        async with self.db.session() as session:
            found = await store.load_jobs(session, job_id)
        return found[0] if found else None

    async def history(self, job_id: str, limit: int = 100) -> list[FireRecord]:
        """The job's recent fires from the ledger (done, failed, missed, skipped, due), newest first."""
        async with self.db.session() as session:
            return await ledger.history(session, job_id, limit)

    async def _save(
        self,
        job_id: str,
        func_ref: str,
        trigger: Any,
        description: str,
        next_run_time: datetime | None,
        args: Sequence[Any],
        kwargs: Mapping[str, Any] | None,
        misfire_grace_seconds: int | None,
        session: AsyncSession | None,
    ) -> ScheduledJob:
        store.check_job_id(job_id)
        func = store.resolve_job_function(func_ref)
        plain_args, plain_kwargs = store.check_arguments(func_ref, func, args, kwargs or {})
        grace = self.misfire_grace_seconds if misfire_grace_seconds is None else misfire_grace_seconds
        _check_grace(grace, self.keep_fires)
        state = store.job_state(
            job_id=job_id,
            func_ref=func_ref,
            trigger=trigger,
            args=plain_args,
            kwargs=plain_kwargs,
            description=description,
            next_run_time=next_run_time,
            misfire_grace_seconds=grace,
        )
        async with self._transaction(session) as s:
            await store.save_job(s, state)
        return ScheduledJob(job_id, func_ref, plain_args, plain_kwargs, description, next_run_time, grace)

    @asynccontextmanager
    async def _transaction(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        if session is not None:
            # The leader in this process looks at the store again once the caller commits.
            event.listen(session.sync_session, "after_commit", lambda _session: self._wake(), once=True)
            yield session
            return
        async with self.db.transaction() as own:
            yield own
        self._wake()

    def _wake(self) -> None:
        if self._aps is not None:
            self._aps.wakeup()  # thread-safe: sets the scheduler thread's event

    # Running: candidates for leadership.

    def start(self) -> None:
        """Become a candidate (call from the running event loop): take the leader lock now or
        whenever it is free, and while holding it run due jobs."""
        if self._election is None:
            self._lock = self._lock or leader_lock(self.db.url)
            self._election = asyncio.create_task(self._elect(self._lock), name="scheduler-election")

    async def stop(self) -> None:
        """Stop running jobs and leave the leadership; fires under way get STOP_TIMEOUT_SECONDS to
        finish, then are cancelled (rolled back, so still due for the next leader)."""
        if self._election is not None:
            self._election.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._election
            self._election = None
        await self._step_down()
        if self._fire_tasks:
            _, pending = await asyncio.wait(self._fire_tasks, timeout=STOP_TIMEOUT_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._lock is not None:
            await self._lock.release()

    async def _elect(self, lock: LeaderLock) -> None:
        while True:
            try:
                if self._aps is None:
                    if await lock.try_acquire():
                        await self._lead(lock)
                elif not await lock.still_held():
                    log.warning("scheduler: lost the leader lock; no longer running jobs")
                    await self._step_down()
                else:
                    self._wake()  # jobs written by other processes are only seen when we look
                    await self._housekeeping()
            except Exception:
                log.exception("scheduler election round failed")
            await asyncio.sleep(self.poll_seconds if self._aps is not None else self.election_seconds)

    async def _lead(self, lock: LeaderLock) -> None:
        loop = asyncio.get_running_loop()
        aps = build_leader_scheduler(sync_engine(self.db.url), loop, self._run_fire, self.poll_seconds)
        # start() creates the job table if missing and reads the store: blocking I/O, off the loop.
        # It runs to its end even if we are cancelled meanwhile, and then must be shut down again.
        starting = asyncio.ensure_future(asyncio.to_thread(aps.start))
        try:
            await asyncio.shield(starting)
        except BaseException:
            with contextlib.suppress(Exception):
                await starting
                await asyncio.to_thread(aps.shutdown, False)
            await lock.release()
            raise
        self._aps = aps
        self._leading_since = datetime.now(UTC)
        self._last_recovery = None  # a previous leader may have left fires half done: look now
        log.info("scheduler: this process is the leader and runs due jobs")
        await self._housekeeping()

    async def _step_down(self) -> None:
        aps, self._aps = self._aps, None
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
            self._recovery = None
        if aps is not None:
            await asyncio.to_thread(aps.shutdown, False)  # joins the scheduler thread

    async def _run_fire(self, fire: ledger.ReservedFire) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._fire_tasks.add(task)
            task.add_done_callback(self._fire_tasks.discard)
        await self.runner.run(fire)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        recovering = self._recovery is not None and not self._recovery.done()
        if not recovering and (
            self._last_recovery is None or now - self._last_recovery >= RECOVER_EVERY_SECONDS
        ):
            self._last_recovery = now
            # Fires reserved before we led are a previous leader's; our own count as stuck only
            # after a while (a fresh reservation is about to run).
            since = self._leading_since or datetime.now(UTC)
            reserved_before = max(since, datetime.now(UTC) - timedelta(seconds=RECOVER_EVERY_SECONDS))
            self._recovery = asyncio.create_task(self._recover(reserved_before), name="scheduler-recovery")
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            async with self.db.transaction() as session:
                pruned = await ledger.prune(session, self.keep_fires)
            if pruned:
                log.info("scheduler: pruned %d fires older than %s", pruned, self.keep_fires)

    async def _recover(self, reserved_before: datetime) -> None:
        try:
            await self.runner.recover(reserved_before)
        except Exception:
            # The fires stay due; the next round (RECOVER_EVERY_SECONDS) tries again.
            log.exception("scheduler: recovering unfinished fires failed")


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSchedule(f"{name} {value!r}: give a timezone-aware datetime")
    return value


def _check_grace(grace: int, keep_fires: timedelta) -> None:
    if not isinstance(grace, int) or grace <= 0:
        raise InvalidSchedule(f"misfire grace {grace!r}: must be a positive whole number of seconds")
    # A fire is recognised as done only while its ledger row exists.
    if timedelta(seconds=grace) >= keep_fires:
        raise InvalidSchedule(
            f"misfire grace {grace} s: must be shorter than the fire history kept ({keep_fires})"
        )
