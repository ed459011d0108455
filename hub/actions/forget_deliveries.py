"""Erasure's search of the stored provider deliveries (``raw_events``) for one person.

The hub keeps every delivery as the provider sent it (for deduplication and replay), and those
bodies hold the person's name, number and words. They carry no customer id, so a delivery is theirs
when the channel account's adapter, reading it as the pipeline did, finds one of their addresses as
sender (or shared contact, or caller), or one of their messages' provider ids in a receipt. Any of
their addresses appearing verbatim counts too, for deliveries that no longer parse or whose account
left hub.yaml.

A matching delivery keeps its row, emptied: the (account, event key) pair is what recognises a
provider's late retry as a duplicate. Keys that themselves carry the person's chat id (web chat
visitor, Viber user) are replaced by their hash. Deliveries not processed yet are marked processed,
so nothing of them reaches the record after the erasure.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import (
    Address,
    CallEvent,
    DeliveryReceipt,
    InboundMessage,
    NormalizedEvent,
    SubscriptionChange,
)
from crm_core.addresses import InvalidAddress, normalize_address
from crm_core.columns import utcnow
from crm_core.models import IdentityKind
from hub.accounts import Accounts, UnknownAccount
from hub.inbound.models import RawEvent, RawEventStatus
from hub.inbound.process import request_of

log = logging.getLogger(__name__)

BATCH = 500
# Shorter addresses (a Telegram id like 777) are found by parsing the delivery, never as substrings.
MIN_NEEDLE = 6
ERASED_KEY = "erased:"


@dataclass
class Traces:
    """How a person shows up in what providers send: their addresses (identity kind, normalised
    address) and the provider ids of their messages, per channel account."""

    addresses: set[tuple[str, str]] = field(default_factory=set)
    message_ids: set[tuple[str, str]] = field(default_factory=set)

    def needles(self) -> set[str]:
        """Their addresses as they may appear verbatim in a delivery, lowercased."""
        found: set[str] = set()
        for kind, address in self.addresses:
            forms = {address.lower()}
            if kind == IdentityKind.PHONE.value:
                # Twilio posts forms (+ as %2B); Viber shares numbers without the plus.
                forms |= {address.lstrip("+"), address.replace("+", "%2b")}
            found |= {form for form in forms if len(form) >= MIN_NEEDLE}
        return found

    def named_in(self, key: str) -> bool:
        """Whether an identifier (an event key, a provider message id) contains their address."""
        parts = set(key.split(":"))
        lowered = key.lower()
        return any(address in parts for _, address in self.addresses) or any(
            n in lowered for n in self.needles()
        )


def _normalized(address: Address, region: str | None) -> tuple[str, str] | None:
    try:
        kind = IdentityKind(address.kind.value)
        return kind.value, normalize_address(kind, address.value, region)
    except (InvalidAddress, ValueError):
        return None


def _about(event: NormalizedEvent, account: str, traces: Traces, region: str | None) -> bool:
    if isinstance(event, InboundMessage):
        if (
            event.provider_message_id is not None
            and (account, event.provider_message_id) in traces.message_ids
        ):
            return True
        return any(
            _normalized(a, region) in traces.addresses for a in (event.sender, *event.extra_identities)
        )
    if isinstance(event, SubscriptionChange):
        return _normalized(event.sender, region) in traces.addresses
    if isinstance(event, CallEvent):
        return _normalized(event.caller, region) in traces.addresses
    if isinstance(event, DeliveryReceipt):
        return (account, event.provider_message_id) in traces.message_ids or any(
            event.recipient == address for _, address in traces.addresses
        )
    return False


def _is_about(accounts: Accounts, region: str | None, raw: RawEvent, traces: Traces) -> bool:
    try:
        adapter = accounts.get(raw.account).adapter
        if any(_about(event, raw.account, traces, region) for event in adapter.parse(request_of(raw))):
            return True
    except UnknownAccount:
        pass
    except Exception as exc:  # a delivery that cannot be read any more is still searched below
        log.debug("raw event %s not parsed during an erasure: %s", raw.id, type(exc).__name__)
    text = bytes(raw.body).decode("utf-8", "replace").lower() + "\n" + repr(raw.headers).lower()
    return any(needle in text for needle in traces.needles())


async def forget_deliveries(
    session: AsyncSession,
    accounts: Accounts,
    region: str | None,
    traces: Traces,
    account_names: set[str],
    since: datetime,
) -> int:
    """Empty the deliveries of ``account_names`` received since ``since`` that concern the person;
    returns how many. Reads the candidates in batches, so large email bodies never pile up."""
    forgotten: list[int] = []
    pending: list[int] = []
    rekeyed: dict[int, str] = {}
    after = 0
    while True:
        statement = (
            select(RawEvent)
            .where(RawEvent.id > after, RawEvent.received_at >= since, RawEvent.account.in_(account_names))  # type: ignore[attr-defined]
            .order_by(RawEvent.id)
            .limit(BATCH)
        )
        batch = list((await session.execute(statement)).scalars())
        if not batch:
            break
        after = batch[-1].id  # type: ignore[assignment]
        for raw in batch:
            if _is_about(accounts, region, raw, traces):
                forgotten.append(raw.id)  # type: ignore[arg-type]
                if raw.status is RawEventStatus.PENDING:
                    pending.append(raw.id)  # type: ignore[arg-type]
                if traces.named_in(raw.event_key):
                    rekeyed[raw.id] = ERASED_KEY + hashlib.sha256(raw.event_key.encode()).hexdigest()  # type: ignore[index]
            session.expunge(raw)
    if forgotten:
        await session.execute(
            update(RawEvent).where(RawEvent.id.in_(forgotten)).values(body=b"", headers={}, error=None)  # type: ignore[union-attr]
        )
    for raw_id, key in rekeyed.items():
        await session.execute(update(RawEvent).where(RawEvent.id == raw_id).values(event_key=key))
    if pending:
        await session.execute(
            update(RawEvent)
            .where(RawEvent.id.in_(pending))  # type: ignore[union-attr]
            .values(status=RawEventStatus.PROCESSED, processed_at=utcnow(), claimed_until=None)
        )
    return len(forgotten)
