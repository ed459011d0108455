"""The hub scheduler on SQLite and PostgreSQL: jobs fire at their times, survive restarts, run in one
leader, and each fire happens once — also across a failover (two real processes, one SIGKILLed).

Until the scheduler's migration is enabled, the tests create its two tables on the migrated database
themselves (``scheduler_tables``); test_the_migration_creates_these_tables checks the migration
script against the same table definitions.

Run as ``python -m tests.hub.test_scheduler DATABASE_URL NAME`` this module is a scheduler process
(a leader candidate) for the multi-process test.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, func, insert, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from crm_core.columns import UTCDateTime
from hub.db import Database
from hub.scheduler import (
    Fire,
    FireOutcome,
    FireState,
    HubScheduler,
    InvalidSchedule,
    ReservedFire,
    next_fire_times,
    scheduler_metadata,
)
from hub.scheduler.ledger import prune, reserve_statement
from hub.scheduler.tables import FIRES_TABLE, JOBS_TABLE, fires_table

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "hub" / "migrations" / "versions"
HERE = "tests.hub.test_scheduler"

# What the test jobs did, written in the fire's own transaction.
runs_metadata = MetaData()
runs_table = Table(
    "scheduler_test_runs",
    runs_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(191), nullable=False),
    Column("fire_time", UTCDateTime(timezone=True), nullable=False),
    Column("runner", String(50), nullable=False),
    Column("note", String(100), nullable=False),
)


# Job functions (module level, referenced by name as any hub job is).


async def record_run(fire: Fire, note: str = "") -> None:
    await fire.session.execute(
        insert(runs_table).values(
            job_id=fire.job_id, fire_time=fire.fire_time, runner=str(fire.context), note=note
        )
    )


async def slow_run(fire: Fire, seconds: float) -> None:
    await record_run(fire, "slow")
    await asyncio.sleep(seconds)  # inside the fire's transaction: not committed yet


async def failing_job(fire: Fire) -> None:
    await record_run(fire, "written before the failure")
    raise RuntimeError("the order system is down")


async def record_after_commit(fire: Fire, marker: str) -> None:
    await record_run(fire)
    fire.after_commit(lambda: Path(marker).write_text(fire.job_id))


def not_a_coroutine(fire: Fire) -> None:
    pass


# Fixtures and helpers.


async def create_scheduler_tables(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(scheduler_metadata.create_all)
            await connection.run_sync(runs_metadata.create_all)
    finally:
        await engine.dispose()
    # What a starting hub does first (its schema check): on SQLite this switches the file to WAL
    # before the schedulers under test open their connections.
    db = Database(url)
    await db.ping()
    await db.dispose()


@pytest.fixture
async def scheduler_tables(database_url: str) -> str:
    await create_scheduler_tables(database_url)
    return database_url


SchedulerFactory = Callable[..., Awaitable[HubScheduler]]


@pytest.fixture
async def make_scheduler(scheduler_tables: str) -> AsyncIterator[SchedulerFactory]:
    """Schedulers as separate processes would have them: each with its own Database."""
    made: list[HubScheduler] = []

    async def factory(name: str = "a", *, start: bool = True, **options: Any) -> HubScheduler:
        options.setdefault("poll_seconds", 0.1)
        options.setdefault("election_seconds", 0.2)
        scheduler = HubScheduler(Database(scheduler_tables), context=name, **options)
        made.append(scheduler)
        if start:
            scheduler.start()
        return scheduler

    yield factory
    for scheduler in made:
        await scheduler.stop()
        await scheduler.db.dispose()


async def runs(db: Database) -> list[Any]:
    async with db.session() as session:
        result = await session.execute(select(runs_table).order_by(runs_table.c.fire_time, runs_table.c.id))
        return list(result)


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


async def wait_for_runs(db: Database, count: int, seconds: float = 20.0) -> list[Any]:
    async def enough() -> bool:
        return len(await runs(db)) >= count

    await wait_for(enough, f"{count} run(s)", seconds)
    return await runs(db)


async def wait_for_leader(*schedulers: HubScheduler) -> HubScheduler:
    async def one() -> bool:
        return sum(s.is_leader for s in schedulers) == 1

    await wait_for(one, "exactly one leader", 10)
    return next(s for s in schedulers if s.is_leader)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# Scheduling.


class TestScheduleAt:
    async def test_runs_once_at_its_time(self, make_scheduler: SchedulerFactory) -> None:
        scheduler = await make_scheduler()
        run_at = soon(0.5)
        job = await scheduler.schedule_at("reminder:1", f"{HERE}:record_run", run_at, args=["hello"])
        assert job.next_run_time == run_at
        assert len(await runs(scheduler.db)) == 0

        [run] = await wait_for_runs(scheduler.db, 1)
        assert (run.job_id, run.fire_time, run.note) == ("reminder:1", run_at, "hello")
        assert datetime.now(UTC) >= run_at
        await asyncio.sleep(0.5)
        assert len(await runs(scheduler.db)) == 1
        assert await scheduler.job("reminder:1") is None  # a one-off job is gone once it fired
        [fire] = await scheduler.history("reminder:1")
        assert (fire.fire_time, fire.state) == (run_at, FireState.DONE)

    async def test_a_job_written_by_another_process_is_picked_up(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        leader = await make_scheduler("leader", poll_seconds=0.3)
        await wait_for_leader(leader)
        web = await make_scheduler("web", start=False)  # schedules, never runs jobs
        written = time.monotonic()
        await web.schedule_at("from-web", f"{HERE}:record_run", datetime.now(UTC))
        [run] = await wait_for_runs(leader.db, 1)
        assert run.runner == "leader"
        # Other processes' jobs are seen at the leader's next poll.
        assert time.monotonic() - written < 0.3 + 2.0

    async def test_scheduling_again_replaces_the_job(self, make_scheduler: SchedulerFactory) -> None:
        scheduler = await make_scheduler(start=False)
        await scheduler.schedule_at("campaign:7", f"{HERE}:record_run", soon(3600), args=["first"])
        later = soon(7200)
        await scheduler.schedule_at("campaign:7", f"{HERE}:record_run", later, args=["second"])
        [job] = await scheduler.jobs()
        assert (job.id, job.args, job.next_run_time) == ("campaign:7", ["second"], later)

    async def test_a_cancelled_job_never_runs(self, make_scheduler: SchedulerFactory) -> None:
        scheduler = await make_scheduler()
        await scheduler.schedule_at("cancel-me", f"{HERE}:record_run", soon(0.6))
        assert await scheduler.cancel("cancel-me") is True
        assert await scheduler.cancel("cancel-me") is False
        await asyncio.sleep(1.2)
        assert await runs(scheduler.db) == []
        assert await scheduler.history("cancel-me") == []

    async def test_scheduling_commits_or_rolls_back_with_the_callers_transaction(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        scheduler = await make_scheduler()
        await wait_for_leader(scheduler)
        with pytest.raises(RuntimeError, match="campaign rejected"):
            async with scheduler.db.transaction() as session:
                await scheduler.schedule_at("rolled-back", f"{HERE}:record_run", soon(0.2), session=session)
                raise RuntimeError("campaign rejected")
        # On SQLite this also shows no second connection waits for the lock the caller holds.
        async with scheduler.db.transaction() as session:
            await scheduler.schedule_at("committed", f"{HERE}:record_run", soon(0.2), session=session)
        [run] = await wait_for_runs(scheduler.db, 1)
        assert run.job_id == "committed"
        assert [job.id for job in await scheduler.jobs()] == []

    async def test_after_commit_callbacks_run_once_committed(
        self, make_scheduler: SchedulerFactory, tmp_path: Path
    ) -> None:
        scheduler = await make_scheduler()
        marker = tmp_path / "published"
        await scheduler.schedule_at("publish", f"{HERE}:record_after_commit", soon(0.1), args=[str(marker)])
        await wait_for_runs(scheduler.db, 1)

        async def published() -> bool:
            return marker.exists()

        await wait_for(published, "the after-commit callback")
        assert marker.read_text() == "publish"


class TestCron:
    async def test_fires_at_its_time_and_waits_for_the_next(self, make_scheduler: SchedulerFactory) -> None:
        # Every minute, starting ten minutes ago: the missed fires coalesce into one run now, at the
        # latest minute, and the job waits for the next minute.
        scheduler = await make_scheduler()
        await scheduler.schedule_cron(
            "every-minute",
            f"{HERE}:record_run",
            cron="* * * * *",
            start_at=datetime.now(UTC) - timedelta(minutes=10),
        )
        [run] = await wait_for_runs(scheduler.db, 1)
        now = datetime.now(UTC)
        assert (run.fire_time.second, run.fire_time.microsecond) == (0, 0)
        assert now - timedelta(minutes=1) < run.fire_time <= now
        job = await scheduler.job("every-minute")
        assert job is not None
        assert job.next_run_time == run.fire_time + timedelta(minutes=1)
        assert job.schedule == "cron '* * * * *' in UTC"
        await asyncio.sleep(0.5)
        assert len(await runs(scheduler.db)) == 1

    async def test_a_fire_later_than_the_grace_time_is_recorded_as_missed(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        scheduler = await make_scheduler()
        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        await scheduler.schedule_at("late", f"{HERE}:record_run", two_hours_ago, misfire_grace_seconds=60)
        await scheduler.schedule_at(
            "in-grace", f"{HERE}:record_run", datetime.now(UTC) - timedelta(seconds=30)
        )
        [run] = await wait_for_runs(scheduler.db, 1)
        assert run.job_id == "in-grace"

        async def settled() -> bool:
            return [fire.state for fire in await scheduler.history("late")] == [FireState.MISSED]

        await wait_for(settled, "the late fire to be recorded as missed")
        assert len(await runs(scheduler.db)) == 1


class TestNextFireTimes:
    """What the scheduler computes, with a fixed clock."""

    def test_a_weekly_time_in_a_time_zone_across_the_dst_change(self) -> None:
        # 2026-03-29 is the Sunday Kyiv moves to summer time (UTC+2 -> UTC+3).
        after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
        first, second = next_fire_times("0 10 * * MON", "Europe/Kyiv", after, count=2)
        assert first.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
        assert second.astimezone(UTC) == datetime(2026, 4, 6, 7, 0, tzinfo=UTC)
        [winter] = next_fire_times("0 10 * * MON", "Europe/Kyiv", datetime(2026, 3, 20, tzinfo=UTC))
        assert winter.astimezone(UTC) == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)

    def test_day_numbers_mean_what_they_mean_in_crontab(self) -> None:
        saturday = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
        weekdays = next_fire_times("0 9 * * 1-5", "UTC", saturday, count=5)
        assert [fire.strftime("%a %d") for fire in weekdays] == [
            "Mon 05",
            "Tue 06",
            "Wed 07",
            "Thu 08",
            "Fri 09",
        ]
        for sunday in ("0", "7", "sun", "SUN"):
            [fire] = next_fire_times(f"0 9 * * {sunday}", "UTC", saturday)
            assert fire.strftime("%a") == "Sun", sunday
        every_other = next_fire_times("0 9 * * */2", "UTC", saturday, count=4)
        assert [fire.strftime("%a") for fire in every_other] == ["Sun", "Tue", "Thu", "Sat"]
        friday_to_sunday = next_fire_times("0 9 * * 5-7", "UTC", saturday, count=3)
        assert [fire.strftime("%a") for fire in friday_to_sunday] == ["Sun", "Fri", "Sat"]

    def test_strictly_after_the_given_time(self) -> None:
        at_ten = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
        assert next_fire_times("*/15 * * * *", "UTC", at_ten, count=2) == [
            at_ten + timedelta(minutes=15),
            at_ten + timedelta(minutes=30),
        ]

    @pytest.mark.parametrize(
        ("cron", "message"),
        [
            ("61 * * * *", "cron '61 * * * *': minute field '61'"),
            ("0 25 * * *", "hour field '25'"),
            ("0 9 32 * *", "day of month field '32'"),
            ("0 9 * 13 *", "month field '13'"),
            ("0 9 * * 8", "day of week field '8'"),
            ("0 9 * * mon-funday", "day of week field 'mon-funday'"),
            ("0 9 * * 5-1", "range '5-1' runs backwards"),
            ("0 9 * *", "expected 5 fields"),
            ("*/0 * * * *", "minute field '*/0'"),
        ],
    )
    def test_a_bad_field_is_named(self, cron: str, message: str) -> None:
        with pytest.raises(InvalidSchedule, match=message.replace("*", r"\*")):
            next_fire_times(cron, "UTC", datetime(2026, 1, 1, tzinfo=UTC))

    def test_an_unknown_time_zone_is_named(self) -> None:
        with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Olympus'"):
            next_fire_times("0 9 * * *", "Mars/Olympus", datetime(2026, 1, 1, tzinfo=UTC))


class TestBadJobs:
    @pytest.fixture
    def scheduler(self, tmp_path: Path) -> HubScheduler:
        return HubScheduler(Database(f"sqlite+aiosqlite:///{tmp_path}/hub.db"))

    @pytest.mark.parametrize(
        ("func_ref", "args", "message"),
        [
            ("tests.hub.no_such_module:job", [], "'tests.hub.no_such_module:job': .*could not import"),
            (f"{HERE}:no_such_job", [], "no_such_job'.*error looking up"),
            (f"{HERE}.record_run", [], "give a reference like"),
            (f"{HERE}:not_a_coroutine", [], "must be an async def function"),
            ("hub.scheduler:HubScheduler", [], "must be an async def function"),
            (f"{HERE}:record_run", [datetime(2026, 1, 1)], "not JSON"),
            (f"{HERE}:record_run", [[1, (2, 3)]], "change through JSON"),
            (f"{HERE}:record_run", ["a", "b"], "does not take these arguments"),
        ],
    )
    async def test_rejected_with_the_reason(
        self, scheduler: HubScheduler, func_ref: str, args: list[Any], message: str
    ) -> None:
        with pytest.raises(InvalidSchedule, match=message):
            await scheduler.schedule_at("job", func_ref, soon(60), args=args)

    async def test_bad_times_and_ids(self, scheduler: HubScheduler) -> None:
        with pytest.raises(InvalidSchedule, match=r"run_at .*timezone-aware"):
            await scheduler.schedule_at("job", f"{HERE}:record_run", datetime(2026, 1, 1, 10, 0))
        with pytest.raises(InvalidSchedule, match=r"start_at .*timezone-aware"):
            await scheduler.schedule_cron(
                "job", f"{HERE}:record_run", cron="0 9 * * *", start_at=datetime(2026, 1, 1)
            )
        with pytest.raises(InvalidSchedule, match="never fires"):
            await scheduler.schedule_cron("job", f"{HERE}:record_run", cron="0 0 30 2 *")
        with pytest.raises(InvalidSchedule, match="longer than 191"):
            await scheduler.schedule_at("x" * 192, f"{HERE}:record_run", soon(60))
        with pytest.raises(InvalidSchedule, match=r"misfire grace .* shorter than"):
            await scheduler.schedule_at(
                "job", f"{HERE}:record_run", soon(60), misfire_grace_seconds=40 * 86400
            )


# Restarts, failover and fire-once.


class TestRestart:
    async def test_a_job_survives_a_restart(self, make_scheduler: SchedulerFactory) -> None:
        first = await make_scheduler("first")
        await wait_for_leader(first)
        run_at = soon(1.5)
        await first.schedule_at("survivor", f"{HERE}:record_run", run_at)
        await first.schedule_cron("weekly", f"{HERE}:record_run", cron="0 10 * * MON", timezone="Europe/Kyiv")
        await first.stop()
        await first.db.dispose()
        assert datetime.now(UTC) < run_at
        assert await runs(first.db) == []

        second = await make_scheduler("second")
        [run] = await wait_for_runs(second.db, 1)
        assert (run.job_id, run.runner, run.fire_time) == ("survivor", "second", run_at)
        [weekly] = await second.jobs()
        assert weekly.id == "weekly"
        assert weekly.next_run_time is not None
        local = weekly.next_run_time.astimezone(ZoneInfo("Europe/Kyiv"))
        assert (local.strftime("%a"), local.hour, local.minute) == ("Mon", 10, 0)


class TestFireOnce:
    async def test_a_fire_that_already_ran_is_skipped(self, make_scheduler: SchedulerFactory) -> None:
        # A failover after the work committed: the new leader runs the same fire again.
        first = await make_scheduler("first")
        run_at = soon(0.2)
        await first.schedule_at("once", f"{HERE}:record_run", run_at, args=["x"])
        await wait_for_runs(first.db, 1)
        second = await make_scheduler("second", start=False)
        again = ReservedFire("once", run_at, f"{HERE}:record_run", ["x"], {}, 3600)
        assert await second.runner.run(again) is FireOutcome.ALREADY_FIRED
        assert await first.runner.run(again) is FireOutcome.ALREADY_FIRED
        assert len(await runs(first.db)) == 1

    async def test_two_leaders_racing_for_one_fire_run_it_once(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        a = await make_scheduler("a", start=False)
        b = await make_scheduler("b", start=False)
        fire = ReservedFire("contested", datetime.now(UTC), f"{HERE}:record_run", [], {}, 3600)
        await reserve(a.db, fire)
        outcomes = await asyncio.gather(a.runner.run(fire), b.runner.run(fire))
        assert sorted(outcomes) == sorted([FireOutcome.RAN, FireOutcome.ALREADY_FIRED])
        assert len(await runs(a.db)) == 1

    async def test_a_fire_left_due_by_a_dead_leader_is_recovered(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        # The dead leader reserved the fire and moved the one-off job on, but never committed.
        dead = await make_scheduler("dead", start=False)
        fire_time = datetime.now(UTC) - timedelta(seconds=5)
        await reserve(dead.db, ReservedFire("orphan", fire_time, f"{HERE}:record_run", ["late"], {}, 3600))
        heir = await make_scheduler("heir")
        [run] = await wait_for_runs(heir.db, 1)
        assert (run.job_id, run.fire_time, run.runner, run.note) == ("orphan", fire_time, "heir", "late")
        [record] = await heir.history("orphan")
        assert record.state is FireState.DONE

    async def test_a_failing_job_is_rolled_back_recorded_and_not_retried(
        self, make_scheduler: SchedulerFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        scheduler = await make_scheduler()
        await scheduler.schedule_at("fragile", f"{HERE}:failing_job", soon(0.1))

        async def failed() -> bool:
            return [fire.state for fire in await scheduler.history("fragile")] == [FireState.FAILED]

        await wait_for(failed, "the fire to be recorded as failed")
        [record] = await scheduler.history("fragile")
        assert record.error == "RuntimeError: the order system is down"
        assert await runs(scheduler.db) == []  # its writes were rolled back
        assert "job fragile" in caplog.text
        fire = ReservedFire("fragile", record.fire_time, f"{HERE}:failing_job", [], {}, 3600)
        assert await scheduler.runner.run(fire) is FireOutcome.ALREADY_FIRED

    async def test_settled_fires_older_than_the_history_are_pruned(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        scheduler = await make_scheduler(start=False)
        now = datetime.now(UTC)
        for job_id, age in (("old", 40), ("recent", 3), ("old-due", 40)):
            fire = ReservedFire(job_id, now - timedelta(days=age), f"{HERE}:record_run", [], {}, 3600)
            await reserve(scheduler.db, fire, FireState.DUE if job_id == "old-due" else FireState.DONE)
        async with scheduler.db.transaction() as session:
            assert await prune(session, timedelta(days=30)) == 1
        assert await scheduler.history("old") == []
        assert len(await scheduler.history("recent")) == 1
        assert len(await scheduler.history("old-due")) == 1  # still work to do


async def reserve(db: Database, fire: ReservedFire, state: FireState = FireState.DUE) -> None:
    async with db.transaction() as session:
        await session.execute(
            reserve_statement(db.dialect, fire, state, datetime.now(UTC) - timedelta(seconds=1))
        )


class TestLeadership:
    async def test_one_leader_runs_the_jobs_and_another_takes_over_when_it_stops(
        self, make_scheduler: SchedulerFactory
    ) -> None:
        a = await make_scheduler("a")
        b = await make_scheduler("b")
        leader = await wait_for_leader(a, b)
        other = b if leader is a else a
        times = [soon(0.3 + 0.15 * i) for i in range(5)]
        for number, run_at in enumerate(times):
            await other.schedule_at(f"job-{number}", f"{HERE}:record_run", run_at)
        done = await wait_for_runs(a.db, 5)
        assert [run.fire_time for run in done] == times
        assert {run.runner for run in done} == {leader.context}

        await leader.stop()
        assert await wait_for_leader(a, b) is other
        await other.schedule_at("after-failover", f"{HERE}:record_run", soon(0.2))
        last = (await wait_for_runs(a.db, 6))[-1]
        assert (last.job_id, last.runner) == ("after-failover", other.context)
        await asyncio.sleep(0.3)
        assert len(await runs(a.db)) == 6

    async def test_two_processes_fire_once_and_fail_over_when_the_leader_is_killed(
        self, scheduler_tables: str, tmp_path: Path
    ) -> None:
        processes = {name: start_scheduler_process(scheduler_tables, name, tmp_path) for name in ("p1", "p2")}
        db = Database(scheduler_tables)
        web = HubScheduler(db)
        try:
            for name in processes:

                async def ready(name: str = name) -> bool:
                    return "ready" in log_of(tmp_path, name)

                await wait_for(ready, f"{name} to start")
            # fire-3 holds its transaction open for a while: the leader is killed in the middle of
            # it, so its work is rolled back and the fire must be recovered by the other process.
            times = [soon(1.0 + 0.3 * i) for i in range(16)]
            for number, run_at in enumerate(times):
                job, args = ("slow_run", [3.0]) if number == 3 else ("record_run", [])
                await web.schedule_at(f"fire-{number}", f"{HERE}:{job}", run_at, args=args)
            leader = (await wait_for_runs(db, 3))[0].runner

            async def fire_3_under_way() -> bool:
                return [fire.state for fire in await web.history("fire-3")] == [FireState.DUE]

            await wait_for(fire_3_under_way, "the leader to start fire-3")
            processes[leader].send_signal(signal.SIGKILL)
            processes[leader].wait(10)

            await wait_for_runs(db, len(times), seconds=30)
            await asyncio.sleep(0.5)
            done = await runs(db)
            assert [run.fire_time for run in done] == times, "every fire ran, none twice"
            survivor = next(name for name in processes if name != leader)
            runner = {run.job_id: run.runner for run in done}
            assert [runner[f"fire-{n}"] for n in range(3)] == [leader] * 3
            assert runner["fire-3"] == survivor, "the killed leader's unfinished fire was recovered"
            assert runner["fire-15"] == survivor
            async with db.session() as session:
                states = await session.execute(
                    select(fires_table.c.state, func.count()).group_by(fires_table.c.state)
                )
            assert {state: count for state, count in states} == {FireState.DONE: len(times)}
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
            await db.dispose()


def start_scheduler_process(database_url: str, name: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", HERE, database_url, name],
        cwd=REPO,
        stdout=log,
        stderr=log,
        env=os.environ.copy(),
    )


def log_of(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text(errors="replace")


# The migration script (kept as .txt until the integration renames it) against these tables.


def scheduler_migration() -> ModuleType:
    # Found by name, whatever revision number it gets when it is enabled.
    paths = sorted(MIGRATIONS.glob("*_scheduler.py")) or sorted(MIGRATIONS.glob("_*_scheduler.py.txt"))
    assert len(paths) == 1, f"expected one scheduler migration in {MIGRATIONS}, found {paths}"
    loader = importlib.machinery.SourceFileLoader("scheduler_migration", str(paths[0]))
    spec = importlib.util.spec_from_loader("scheduler_migration", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


async def test_the_migration_creates_these_tables(database_url: str) -> None:
    migration = scheduler_migration()
    assert migration.down_revision is not None
    ours = {JOBS_TABLE, FIRES_TABLE}

    def run(connection: Connection, step: Callable[[], None]) -> None:
        context = MigrationContext.configure(
            connection, opts={"render_as_batch": connection.dialect.name == "sqlite"}
        )
        with Operations.context(context):
            step()

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name in ours,
            },
        )
        return list(compare_metadata(context, scheduler_metadata))

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names()) & ours

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            # Start without them (once the migration is enabled, upgrade() already made them).
            await connection.run_sync(lambda c: scheduler_metadata.drop_all(c, checkfirst=True))
            await connection.run_sync(run, migration.upgrade)
            assert await connection.run_sync(diff) == []
            await connection.run_sync(run, migration.downgrade)
            assert await connection.run_sync(tables) == set()
            await connection.run_sync(run, migration.upgrade)
            assert await connection.run_sync(tables) == ours
    finally:
        await engine.dispose()


# A scheduler process for the multi-process test.


async def _serve(database_url: str, name: str) -> None:
    db = Database(database_url)
    scheduler = HubScheduler(db, context=name, poll_seconds=0.1, election_seconds=0.2)
    scheduler.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await scheduler.stop()
    await db.dispose()


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {sys.argv[2]} %(name)s %(message)s")
    asyncio.run(_serve(sys.argv[1], sys.argv[2]))
