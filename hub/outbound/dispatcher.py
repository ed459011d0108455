"""The outbox dispatcher: claims due rows, sends them through their channel adapter under the shared
rate limits, records the outcome.

One worker's pipeline, every stage batched so that a thousand sends a second cost a few dozen
transactions a second:

1. claim a batch of due rows (hub/outbound/claims.py: a lease per row, SKIP LOCKED on PostgreSQL),
   as long as fewer than ``max_in_flight`` rows are under way;
2. per row: ask its hook (a campaign's last checks), then reserve a send time under every limit the
   row is sent under — its account, its recipient, the hook's own (hub/outbound/reservations.py);
   a row whose time is too far ahead goes back to the outbox to return when it is its turn;
3. wait for that time, make sure the claim is still held, send (at most ``concurrency`` requests at
   once);
4. record the outcome (hub/outbound/outcomes.py): sent with the provider's id, retry with backoff,
   failed with the reason.

Exactly once: a row is marked sent in the same transaction that records the provider's id, so a
crash before the send or while the provider has not yet answered leads to one send after restart.
The one window left is a crash after the provider accepted but before that transaction commits
(the send's answer plus one batch's commit, milliseconds); providers without idempotency keys
(Telegram, Viber, Twilio) would then get the message again. That window is documented in
docs/architecture.md; we don't pretend it away.

One recipient's messages leave in claim order within a worker (a lock per recipient, held from
the reservation to the send); a row that went back to wait in line may fall behind later ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import update

from channels.contract import PermanentSendError, RateLimited, TransientSendError
from crm_core.columns import utcnow
from hub import metrics
from hub.accounts import Account, Accounts, UnknownAccount
from hub.db import Database
from hub.live import LocalBus, Subscription
from hub.outbound.claims import Claimed, claim_due, held, keep, next_due, renew
from hub.outbound.enqueue import WAKE_TOPIC, outbound_from_json
from hub.outbound.hooks import Defer, OutboxHook, Send
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.outbound.outcomes import MAX_ATTEMPTS, Failed, Outcome, Outcomes, PutBack, Retry, Sent, backoff_delay
from hub.outbound.ratelimit import RateLimit, account_key, limits_for, limits_of
from hub.outbound.reservations import NotYet, Reservations, Reserved

log = logging.getLogger(__name__)

__all__ = ["MAX_ATTEMPTS", "Claimed", "Dispatcher", "backoff_delay", "default_worker_id"]

# How long a stopping worker lets sends under way finish and rows waiting for their time go back.
STOP_GRACE_SECONDS = 10.0
# A worker claims rows of one account only as long as those it has waiting would take the
# account's rate less than this to send: a backlog behind a slow limit stays in the outbox for the
# next claim (or another worker) instead of filling this worker, and other accounts keep flowing.
AHEAD_SECONDS = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        db: Database,
        accounts: Accounts,
        bus: LocalBus,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        batch_size: int = 200,
        concurrency: int = 64,
        max_in_flight: int = 1000,
        horizon_seconds: float = 0.02,
        idle_poll_seconds: float = 1.0,
        hooks: Sequence[OutboxHook] = (),
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.bus = bus
        self.worker_id = worker_id or default_worker_id()
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.idle_poll_seconds = idle_poll_seconds
        self.hooks = tuple(hooks)
        self.horizon = horizon_seconds
        self.reservations = Reservations(db)
        self.outcomes = Outcomes(db, bus)
        self._sending = asyncio.Semaphore(concurrency)
        # Hook checks are database transactions of their own; a few at a time keep the pool free.
        self._checking = asyncio.Semaphore(max(1, min(concurrency, 8)))
        self._recipient_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        # Rows claimed and not yet settled: by id, and how many per channel account.
        self._held: dict[int, Claimed] = {}
        self._waiting: Counter[str] = Counter()
        # This worker's messages waiting for their turn under a limit, by the limit's key.
        self._lines: dict[str, asyncio.Lock] = {}
        # The quickest answer of each account's provider so far (seconds).
        self._fastest: dict[str, float] = {}
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Dispatch until cancelled; wakes on new outbox rows and polls for due retries. Claims
        the next batch while the previous ones are still being sent."""
        keeper = asyncio.create_task(self._keep_leases(), name="outbox-leases")
        try:
            with self.bus.subscribe(WAKE_TOPIC) as wake:
                while True:
                    room = self.max_in_flight - len(self._in_flight)
                    if room < min(self.batch_size, self.max_in_flight) // 2:
                        self._room.clear()
                        await self._room.wait()
                        continue
                    try:
                        claimed = await self.claim(min(self.batch_size, room))
                    except Exception:
                        log.exception("claiming outbox rows failed; retrying")
                        claimed = []
                    for item in claimed:
                        task = asyncio.create_task(self._deliver(item))
                        self._in_flight.add(task)
                        task.add_done_callback(self._finished)
                    if not claimed:
                        await self._idle(wake)
        finally:
            await self._wind_down()
            keeper.cancel()

    async def _keep_leases(self) -> None:
        """Every third of a lease, extend the claims of the rows this worker has under way."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await keep(self.db, list(self._held.values()), self.lease)
            except Exception:
                log.exception("extending the outbox claims under way failed; retrying")

    async def _idle(self, wake: Subscription) -> None:
        """Nothing due: sleep until a new row is announced, a row under way settles (it may have
        gone back in line), or the next row waiting is due."""
        seconds = await self._idle_seconds()
        self._room.clear()
        announced = asyncio.ensure_future(wake.get(wait_seconds=seconds))
        settled = asyncio.ensure_future(self._room.wait())
        try:
            await asyncio.wait((announced, settled), return_when=asyncio.FIRST_COMPLETED)
        finally:
            announced.cancel()
            settled.cancel()

    async def _idle_seconds(self) -> float:
        """How long to sleep with nothing due: until the next row waiting in line is due (the
        line must not stall for a poll), at most ``idle_poll_seconds``."""
        try:
            due = await next_due(self.db)
        except Exception:
            log.exception("reading when the next outbox row is due failed")
            return self.idle_poll_seconds
        if due is None:
            return self.idle_poll_seconds
        return min(self.idle_poll_seconds, max(0.005, (due - utcnow()).total_seconds()))

    async def claim(self, limit: int | None = None) -> list[Claimed]:
        claimed = await claim_due(
            self.db, self.worker_id, limit or self.batch_size, self.lease, self._full_accounts()
        )
        self._waiting.update(item.channel_account for item in claimed)
        self._held.update((item.id, item) for item in claimed)
        return claimed

    def _full_accounts(self) -> list[str]:
        """Accounts of which this worker has AHEAD_SECONDS' worth of rows waiting already."""
        full = []
        for name, waiting in self._waiting.items():
            try:
                rate = limits_of(self.accounts.get(name)).per_second
            except UnknownAccount:
                continue
            if waiting >= max(1, math.ceil(rate * AHEAD_SECONDS)):
                full.append(name)
        return full

    async def dispatch_due(self) -> int:
        """Claim one batch and send it, outcomes recorded (for one-off sending and tests; ``run``
        is the worker's loop). Returns how many rows were claimed."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._room.set()

    async def _wind_down(self) -> None:
        """Stopping: rows still waiting for their time go back to the outbox at once (no lease to
        wait out); sends under way finish and are recorded."""
        self._stopping.set()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=STOP_GRACE_SECONDS)
        for task in list(self._in_flight):
            task.cancel()

    def _hook_for(self, item: Claimed) -> OutboxHook | None:
        return next((hook for hook in self.hooks if hook.concerns(item.payload)), None)

    async def _deliver(self, item: Claimed) -> None:
        hook = self._hook_for(item)
        key = (item.channel_account, item.recipient)
        # Per-recipient lock, taken in claim order: one recipient's messages leave in order.
        lock = self._recipient_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                outcome = await self._attempt(item, hook)
            if outcome is not None:
                await self.outcomes.record(item, outcome, hook)
        except Exception:
            log.exception("outbox %s: sending failed; the row is due again when its lease runs out", item.id)
        finally:
            self._held.pop(item.id, None)
            self._waiting[item.channel_account] -= 1
            if self._waiting[item.channel_account] <= 0:
                del self._waiting[item.channel_account]
            if not lock.locked() and len(self._recipient_locks) > 10_000:
                self._recipient_locks = {k: v for k, v in self._recipient_locks.items() if v.locked()}

    async def _attempt(self, item: Claimed, hook: OutboxHook | None) -> Outcome | None:
        """Send one row; its outcome to record, or None when there is nothing left to record (a
        hook held or dropped it, or the claim was lost)."""
        if self._stopping.is_set():
            return PutBack(utcnow(), "the worker stopped before sending it")
        try:
            account = self.accounts.get(item.channel_account)
        except UnknownAccount:
            return Failed(f"channel account {item.channel_account!r} is no longer configured")
        limits = limits_for(account, item.recipient)
        if hook is not None:
            verdict = await self._check(item, hook)
            if verdict is None:
                return None
            limits += verdict.limits
        reserved = await self._reserve(limits)
        if not isinstance(reserved, Reserved):
            return reserved
        if not await self._still_ours(item):
            log.warning("outbox %s: lease ran out while waiting to send; another dispatcher has it", item.id)
            return None
        started = time.monotonic()
        outcome = await self._send(item, account)
        answered = time.monotonic()
        # When did it arrive? Before the answer, by about the quickest answer this account gave:
        # the rest is the way back and the provider's own time. (The first send of an account has
        # no quickest answer yet: its whole wait counts, connecting included.) An estimate on the
        # late side: a late-looking send costs a little rate, a missed late one a second too full.
        fastest = self._fastest.get(account.name, 0.0)
        self._fastest[account.name] = min(answered - started, self._fastest.get(account.name, float("inf")))
        # Whatever its outcome, the request reached the provider: if that was late, the messages a
        # window after it must keep their distance from when it really went.
        for key, hold in reserved.holds_if_late(answered - fastest):
            await self.reservations.hold(key, hold)
        return outcome

    async def _reserve(self, limits: tuple[RateLimit, ...]) -> Reserved | PutBack:
        """A send time under ``limits``, waited for; or the row goes back to the outbox (its time is
        further off than a third of the lease, or the worker is stopping).

        A message told "not yet" waits in this worker's line for its account: only the head of the
        line asks again, when its time is near; the next asks once the head has its time. So a
        backlog asks about once per message, and the moment the limit has room someone is asking."""
        reserved = await self.reservations.reserve(limits, self.horizon)
        if isinstance(reserved, NotYet):
            async with self._lines.setdefault(limits[0].key, asyncio.Lock()):
                while isinstance(reserved, NotYet):
                    if reserved.deadline - time.monotonic() > self.lease.total_seconds() / 3:
                        return PutBack(reserved.at, f"waiting for the rate limit ({_names(limits)})")
                    # Ask again when the time is within reach.
                    if not await self._wait_until(reserved.deadline - self.horizon / 2):
                        return PutBack(utcnow(), "the worker stopped before sending it")
                    reserved = await self.reservations.reserve(limits, self.horizon)
        if not await self._wait_until(reserved.deadline):
            return PutBack(utcnow(), "the worker stopped before sending it")
        return reserved

    async def _wait_until(self, deadline: float) -> bool:
        """Sleep until ``deadline`` (monotonic); False if the worker is stopping meanwhile."""
        delay = deadline - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        return not self._stopping.is_set()

    async def _send(self, item: Claimed, account: Account) -> Outcome:
        outbound = outbound_from_json(item.payload)
        async with self._sending:
            try:
                result = await account.adapter.send(outbound)
            except RateLimited as exc:
                if exc.retry_after:
                    # The provider said to slow down: every worker holds off this account.
                    await self.reservations.pause(account_key(account.name), exc.retry_after)
                return Retry(str(exc), exc.retry_after, "rate_limited")
            except TransientSendError as exc:
                return Retry(str(exc), exc.retry_after, "transient")
            except PermanentSendError as exc:
                return Failed(str(exc))
            except Exception as exc:
                # An adapter bug: retry like a transient error, so a fix and restart still sends it.
                log.exception("adapter %s raised unexpectedly", account.name)
                return Retry(f"unexpected error: {type(exc).__name__}: {exc}", None, "error")
        return Sent(result)

    async def _check(self, item: Claimed, hook: OutboxHook) -> Send | None:
        """Ask the row's hook whether it may leave now; defer or drop it when not (None)."""
        async with self._checking, self.db.transaction() as session:
            verdict = await hook.check(session, item.payload)
            if isinstance(verdict, Send):
                return verdict
            if isinstance(verdict, Defer):
                await session.execute(
                    update(OutboxItem)
                    .where(held(item))
                    .values(
                        status=OutboxStatus.PENDING,
                        next_attempt_at=verdict.until,
                        lease_until=None,
                        # Waiting is not a failed attempt.
                        attempts=OutboxItem.attempts - 1,
                        last_error=f"held: {verdict.reason}",
                    )
                )
                return None
            updated = await session.execute(
                update(OutboxItem)
                .where(held(item))
                .values(status=OutboxStatus.CANCELLED, lease_until=None, last_error=verdict.reason)
            )
            if updated.rowcount:  # type: ignore[attr-defined]
                await hook.dropped(session, item.payload, verdict.reason)
        metrics.OUTBOX_SENT.labels(item.channel_account, "cancelled").inc()
        return None

    async def _still_ours(self, item: Claimed) -> bool:
        """Renew the claim right before sending, if it has not expired: waiting for a hook or a
        rate limit can take long, and a row whose lease ran out may already be in another
        dispatcher's hands. A claim taken moments ago is certainly still ours; that common case
        costs no round trip."""
        if time.monotonic() - item.claimed_at < self.lease.total_seconds() / 3:
            return True
        return await renew(self.db, item, self.lease)


def _names(limits: tuple[RateLimit, ...]) -> str:
    return ", ".join(limit.key for limit in limits)
