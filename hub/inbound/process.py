"""Processing stored raw events: parse, apply, mark processed — one transaction per raw event.

Any number of processors may run (one inside `hub serve` on SQLite; one per `hub serve`/`hub worker`
process on PostgreSQL). A processor claims a batch of pending events with a lease (FOR UPDATE SKIP
LOCKED on PostgreSQL); an event whose processor died is taken over when its lease expires, and on
start every pending event is picked up, so nothing acknowledged is ever lost. A failing event is
retried with backoff and after MAX_ATTEMPTS parked as ``failed`` with its error, never dropped.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import or_, select, update

from channels.contract import WebhookRequest
from crm_core.columns import utcnow
from hub import metrics
from hub.accounts import Accounts
from hub.db import Database
from hub.inbound.apply import EventApplier, ReceiptTooEarly
from hub.inbound.models import RawEvent, RawEventStatus
from hub.inbound.receive import WAKE_TOPIC
from hub.live import LiveEvent, LocalBus
from hub.outbound.enqueue import WAKE_TOPIC as OUTBOX_WAKE_TOPIC

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A receipt can beat our own commit of the provider id; after this many tries it is for a message
# that was not sent through us (or is gone), and is dropped.
RECEIPT_ATTEMPTS = 4


def request_of(raw: RawEvent) -> WebhookRequest:
    return WebhookRequest(
        method=raw.method,
        url=raw.url,
        headers=dict(raw.headers),
        body=raw.body,
        query=dict(parse_qsl(urlsplit(raw.url).query, keep_blank_values=True)),
    )


class InboundProcessor:
    def __init__(
        self,
        db: Database,
        accounts: Accounts,
        bus: LocalBus,
        applier: EventApplier,
        *,
        lease_seconds: float = 60.0,
        batch_size: int = 100,
        idle_poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.bus = bus
        self.applier = applier
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds

    async def run(self) -> None:
        with self.bus.subscribe(WAKE_TOPIC) as wake:
            while True:
                try:
                    done = await self.process_pending()
                except Exception:
                    log.exception("inbound processing round failed; retrying")
                    done = 0
                if done == 0:
                    await wake.get(wait_seconds=self.idle_poll_seconds)

    async def claim(self) -> list[int]:
        now = utcnow()
        statement = (
            select(RawEvent.id)
            .where(RawEvent.status == RawEventStatus.PENDING)
            .where(or_(RawEvent.claimed_until.is_(None), RawEvent.claimed_until < now))
            .order_by(RawEvent.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self.db.transaction() as session:
            ids = list((await session.execute(statement)).scalars())
            if ids:
                await session.execute(
                    update(RawEvent)
                    .where(RawEvent.id.in_(ids))
                    .values(claimed_until=now + self.lease, attempts=RawEvent.attempts + 1)
                )
        return ids

    async def process_pending(self) -> int:
        """Claim and process one batch, oldest first. Returns how many events were claimed."""
        ids = await self.claim()
        for raw_id in ids:
            await self.process_one(raw_id)
        return len(ids)

    async def process_one(self, raw_id: int) -> None:
        live: list[LiveEvent] = []
        channel = "unknown"
        try:
            async with self.db.transaction() as session:
                # Locked and re-read: if our lease ran out and another processor took the event
                # over, we wait for it here and then find it processed, instead of applying it twice.
                raw = await session.get(RawEvent, raw_id, with_for_update=True, populate_existing=True)
                if raw is None or raw.status is not RawEventStatus.PENDING:
                    return
                channel = raw.channel_type
                account = self.accounts.get(raw.account)
                for event in account.adapter.parse(request_of(raw)):
                    live += await self.applier.apply(session, account, event)
                raw.status = RawEventStatus.PROCESSED
                raw.processed_at = utcnow()
                raw.claimed_until = None
                raw.error = None
                session.add(raw)
        except ReceiptTooEarly as exc:
            await self._record_failure(
                raw_id, exc, give_up_after=RECEIPT_ATTEMPTS, parked=RawEventStatus.PROCESSED
            )
            metrics.RAW_EVENTS.labels(channel, "receipt_retry").inc()
            return
        except Exception as exc:
            await self._record_failure(raw_id, exc)
            metrics.RAW_EVENTS.labels(channel, "error").inc()
            return
        metrics.RAW_EVENTS.labels(channel, "processed").inc()
        await self.bus.publish_all(live)
        if any(e.payload.get("type") == "message.created" for e in live):
            await self.bus.publish(OUTBOX_WAKE_TOPIC, {})

    async def _record_failure(
        self,
        raw_id: int,
        exc: Exception,
        *,
        give_up_after: int = MAX_ATTEMPTS,
        parked: RawEventStatus = RawEventStatus.FAILED,
    ) -> None:
        """Retry later with backoff; after ``give_up_after`` attempts park the event as ``parked``
        (failed, or processed for a receipt about a message that never turned up)."""
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        async with self.db.transaction() as session:
            raw = await session.get(RawEvent, raw_id, with_for_update=True, populate_existing=True)
            if raw is None or raw.status is not RawEventStatus.PENDING:
                return
            raw.error = reason
            if raw.attempts >= give_up_after:
                raw.status = parked
                raw.processed_at = utcnow() if parked is RawEventStatus.PROCESSED else None
                raw.claimed_until = None
                log.error("raw event %s (%s) failed for good: %s", raw_id, raw.account, reason)
            else:
                # Leave it pending; the lease keeps it from being retried before the backoff.
                raw.claimed_until = utcnow() + timedelta(seconds=2**raw.attempts)
                log.warning(
                    "raw event %s (%s) failed (attempt %s): %s", raw_id, raw.account, raw.attempts, reason
                )
            session.add(raw)
