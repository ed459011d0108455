"""Writing down what became of claimed outbox rows, many rows per transaction.

A row is marked sent in the same transaction that stores the provider's message id (and marks the
inbox message sent, and tells its hook), and only if the worker still holds its claim. Outcomes of
concurrent sends are gathered by a Batcher (hub/outbound/batching.py): plain sent rows are settled
by one statement per batch, the others one by one in the same transaction. If a batch fails, each
of its rows is tried again in a transaction of its own, so one bad row does not hold back the rest.

Outcomes: ``Sent``; ``Retry`` (a transient failure: due again after exponential backoff with jitter,
never sooner than the provider's retry-after, failed after MAX_ATTEMPTS); ``Failed`` (permanently,
with the reason on the message, where the agent sees it); ``PutBack`` (not sent and not an attempt:
waiting for a rate limit, or the worker is stopping).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import SendResult
from crm_core.columns import utcnow
from hub import metrics
from hub.db import Database
from hub.live import LiveEvent, LocalBus
from hub.outbound.batching import Batcher
from hub.outbound.claims import Claimed, held
from hub.outbound.hooks import OutboxHook
from hub.outbound.models import OutboxItem, OutboxStatus
from inbox.conversations import mark_failed, mark_sent
from inbox.models import Message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = 1.0
MAX_DELAY = 300.0

# Plain rows (no inbox message, no hook) sent in one batch, settled by one statement.
_PG_SENT = text(
    "UPDATE outbox AS o SET status = :sent, sent_at = :at, provider_message_id = v.provider_id, "
    "lease_until = NULL, last_error = NULL "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:provider_ids AS TEXT[])) "
    "AS v(id, attempts, provider_id) "
    "WHERE o.id = v.id AND o.claimed_by = :worker AND o.status = :sending AND o.attempts = v.attempts "
    "RETURNING o.id"
)


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
class Sent:
    result: SendResult


@dataclass(frozen=True)
class Retry:
    reason: str
    retry_after: float | None
    kind: str  # rate_limited | transient | error (the metric's outcome label)


@dataclass(frozen=True)
class Failed:
    reason: str


@dataclass(frozen=True)
class PutBack:
    until: datetime
    reason: str


Outcome = Sent | Retry | Failed | PutBack


@dataclass(frozen=True)
class Settle:
    item: Claimed
    outcome: Outcome
    hook: OutboxHook | None


class Outcomes:
    """Records outcomes for one dispatcher; ``record`` returns whether the claim was still held."""

    def __init__(self, db: Database, bus: LocalBus, *, max_batch: int = 1000) -> None:
        self.db = db
        self.bus = bus
        self._batcher: Batcher[Settle, bool | Exception] = Batcher(self._flush, max_batch)

    async def record(self, item: Claimed, outcome: Outcome, hook: OutboxHook | None) -> bool:
        recorded = await self._batcher.submit(Settle(item, outcome, hook))
        if isinstance(recorded, Exception):
            raise recorded
        return recorded

    async def _flush(self, batch: Sequence[Settle]) -> list[bool | Exception]:
        events: list[LiveEvent] = []
        try:
            async with self.db.transaction() as session:
                recorded: list[bool | Exception] = list(await self._write(session, batch, events))
        except Exception:
            if len(batch) == 1:
                raise
            log.exception(
                "recording %s outbox outcomes together failed; recording them one by one", len(batch)
            )
            events.clear()
            recorded = []
            for settle in batch:
                own: list[LiveEvent] = []
                try:
                    async with self.db.transaction() as session:
                        [done] = await self._write(session, [settle], own)
                    recorded.append(done)
                    events.extend(own)
                except Exception as exc:
                    recorded.append(exc)
        for settle, done in zip(batch, recorded, strict=True):
            label = _label(settle)
            if done is True and label is not None:
                metrics.OUTBOX_SENT.labels(settle.item.channel_account, label).inc()
        await self.bus.publish_all(events)
        return recorded

    async def _write(
        self, session: AsyncSession, batch: Sequence[Settle], events: list[LiveEvent]
    ) -> list[bool]:
        now = utcnow()
        plain = [
            s for s in batch if isinstance(s.outcome, Sent) and s.item.message_id is None and s.hook is None
        ]
        done: dict[int, bool] = {}
        if plain and not self.db.is_sqlite:
            done.update(await _settle_plain_sent(session, plain, now))
        for settle in batch:
            if settle.item.id not in done:
                done[settle.item.id] = await _write_one(session, settle, now, events)
        return [done[settle.item.id] for settle in batch]


async def _settle_plain_sent(session: AsyncSession, plain: list[Settle], now: datetime) -> dict[int, bool]:
    rows = await session.execute(
        _PG_SENT,
        {
            "sent": OutboxStatus.SENT.value,
            "sending": OutboxStatus.SENDING.value,
            "at": now,
            "worker": plain[0].item.claimed_by,
            "ids": [s.item.id for s in plain],
            "attempts": [s.item.attempts for s in plain],
            "provider_ids": [_provider_id(s.outcome) for s in plain],  # type: ignore[arg-type]
        },
    )
    updated = set(rows.scalars())
    for settle in plain:
        if settle.item.id not in updated:
            log.warning("outbox %s: claim lost before recording success (lease expired?)", settle.item.id)
    return {s.item.id: s.item.id in updated for s in plain}


def _provider_id(outcome: Sent) -> str | None:
    ids = outcome.result.provider_message_ids
    return ids[0] if ids else None


def _effective(settle: Settle) -> Outcome:
    """A retry of the last allowed attempt is a failure."""
    outcome = settle.outcome
    if isinstance(outcome, Retry) and settle.item.attempts >= MAX_ATTEMPTS:
        return Failed(f"gave up after {settle.item.attempts} attempts: {outcome.reason}")
    return outcome


async def _write_one(session: AsyncSession, settle: Settle, now: datetime, events: list[LiveEvent]) -> bool:
    item, outcome, hook = settle.item, _effective(settle), settle.hook
    if isinstance(outcome, Sent):
        provider_id = _provider_id(outcome)
        values: dict[str, object] = {
            "status": OutboxStatus.SENT,
            "sent_at": now,
            "provider_message_id": provider_id,
            "lease_until": None,
            "last_error": None,
        }
    elif isinstance(outcome, Retry):
        delay = backoff_delay(item.attempts, outcome.retry_after)
        log.info(
            "outbox %s attempt %s failed (%s); retrying in %.1fs",
            item.id,
            item.attempts,
            outcome.reason,
            delay,
        )
        values = {
            "status": OutboxStatus.PENDING,
            "next_attempt_at": now + timedelta(seconds=delay),
            "lease_until": None,
            "last_error": outcome.reason,
        }
    elif isinstance(outcome, Failed):
        values = {"status": OutboxStatus.FAILED, "lease_until": None, "last_error": outcome.reason}
    else:
        values = {
            "status": OutboxStatus.PENDING,
            "next_attempt_at": outcome.until,
            "lease_until": None,
            # Waiting is not a failed attempt.
            "attempts": OutboxItem.attempts - 1,
            "last_error": outcome.reason,
        }
    updated = await session.execute(update(OutboxItem).where(held(item)).values(**values))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        if isinstance(outcome, Sent):
            log.warning("outbox %s: claim lost before recording success (lease expired?)", item.id)
        return False
    if isinstance(outcome, Sent):
        if item.message_id is not None:
            message = await mark_sent(session, item.message_id, outcome.result.provider_message_ids, now)
            if message is not None:
                events.append(_message_updated(message))
        if hook is not None:
            await hook.sent(session, item.payload, _provider_id(outcome), now)
    elif isinstance(outcome, Failed):
        log.warning("outbox %s failed permanently: %s", item.id, outcome.reason)
        if item.message_id is not None:
            message = await mark_failed(session, item.message_id, outcome.reason)
            if message is not None:
                events.append(_message_updated(message))
        if hook is not None:
            await hook.failed(session, item.payload, outcome.reason, now)
    return True


def _label(settle: Settle) -> str | None:
    """The metric's outcome label; a row put back was not an attempt."""
    outcome = _effective(settle)
    if isinstance(outcome, Sent):
        return "sent"
    if isinstance(outcome, Retry):
        return outcome.kind
    if isinstance(outcome, Failed):
        return "failed"
    return None


def _message_updated(message: Message) -> LiveEvent:
    return LiveEvent(
        "inbox",
        {"type": "message.updated", "message_id": message.id, "conversation_id": message.conversation_id},
    )
