"""The outbox dispatcher: claims due rows, sends them through their channel adapter, records the
outcome.

A claim is a lease: the row is ``sending`` with ``lease_until`` in the future and this worker's id.
A worker that dies mid-send leaves the lease to expire; another (or the restarted one) then takes the
row over. On PostgreSQL, claims use FOR UPDATE SKIP LOCKED so several workers share the outbox
without taking the same row. The outcome is written only if this worker still holds the claim.

Exactly once: a row is marked sent in the same transaction that records the provider's id, so a
crash before the send or while the provider has not yet answered leads to one send after restart.
The one window left is a crash after the provider accepted but before our commit (milliseconds);
providers without idempotency keys (Telegram, Viber, Twilio) would then get the message again.
That window is documented in docs/architecture.md; we don't pretend it away.

Outcomes: success -> sent; RateLimited / TransientSendError -> retry with exponential backoff and
jitter (at least the provider's retry-after) up to MAX_ATTEMPTS; PermanentSendError -> failed with
the reason on the message, where the agent sees it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select, update

from channels.contract import PermanentSendError, RateLimited, SendResult, TransientSendError
from crm_core.columns import utcnow
from hub import metrics
from hub.accounts import Accounts, UnknownAccount
from hub.db import Database
from hub.live import LiveEvent, LocalBus
from hub.outbound.enqueue import WAKE_TOPIC, outbound_from_json
from hub.outbound.hooks import Defer, OutboxHook, Send
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.outbound.ratelimit import RateLimiter
from inbox.conversations import mark_failed, mark_sent
from inbox.models import Message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = 1.0
MAX_DELAY = 300.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff_delay(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: about 1, 2, 4, ... seconds (capped), never less than the
    provider's retry-after."""
    rng = rng or random.Random()
    exponential = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempt - 1))
    delay = exponential * (0.5 + rng.random() / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass(frozen=True)
class Claimed:
    id: int
    channel_account: str
    recipient: str
    attempts: int
    payload: dict
    message_id: int | None
    claimed_at: float = 0.0  # time.monotonic() of the claim


class Dispatcher:
    def __init__(
        self,
        db: Database,
        accounts: Accounts,
        bus: LocalBus,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        batch_size: int = 50,
        concurrency: int = 16,
        idle_poll_seconds: float = 1.0,
        hooks: Sequence[OutboxHook] = (),
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.bus = bus
        self.worker_id = worker_id or default_worker_id()
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.limiter = RateLimiter()
        self.hooks = tuple(hooks)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._recipient_locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def run(self) -> None:
        """Dispatch until cancelled; wakes on new outbox rows and polls for due retries."""
        with self.bus.subscribe(WAKE_TOPIC) as wake:
            while True:
                try:
                    sent = await self.dispatch_due()
                except Exception:
                    log.exception("outbox dispatch round failed; retrying")
                    sent = 0
                if sent == 0:
                    await wake.get(wait_seconds=self.idle_poll_seconds)

    async def claim(self) -> list[Claimed]:
        now = utcnow()
        due = (
            select(OutboxItem.id)
            .where(
                or_(
                    (OutboxItem.status == OutboxStatus.PENDING) & (OutboxItem.next_attempt_at <= now),
                    (OutboxItem.status == OutboxStatus.SENDING) & (OutboxItem.lease_until < now),
                )
            )
            .order_by(OutboxItem.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self.db.transaction() as session:
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return []
            rows = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids))
                .values(
                    status=OutboxStatus.SENDING,
                    lease_until=now + self.lease,
                    claimed_by=self.worker_id,
                    attempts=OutboxItem.attempts + 1,
                )
                .returning(
                    OutboxItem.id,
                    OutboxItem.channel_account,
                    OutboxItem.recipient,
                    OutboxItem.attempts,
                    OutboxItem.payload,
                    OutboxItem.message_id,
                )
            )
            claimed_at = time.monotonic()
            claimed = [Claimed(*row, claimed_at=claimed_at) for row in rows]
        claimed.sort(key=lambda c: c.id)
        return claimed

    async def dispatch_due(self) -> int:
        """Claim one batch and send it. Returns how many rows were claimed."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self._send_one(item) for item in claimed))
        return len(claimed)

    def _hook_for(self, item: Claimed) -> OutboxHook | None:
        return next((hook for hook in self.hooks if hook.concerns(item.payload)), None)

    async def _checked(self, item: Claimed, hook: OutboxHook) -> bool:
        """Ask the row's hook whether it may leave now; defer or drop it when not."""
        async with self.db.transaction() as session:
            verdict = await hook.check(session, item.payload)
            if isinstance(verdict, Send):
                return True
            if isinstance(verdict, Defer):
                await session.execute(
                    update(OutboxItem)
                    .where(self._ours(item))
                    .values(
                        status=OutboxStatus.PENDING,
                        next_attempt_at=verdict.until,
                        lease_until=None,
                        # Waiting is not a failed attempt.
                        attempts=OutboxItem.attempts - 1,
                        last_error=f"held: {verdict.reason}",
                    )
                )
                return False
            updated = await session.execute(
                update(OutboxItem)
                .where(self._ours(item))
                .values(status=OutboxStatus.CANCELLED, lease_until=None, last_error=verdict.reason)
            )
            if updated.rowcount:  # type: ignore[attr-defined]
                await hook.dropped(session, item.payload, verdict.reason)
        metrics.OUTBOX_SENT.labels(item.channel_account, "cancelled").inc()
        return False

    async def _send_one(self, item: Claimed) -> None:
        # Per-recipient lock, taken in claim order: one recipient's messages leave in order.
        lock = self._recipient_locks.setdefault((item.channel_account, item.recipient), asyncio.Lock())
        # The recipient lock first: a queue of messages to one slow chat must not fill every slot.
        async with lock, self._semaphore:
            hook = self._hook_for(item)
            if hook is not None and not await self._checked(item, hook):
                return
            try:
                account = self.accounts.get(item.channel_account)
            except UnknownAccount:
                await self._fail(item, f"channel account {item.channel_account!r} is no longer configured")
                return
            limits = account.adapter.rate_limits
            account_bucket = self.limiter.account(account.name, limits.per_second, limits.burst)
            await account_bucket.acquire()
            if limits.per_recipient_per_second:
                await self.limiter.recipient(
                    account.name, item.recipient, limits.per_recipient_per_second
                ).acquire()
            if not await self._still_ours(item):
                log.warning(
                    "outbox %s: lease ran out while waiting to send; another dispatcher has it", item.id
                )
                return
            outbound = outbound_from_json(item.payload)
            try:
                result = await account.adapter.send(outbound)
            except RateLimited as exc:
                if exc.retry_after:
                    account_bucket.pause(exc.retry_after)
                await self._retry(item, str(exc), exc.retry_after, "rate_limited")
            except TransientSendError as exc:
                await self._retry(item, str(exc), exc.retry_after, "transient")
            except PermanentSendError as exc:
                await self._fail(item, str(exc))
            except Exception as exc:
                # An adapter bug: retry like a transient error, so a fix and restart still sends it.
                log.exception("adapter %s raised unexpectedly", account.name)
                await self._retry(item, f"unexpected error: {type(exc).__name__}: {exc}", None, "error")
            else:
                await self._succeed(item, result)
        if len(self._recipient_locks) > 10_000:
            self._recipient_locks = {k: v for k, v in self._recipient_locks.items() if v.locked()}

    async def _still_ours(self, item: Claimed) -> bool:
        """Renew the claim right before sending, if it has not expired: waiting for rate limits can
        take long, and a row whose lease ran out may already be in another dispatcher's hands. A
        claim taken moments ago is certainly still ours; that common case costs no round trip."""
        if time.monotonic() - item.claimed_at < self.lease.total_seconds() / 3:
            return True
        now = utcnow()
        async with self.db.transaction() as session:
            renewed = await session.execute(
                update(OutboxItem)
                .where(self._ours(item) & (OutboxItem.lease_until > now))
                .values(lease_until=now + self.lease)
            )
        return bool(renewed.rowcount)  # type: ignore[attr-defined]

    def _ours(self, item: Claimed) -> ColumnElement[bool]:
        """This worker still holds this claim (not taken over after a lease expiry)."""
        return (
            (OutboxItem.id == item.id)
            & (OutboxItem.claimed_by == self.worker_id)
            & (OutboxItem.status == OutboxStatus.SENDING)
            & (OutboxItem.attempts == item.attempts)
        )

    async def _succeed(self, item: Claimed, result: SendResult) -> None:
        now = utcnow()
        provider_id = result.provider_message_ids[0] if result.provider_message_ids else None
        events: list[LiveEvent] = []
        async with self.db.transaction() as session:
            updated = await session.execute(
                update(OutboxItem)
                .where(self._ours(item))
                .values(
                    status=OutboxStatus.SENT,
                    sent_at=now,
                    provider_message_id=provider_id,
                    lease_until=None,
                    last_error=None,
                )
            )
            if updated.rowcount == 0:  # type: ignore[attr-defined]
                log.warning("outbox %s: claim lost before recording success (lease expired?)", item.id)
                return
            if item.message_id is not None:
                message = await mark_sent(session, item.message_id, result.provider_message_ids, now)
                if message is not None:
                    events.append(_message_updated(message))
            hook = self._hook_for(item)
            if hook is not None:
                await hook.sent(session, item.payload, provider_id, now)
        metrics.OUTBOX_SENT.labels(item.channel_account, "sent").inc()
        await self.bus.publish_all(events)

    async def _retry(self, item: Claimed, reason: str, retry_after: float | None, kind: str) -> None:
        if item.attempts >= MAX_ATTEMPTS:
            await self._fail(item, f"gave up after {item.attempts} attempts: {reason}")
            return
        delay = backoff_delay(item.attempts, retry_after)
        log.info("outbox %s attempt %s failed (%s); retrying in %.1fs", item.id, item.attempts, reason, delay)
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxItem)
                .where(self._ours(item))
                .values(
                    status=OutboxStatus.PENDING,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    lease_until=None,
                    last_error=reason,
                )
            )
        metrics.OUTBOX_SENT.labels(item.channel_account, kind).inc()

    async def _fail(self, item: Claimed, reason: str) -> None:
        events: list[LiveEvent] = []
        async with self.db.transaction() as session:
            updated = await session.execute(
                update(OutboxItem)
                .where(self._ours(item))
                .values(status=OutboxStatus.FAILED, lease_until=None, last_error=reason)
            )
            if updated.rowcount == 0:  # type: ignore[attr-defined]
                return
            if item.message_id is not None:
                message = await mark_failed(session, item.message_id, reason)
                if message is not None:
                    events.append(_message_updated(message))
            hook = self._hook_for(item)
            if hook is not None:
                await hook.failed(session, item.payload, reason, utcnow())
        log.warning("outbox %s failed permanently: %s", item.id, reason)
        metrics.OUTBOX_SENT.labels(item.channel_account, "failed").inc()
        await self.bus.publish_all(events)


def _message_updated(message: Message) -> LiveEvent:
    return LiveEvent(
        "inbox",
        {"type": "message.updated", "message_id": message.id, "conversation_id": message.conversation_id},
    )
