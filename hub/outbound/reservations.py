"""Send times under the shared rate limits, reserved in the ``rate_limits`` table.

One transaction serves every message that asked since the last one (hub/outbound/batching.py): it
creates and locks the rows of the limits involved (in key order, so two workers never deadlock),
reads the database's clock once the locks are held, gives each message its time
(hub.outbound.ratelimit.schedule) and writes the rows back. Whoever reserves next — this process or
another — sees those times, so a limit holds across every worker. The time is the database's
(``clock_timestamp()`` on PostgreSQL; on SQLite, whose processes share one machine, the system
clock), turned into this process's monotonic clock on the way back, so workers on hosts with
drifting clocks still keep the intervals. Holds from late sends are added the same way, batched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.outbound.batching import Batcher
from hub.outbound.models import RateLimitState
from hub.outbound.ratelimit import Hold, KeyState, RateLimit, Request, Slot, hold_after_late, schedule

# Rows idle for longer than this are deleted (they hold nothing a missing row would not).
PRUNE_AFTER_SECONDS = 60.0

_TABLE = RateLimitState.__table__  # type: ignore[attr-defined]

_PG_LOCK = text(
    "INSERT INTO rate_limits (key, next_at, holds) "
    "SELECT key, 0, '[]' FROM unnest(CAST(:keys AS TEXT[])) AS keys(key) "
    "ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key "
    "RETURNING key, next_at, holds, extract(epoch FROM clock_timestamp())"
)
_PG_STORE = text(
    "UPDATE rate_limits AS r SET next_at = v.next_at, holds = v.holds "
    "FROM unnest(CAST(:keys AS TEXT[]), CAST(:next_at AS FLOAT8[]), CAST(:holds AS TEXT[])) "
    "AS v(key, next_at, holds) WHERE r.key = v.key"
)
_PG_PAUSE = text(
    "INSERT INTO rate_limits (key, next_at, holds) "
    "VALUES (:key, extract(epoch FROM clock_timestamp()) + :seconds, '[]') "
    "ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(rate_limits.next_at, EXCLUDED.next_at)"
)
_PG_NOW = text("SELECT extract(epoch FROM clock_timestamp())")
# Rows another worker is reserving with right now are left for the next time. A hold left on an
# idle limit has passed: it could only hold back times already past.
_PG_PRUNE = text(
    "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits "
    "WHERE next_at < extract(epoch FROM clock_timestamp()) - :idle FOR UPDATE SKIP LOCKED)"
)


class Clock:
    """This process's monotonic clock against the database's. Each reservation reads the database's
    clock; the answer reaches us some time later — little when all is calm, much on a busy machine.
    The smallest difference seen lately is the truest, and converting with it lets a slow answer
    make its send late (and seen as late) instead of shifting the time itself."""

    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self._best = float("inf")
        self._previous = float("inf")
        self._since = time.monotonic()

    def observe(self, database_now: float, local: float) -> None:
        if local - self._since > self.WINDOW_SECONDS:
            # Start a new window (clocks drift slowly), keeping the last one until it has samples.
            self._previous, self._best, self._since = self._best, float("inf"), local
        self._best = min(self._best, local - database_now)

    @property
    def ready(self) -> bool:
        return self._best != float("inf") or self._previous != float("inf")

    def local(self, database_time: float) -> float:
        return database_time + min(self._best, self._previous)


def _decode(next_at: float, holds: str) -> KeyState:
    return KeyState(float(next_at), [Hold(start, until) for start, until in json.loads(holds)])


def _encode(state: KeyState) -> str:
    return json.dumps([[h.start, h.until] for h in state.holds])


@dataclass(frozen=True)
class Reserved:
    """Send when ``time.monotonic()`` reaches ``deadline``, which is ``at`` on the database's
    clock, under ``limits``."""

    deadline: float
    at: float
    limits: tuple[RateLimit, ...] = ()

    def holds_if_late(self, arrived: float) -> list[tuple[str, Hold]]:
        """The holds to put when the message arrived at ``arrived`` (time.monotonic())."""
        found = []
        for limit in self.limits:
            hold = hold_after_late(limit, self.at, self.at + (arrived - self.deadline))
            if hold is not None:
                found.append((limit.key, hold))
        return found


@dataclass(frozen=True)
class NotYet:
    """No time within the horizon: ask again shortly before ``deadline`` (time.monotonic()), which
    is ``at`` on the wall clock (when a message put back to wait should be due again)."""

    deadline: float
    at: datetime


class Reservations:
    """Reserves send times for messages."""

    def __init__(self, db: Database, *, max_batch: int = 1000) -> None:
        self.db = db
        self._reservations: Batcher[Request, Reserved | NotYet] = Batcher(self._reserve, max_batch)
        self._holds: Batcher[tuple[str, Hold], None] = Batcher(self._add_holds, max_batch)
        self._pruned_at = time.monotonic()
        self.clock = Clock()

    async def reserve(self, limits: tuple[RateLimit, ...], horizon: float) -> Reserved | NotYet:
        """A time within ``horizon`` seconds under every one of ``limits``, or when to ask again."""
        return await self._reservations.submit(Request(limits, horizon))

    async def hold(self, key: str, hold: Hold) -> None:
        """A message under ``key`` arrived late: hold the next window back (ratelimit.py)."""
        await self._holds.submit((key, hold))

    async def pause(self, key: str, seconds: float) -> None:
        """The provider said to slow down: nothing leaves under ``key`` for ``seconds``."""
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                await session.execute(_PG_PAUSE, {"key": key, "seconds": seconds})
                return
            statement = sqlite.insert(_TABLE).values(key=key, next_at=time.time() + seconds, holds="[]")
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"next_at": text("MAX(rate_limits.next_at, excluded.next_at)")},
                )
            )

    async def _set_clock(self) -> None:
        """A few readings of the database's clock before the first reservation: the first queries
        of a process are slow (connecting, preparing), and a time read late would be sent late."""
        if self.db.is_sqlite:
            self.clock.observe(time.time(), time.monotonic())
            return
        async with self.db.session() as session:
            for _ in range(5):
                now = float((await session.execute(_PG_NOW)).scalar_one())
                self.clock.observe(now, time.monotonic())

    async def _reserve(self, requests: Sequence[Request]) -> list[Reserved | NotYet]:
        if not self.clock.ready:
            await self._set_clock()
        keys = sorted({limit.key for request in requests for limit in request.limits})
        async with self.db.transaction() as session:
            states, now = await self._lock(session, keys)
            local = time.monotonic()
            self.clock.observe(now, local)
            before = {key: (state.next_at, list(state.holds)) for key, state in states.items()}
            decided = schedule(states, requests, now)
            changed = {
                key: state for key, state in states.items() if (state.next_at, state.holds) != before[key]
            }
            await self._store(session, changed)
        if local - self._pruned_at > PRUNE_AFTER_SECONDS:
            self._pruned_at = local
            await self._prune()
        return [
            Reserved(self.clock.local(d.at), d.at, r.limits)
            if isinstance(d, Slot)
            else NotYet(self.clock.local(d.at), datetime.fromtimestamp(d.at, UTC))
            for d, r in zip(decided, requests, strict=True)
        ]

    async def _add_holds(self, holds: Sequence[tuple[str, Hold]]) -> list[None]:
        async with self.db.transaction() as session:
            states, _ = await self._lock(session, sorted({key for key, _ in holds}))
            for key, hold in holds:
                states[key].add_hold(hold)
            await self._store(session, states)
        return [None] * len(holds)

    async def _lock(self, session: AsyncSession, keys: list[str]) -> tuple[dict[str, KeyState], float]:
        """Create the missing rows, lock them all, and read the clock once they are held."""
        if self.db.is_sqlite:
            # The transaction began with BEGIN IMMEDIATE: this process holds the write lock already.
            await session.execute(
                sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]),
                [{"key": key, "next_at": 0.0, "holds": "[]"} for key in keys],
            )
            rows = await session.execute(
                select(_TABLE.c.key, _TABLE.c.next_at, _TABLE.c.holds).where(_TABLE.c.key.in_(keys))
            )
            return {key: _decode(next_at, holds) for key, next_at, holds in rows}, time.time()
        rows = list(await session.execute(_PG_LOCK, {"keys": keys}))
        states = {key: _decode(next_at, holds) for key, next_at, holds, _ in rows}
        # Each row's clock was read after its lock was taken; the last is after all of them.
        return states, max(float(clock) for *_, clock in rows)

    async def _store(self, session: AsyncSession, states: dict[str, KeyState]) -> None:
        if not states:
            return
        if self.db.is_sqlite:
            await session.execute(
                update(_TABLE)
                .where(_TABLE.c.key == bindparam("k"))
                .values(next_at=bindparam("n"), holds=bindparam("h")),
                [{"k": key, "n": state.next_at, "h": _encode(state)} for key, state in states.items()],
            )
            return
        values: dict[str, Any] = {
            "keys": list(states),
            "next_at": [state.next_at for state in states.values()],
            "holds": [_encode(state) for state in states.values()],
        }
        await session.execute(_PG_STORE, values)

    async def _prune(self) -> None:
        """Delete the rows of limits nobody used for a while (most are recipients')."""
        async with self.db.transaction() as session:
            if self.db.is_sqlite:
                await session.execute(
                    delete(_TABLE).where(_TABLE.c.next_at < time.time() - PRUNE_AFTER_SECONDS)
                )
            else:
                await session.execute(_PG_PRUNE, {"idle": PRUNE_AFTER_SECONDS})
