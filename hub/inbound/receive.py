"""Receiving a provider's request: verify, persist raw, dedupe, acknowledge. Nothing else happens
before the answer, so providers get their 200 fast and nothing they sent can be lost: whatever is
stored is processed later (hub.inbound.process), also after a crash.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite

from channels.contract import Acknowledgement, MalformedEvent, NormalizedEvent, WebhookRequest
from crm_core.addresses import InvalidAddress, normalize_address
from crm_core.columns import utcnow
from hub.accounts import Account
from hub.db import Database
from hub.inbound.models import RawEvent, RawEventStatus
from hub.live import LocalBus

log = logging.getLogger(__name__)

WAKE_TOPIC = "wake:inbound"

# Never stored: credentials some providers send with every request.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-telegram-bot-api-secret-token",
        "x-webchat-token",
        "x-viber-auth-token",
    }
)


@dataclass(frozen=True)
class Received:
    raw_event_id: int | None
    duplicate: bool
    acknowledgement: Acknowledgement


def check_addresses(events: list[NormalizedEvent], default_region: str | None) -> None:
    """MalformedEvent for an address no customer record could be keyed on (a phone number that
    isn't one, an overlong id): refused now rather than stored and failing later."""
    for event in events:
        addresses = [getattr(event, "sender", None), getattr(event, "caller", None)]
        addresses += list(getattr(event, "extra_identities", ()))
        for address in addresses:
            if address is None:
                continue
            try:
                normalize_address(address.kind.value, address.value, default_region)
            except (InvalidAddress, ValueError) as exc:
                raise MalformedEvent(f"sender address: {exc}") from None


async def receive(
    db: Database, bus: LocalBus, account: Account, request: WebhookRequest, default_region: str | None = None
) -> Received:
    """Verify and store one inbound request. Raises SignatureError (forged) or MalformedEvent (bad
    input) before anything is written."""
    adapter = account.adapter
    adapter.verify(request)
    event_key = adapter.event_id(request)
    if len(event_key) > 300:
        # Keys are compared whole: a long one is hashed rather than cut, so two never collide.
        event_key = "sha256:" + hashlib.sha256(event_key.encode()).hexdigest()
    try:
        # Parse now too, so bad input is refused with a clear 400 instead of failing later; the
        # processor parses again from the stored bytes.
        check_addresses(adapter.parse(request), default_region)
    except MalformedEvent:
        raise
    except Exception:
        # An adapter bug must not lose the event: store it, processing will record the error.
        log.exception("parsing a %s event for %s failed; stored for processing", account.type, account.name)

    raw_id = await store_raw(db, account, request, event_key)
    if raw_id is not None:
        await bus.publish(WAKE_TOPIC, {"id": raw_id})
    else:
        log.info("duplicate %s event %s for %s ignored", account.type, event_key, account.name)
    return Received(raw_id, raw_id is None, adapter.acknowledgement(request))


async def store_raw(db: Database, account: Account, request: WebhookRequest, event_key: str) -> int | None:
    """Insert the raw event; None when (account, event_key) was already stored."""
    insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    headers = {k: v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS}
    statement = (
        insert(RawEvent)
        .values(
            account=account.name,
            channel_type=account.type,
            event_key=event_key,
            method=request.method,
            url=request.url,
            headers=headers,
            body=request.body,
            received_at=utcnow(),
            status=RawEventStatus.PENDING,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["account", "event_key"])
        .returning(RawEvent.id)
    )
    async with db.transaction() as session:
        return (await session.execute(statement)).scalar_one_or_none()
