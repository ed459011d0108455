"""Rate limits: how fast the outbox may send through one channel account, to one recipient, or for
one campaign — the same limit for every worker process.

A limit is a key (``account:sms-main``, ``recipient:main:12345``, ``campaign:spring``), a rate and a
burst. Its state is one ``rate_limits`` row (hub/outbound/reservations.py reads and writes it); this
module holds the arithmetic, which is the generic cell rate algorithm (GCRA) used as a scheduler:

- ``next_at`` is the earliest moment the next message may leave. A message under several limits
  (its account, its recipient, its campaign) gets one time ``at`` = the latest of their
  ``next_at`` (less each one's burst allowance), and every one of them moves on to ``at`` plus its
  interval. So each limit sees its messages at least one interval apart, whichever process sends
  them, and no limit's time is ever used late by another's.
- Times are handed out only just ahead (``horizon``: 20 ms in a worker). A time is then taken by
  a worker ready to use it: one that stalls (a busy machine, a garbage collection) meanwhile
  rarely holds a time it will use late, the other workers take the next ones. A message whose
  time is further off is told roughly when it will be (``Later``, as if the messages asking with
  it had had their times) and asks again shortly before; its worker keeps it meanwhile.
- Every interval is 0.5 % longer than the limit's (``HEADROOM``): the provider counts arrivals,
  and a message that arrives a few milliseconds late must not make a second of arrivals one too
  many. 30 messages per second becomes one per 33.5 ms: 29.85 per second.
- A message that arrived later than that allows (its send was answered more than ~5 ms after its
  time: a busy machine, a slow provider) puts a *hold* on its limit: the time handed out one
  window after its own (30 messages later for 30 per second) is no earlier than one window after
  the answer. The window's messages are then counted from when the late one really went out, and
  the cost is paid once per late message, not carried on by every message after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from channels.contract import RateLimits
from hub.accounts import Account

HEADROOM = 0.005


@dataclass(frozen=True)
class RateLimit:
    """At most ``per_second`` messages per second under ``key``; ``burst`` may leave at once after
    a quiet spell."""

    key: str
    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.per_second > 0:
            raise ValueError(f"rate limit {self.key!r}: messages per second must be positive")
        if self.burst < 1:
            raise ValueError(f"rate limit {self.key!r}: the burst must be at least 1")

    @property
    def interval(self) -> float:
        return 1.0 / (self.per_second * (1.0 - HEADROOM))

    @property
    def per_window(self) -> int:
        """How many messages the provider counts per window (30 for 30 per second)."""
        return max(1, int(self.per_second))

    @property
    def window(self) -> float:
        """The window those are counted over: a second, or the interval of a slower limit."""
        return self.per_window / self.per_second

    @property
    def allowance(self) -> float:
        """How far ahead of ``next_at`` a message may leave: the burst beyond the first one."""
        return (self.burst - 1) * self.interval


def account_key(account: str) -> str:
    return f"account:{account}"


def recipient_key(account: str, recipient: str) -> str:
    return f"recipient:{account}:{recipient}"


def limits_of(account: Account) -> RateLimits:
    """The account's limits: its adapter's, with the rate set in hub.yaml (``rate_per_second``,
    e.g. what Twilio sold for this number) in place of the adapter's default."""
    limits = account.adapter.rate_limits
    configured: float | None = getattr(account.settings, "rate_per_second", None)
    return replace(limits, per_second=configured) if configured else limits


def limits_for(account: Account, recipient: str) -> tuple[RateLimit, ...]:
    """The limits a message through ``account`` to ``recipient`` is sent under."""
    limits = limits_of(account)
    found = [RateLimit(account_key(account.name), limits.per_second, limits.burst)]
    if limits.per_recipient_per_second:
        found.append(RateLimit(recipient_key(account.name, recipient), limits.per_recipient_per_second))
    return tuple(found)


@dataclass(frozen=True)
class Hold:
    """The first time handed out at or after ``start`` is no earlier than ``until``."""

    start: float
    until: float


# At most this many holds wait on one limit; beyond, the two earliest become one covering both.
MAX_HOLDS = 256


@dataclass
class KeyState:
    next_at: float = 0.0
    holds: list[Hold] = field(default_factory=list)

    def add_hold(self, hold: Hold) -> None:
        self.holds.append(hold)
        self.holds.sort(key=lambda h: h.start)
        if len(self.holds) > MAX_HOLDS:
            first, second = self.holds[0], self.holds[1]
            self.holds[:2] = [Hold(first.start, max(first.until, second.until))]

    def held_until(self, at: float, limit: RateLimit) -> float:
        """``at``, or later if holds starting by then say so."""
        reach = at + limit.interval / 2
        return max([at, *(h.until for h in self.holds if h.start <= reach)])

    def release_holds(self, at: float, limit: RateLimit) -> None:
        """The holds a time given at ``at`` has honoured."""
        reach = at + limit.interval / 2
        self.holds = [h for h in self.holds if h.start > reach]


# What the estimate of a message's arrival cannot see — workers' readings of the database clock
# differ by a fraction of a millisecond, the provider takes its own time to count an arrival — is
# added to it.
ARRIVAL_MARGIN = 0.0015
# Limits faster than this are never reached within one window (a thousand sends in the same
# second): they get no holds, which would only cost writes.
HOLDS_UP_TO_RATE = 1000.0


def hold_after_late(limit: RateLimit, at: float, arrived: float) -> Hold | None:
    """The hold a message given ``at`` under ``limit`` puts on it when it arrived at ``arrived``
    (same clock): the message one window later must not arrive within a window of it. None when
    it was on time within the headroom, or the limit is too fast to need holds."""
    if limit.per_second > HOLDS_UP_TO_RATE:
        return None
    hold = Hold(at + limit.per_window * limit.interval, arrived + ARRIVAL_MARGIN + limit.window)
    return hold if hold.until > hold.start else None


@dataclass(frozen=True)
class Slot:
    """Send at ``at`` (the clock ``schedule`` was given)."""

    at: float


@dataclass(frozen=True)
class Later:
    """Further off than the horizon: ask again shortly before ``at``, when its time may come."""

    at: float


@dataclass(frozen=True)
class Request:
    """The limits of one message, and how far ahead it may be given a time."""

    limits: tuple[RateLimit, ...]
    horizon: float


def _earliest(states: dict[str, KeyState], limits: tuple[RateLimit, ...], now: float) -> float:
    """The earliest time all ``limits`` allow, their holds included."""
    at = max([now, *(states[limit.key].next_at - limit.allowance for limit in limits)])
    while True:  # a hold that moves the time on may reach further holds
        held = max(states[limit.key].held_until(at, limit) for limit in limits)
        if held == at:
            return at
        at = held


def schedule(states: dict[str, KeyState], requests: Sequence[Request], now: float) -> list[Slot | Later]:
    """Give each request, in order, its time to leave, or when to ask again; updates ``states``
    (every key of every request must be in it) for the times given. Those told to ask again are
    told where they would be had the ones before them had their times, so they line up."""
    decided: list[Slot | Later] = []
    ahead: dict[str, float] = {}
    for request in requests:
        limits, horizon = request.limits, request.horizon
        at = _earliest(states, limits, now)
        if at <= now + horizon:
            for limit in limits:
                state = states[limit.key]
                state.next_at = max(state.next_at, at) + limit.interval
                state.release_holds(at, limit)
            decided.append(Slot(at))
            continue
        at = max([at, *(ahead.get(limit.key, 0.0) for limit in limits)])
        for limit in limits:
            ahead[limit.key] = at + limit.interval
        decided.append(Later(at))
    return decided


class TokenBucket:
    """A token bucket of this process alone (not shared between workers), for pacing work that is
    not an outbox send. Outbox sends use the shared limits above."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1, burst)
        self._tokens = float(self.capacity)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait until a token is available and take it. Waiters are served in arrival order."""
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
