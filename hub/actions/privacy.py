"""GDPR: a customer's data as one JSON document (right of access), and erasure (right to be forgotten).

A person may be several customer records merged into one (the survivor and the records merged into
it). Both operations take the whole merge chain: the export lists what every record of the chain
holds, and erasure forgets all of them. A record that was merged into another is reached through its
survivor (409 names it), so one person is never half erased.

**Export** holds everything the hub keeps about the person: the record, attributes and tags,
identities, consents and their history, the timeline, every conversation with its messages (with
links to the files, signed so the person can open them), private notes, campaign messages and
journeys, the segments they are in now, merges and a bot conversation in progress. Notes are
included by default: they are staff's words, but they are *about* the customer and often hold their
personal data, which the right of access covers whoever wrote it; their authors are left out
(staff's own data), and ``notes=false`` leaves the notes out where the law lets the hub withhold
them (legal claims).

**Erasure** runs in one transaction. Message texts, attachments, addresses and provider metadata are
replaced, notes on their conversations too; identities and consents are deleted (so a new message
from the same phone or email makes a new customer); timeline entries keep only their kind and time;
the record keeps only its id as "Erased customer #id"; pending outbox messages are cancelled and every
outbox row loses its recipient and content; campaign sends keep their status and times (the funnels'
counts) but lose the address, and campaign journeys under way end; order summaries are recomputed
from the emptied entries; the paused bot flow and segment entries are deleted; merge records lose
the values they copied; the raw provider deliveries that came from or went about the person are
emptied (their rows stay, so a provider's late retry of one is still recognised as a duplicate).
The audit log keeps an entry with ids and counts only. Files of theirs no other message uses are
deleted from the media store after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.state import FlowState
from crm_core.columns import utcnow
from crm_core.customers import get_customer, record_event
from crm_core.models import Consent, Customer, CustomerEvent, Identity, MergeRecord
from crm_core.segments.entries import SegmentEntry
from crm_core.segments.order_summary import rebuild_order_summaries
from hub import audit
from hub.accounts import IDENTITY_KIND
from hub.actions.forget_deliveries import Traces, forget_deliveries
from hub.auth.credentials import Principal
from hub.campaigns.models import (
    Campaign,
    CampaignJourney,
    CampaignSend,
    JourneyExit,
    JourneyStatus,
    SendStatus,
    SkipReason,
)
from hub.errors import ApiError
from hub.outbound.models import OutboxItem, OutboxStatus, RateLimitState
from hub.outbound.ratelimit import recipient_key
from hub.runtime import Hub
from hub.segments import segments_for
from inbox.models import Conversation, Message, Note

ERASED_EVENT = "customer.erased"
ERASED_TEXT = "[erased]"
# Deliveries are looked for from a day before the person's oldest record was created: a record is
# created by processing its first delivery, which can lag the delivery's arrival (retries, backlog).
RAW_EVENT_MARGIN = timedelta(days=1)
_MEDIA_DIGEST = re.compile(r"/media/(?:shared/)?([0-9a-f]{64})/")


def erased_name(customer_id: int) -> str:
    return f"Erased customer #{customer_id}"


# ---- the person: a record and the records merged into it ----------------------------------------


async def _chain(session: AsyncSession, customer_id: int, *, lock: bool = False) -> list[Customer]:
    """The customer (which must be a survivor, not merged away) and every record merged into it,
    directly or through others; the survivor first. ``lock`` locks the rows (id order)."""
    customer = await get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise ApiError(
            409,
            "customer_merged",
            f"customer {customer_id} was merged into customer {customer.merged_into_id}; "
            f"use {customer.merged_into_id}, which includes it",
        )
    ids = [customer_id]
    frontier = [customer_id]
    while frontier:
        found = list(
            (
                await session.execute(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
            ).scalars()  # type: ignore[union-attr]
        )
        frontier = [i for i in found if i not in ids]
        ids += frontier
    if lock:
        await session.execute(
            select(Customer.id).where(Customer.id.in_(ids)).order_by(Customer.id).with_for_update()
        )  # type: ignore[union-attr]
    customers = {
        c.id: c for c in (await session.execute(select(Customer).where(Customer.id.in_(ids)))).scalars()
    }  # type: ignore[union-attr]
    return [customers[i] for i in ids]


async def is_erased(session: AsyncSession, customer_id: int) -> bool:
    statement = select(CustomerEvent.id).where(
        CustomerEvent.customer_id == customer_id, CustomerEvent.kind == ERASED_EVENT
    )
    return (await session.execute(statement.limit(1))).first() is not None


def _in(column: Any, values: Iterable[Any]) -> Any:
    return column.in_(list(values))


# ---- export ---------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _attachment(hub: Hub, data: dict[str, Any]) -> dict[str, Any]:
    url = data.get("url")
    if isinstance(url, str) and url.startswith(hub.media.URL_PREFIX) and not url.startswith("/media/shared/"):
        # A link the person can open without an agent's login.
        url = hub.media.share(url)
    keys = ("kind", "filename", "content_type", "size", "caption", "data")
    return {**{key: data.get(key) for key in keys if data.get(key) is not None}, "url": url}


def _message(hub: Hub, message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "at": _iso(message.created_at),
        "direction": message.direction.value,
        "from": message.author_kind.value,
        "channel": message.channel_type,
        "channel_account": message.channel_account,
        "address": message.address,
        "subject": message.meta.get("subject"),
        "text": message.text,
        "buttons": [b.get("title") for b in message.buttons if isinstance(b, dict)],
        "attachments": [_attachment(hub, a) for a in message.attachments if isinstance(a, dict)],
        "status": message.status.value,
        "failure_reason": message.failure_reason,
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
    }


async def _conversations(
    hub: Hub, session: AsyncSession, ids: list[int], include_notes: bool
) -> list[dict[str, Any]]:
    conversations = list(
        (
            await session.execute(
                select(Conversation).where(_in(Conversation.customer_id, ids)).order_by(Conversation.id)
            )
        ).scalars()
    )
    conversation_ids = [c.id for c in conversations]
    messages: dict[int, list[dict[str, Any]]] = {}
    statement = select(Message).where(_in(Message.conversation_id, conversation_ids)).order_by(Message.id)
    for message in (await session.execute(statement)).scalars():
        messages.setdefault(message.conversation_id, []).append(_message(hub, message))
    notes: dict[int, list[dict[str, Any]]] = {}
    if include_notes:
        statement = select(Note).where(_in(Note.conversation_id, conversation_ids)).order_by(Note.id)
        for note in (await session.execute(statement)).scalars():
            notes.setdefault(note.conversation_id, []).append(
                {"at": _iso(note.created_at), "text": note.text}
            )
    return [
        {
            "id": c.id,
            "channel": c.channel_type,
            "channel_account": c.channel_account,
            "status": c.status.value,
            "priority": c.priority.value,
            "labels": c.labels,
            "started_at": _iso(c.created_at),
            "resolved_at": _iso(c.resolved_at),
            "messages": messages.get(c.id, []),  # type: ignore[arg-type]
            **({"notes": notes.get(c.id, [])} if include_notes else {}),  # type: ignore[arg-type]
        }
        for c in conversations
    ]


async def _campaign_messages(session: AsyncSession, ids: list[int]) -> list[dict[str, Any]]:
    statement = (
        select(CampaignSend, Campaign.name)
        .join(Campaign, Campaign.id == CampaignSend.campaign_id)
        .where(_in(CampaignSend.customer_id, ids))
        .order_by(CampaignSend.id)
    )
    return [
        {
            "campaign": send.campaign_id,
            "campaign_name": name,
            "step": send.step,
            "variant": send.variant,
            "purpose": send.purpose,
            "channel": send.channel_type,
            "address": send.address,
            "status": send.status.value,
            "reason": send.reason,
            **{
                key: _iso(getattr(send, key))
                for key in (
                    "planned_at",
                    "sent_at",
                    "delivered_at",
                    "read_at",
                    "failed_at",
                    "clicked_at",
                    "replied_at",
                    "converted_at",
                )
            },
        }
        for send, name in (await session.execute(statement)).all()
    ]


async def _campaign_journeys(session: AsyncSession, ids: list[int]) -> list[dict[str, Any]]:
    statement = (
        select(CampaignJourney).where(_in(CampaignJourney.customer_id, ids)).order_by(CampaignJourney.id)
    )
    return [
        {
            "campaign": journey.campaign_id,
            "status": journey.status.value,
            "step": journey.step,
            "entered_at": _iso(journey.entered_at),
            "finished_at": _iso(journey.finished_at),
            "exit_reason": journey.exit_reason,
        }
        for journey in (await session.execute(statement)).scalars()
    ]


def _record(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.display_name,
        "locale": customer.locale,
        "timezone": customer.timezone,
        "attributes": customer.attributes,
        "tags": customer.tags,
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
    }


async def export_customer(
    hub: Hub, customer_id: int, principal: Principal, *, include_notes: bool = True
) -> dict[str, Any]:
    """Everything the hub holds about the customer (see the module docstring), as JSON-able data.
    The export is in the audit log once the document is complete."""
    async with hub.db.session() as session:
        chain = await _chain(session, customer_id)
        ids = [c.id for c in chain if c.id is not None]
        identities = (await session.execute(select(Identity).where(_in(Identity.customer_id, ids)))).scalars()
        consents = (await session.execute(select(Consent).where(_in(Consent.customer_id, ids)))).scalars()
        events = list(
            (
                await session.execute(
                    select(CustomerEvent)
                    .where(_in(CustomerEvent.customer_id, ids))
                    .order_by(CustomerEvent.occurred_at, CustomerEvent.id)
                )
            ).scalars()
        )
        merges = (
            await session.execute(
                select(MergeRecord)
                .where(or_(_in(MergeRecord.survivor_id, ids), _in(MergeRecord.merged_id, ids)))
                .order_by(MergeRecord.id)
            )
        ).scalars()
        flow = (
            (await session.execute(select(FlowState).where(_in(FlowState.customer_id, ids))))
            .scalars()
            .first()
        )
        document: dict[str, Any] = {
            "format": "omnihub customer export 1",
            "exported_at": _iso(utcnow()),
            "customer": _record(chain[0]),
            "merged_records": [{**_record(c), "merged_into": c.merged_into_id} for c in chain[1:]],
            "identities": [
                {
                    "kind": i.kind.value,
                    "address": i.address,
                    "name": i.display_name,
                    "verified": i.verified,
                    "source": i.source,
                    "added_at": _iso(i.created_at),
                }
                for i in identities
            ],
            "consents": [
                {
                    "channel": c.channel,
                    "purpose": c.purpose.value,
                    "granted": c.granted,
                    "changed_at": _iso(c.changed_at),
                    "source": c.source,
                }
                for c in consents
            ],
            "consent_history": [
                {"at": _iso(e.occurred_at), **e.payload, "source": e.source}
                for e in events
                if e.kind == "consent.changed"
            ],
            "timeline": [
                {"at": _iso(e.occurred_at), "kind": e.kind, "details": e.payload, "source": e.source}
                for e in events
            ],
            "conversations": await _conversations(hub, session, ids, include_notes),
            "campaign_messages": await _campaign_messages(session, ids),
            "campaign_journeys": await _campaign_journeys(session, ids),
            "segments": [
                {"id": s.id, "name": s.name}
                for s in await segments_for(hub.config).segments_of(session, customer_id)
            ],
            "merges": [
                {
                    "id": m.id,
                    "survivor": m.survivor_id,
                    "merged": m.merged_id,
                    "merged_at": _iso(m.merged_at),
                    "merged_by": m.merged_by,
                    "undone_at": _iso(m.undone_at),
                }
                for m in merges
            ],
            "bot_conversation": {
                "flow": flow.flow_id,
                "step": flow.step,
                "answers": flow.variables,
                "started_at": _iso(flow.started_at),
            }
            if flow is not None
            else None,
        }
    async with hub.db.transaction() as session:
        details = {"customers": ids, "notes": include_notes}
        audit.record(session, principal, "customer.export", "customer", customer_id, details)
    return document


# ---- erasure --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """What an erasure changed (ids and counts only, like its audit entry)."""

    customer_ids: list[int]
    messages: int
    notes: int
    identities: int
    consents: int
    timeline_entries: int
    outbox_rows: int
    campaign_sends: int
    raw_events: int
    files_deleted: int = 0


@dataclass
class _Person:
    """What erasure works through: the person's records and where they show up elsewhere."""

    ids: list[int]
    identities: int = 0
    conversation_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    # Messages whose provider id carries their chat id (web chat: "visitor:message").
    naming_message_ids: list[int] = field(default_factory=list)
    send_ids: list[int] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)
    traces: Traces = field(default_factory=Traces)


def _digests(attachments: Iterable[Any]) -> set[str]:
    found = set()
    for attachment in attachments:
        if isinstance(attachment, dict) and isinstance(attachment.get("url"), str):
            match = _MEDIA_DIGEST.search(attachment["url"])
            if match:
                found.add(match.group(1))
    return found


def _kind_of(channel_type: str) -> str | None:
    kind = IDENTITY_KIND.get(channel_type)
    return kind.value if kind is not None else None


async def _find(hub: Hub, session: AsyncSession, ids: list[int]) -> _Person:
    person = _Person(ids=ids)
    identities = (
        await session.execute(select(Identity.kind, Identity.address).where(_in(Identity.customer_id, ids)))
    ).all()
    person.identities = len(identities)
    person.traces.addresses = {(kind.value, address) for kind, address in identities}
    person.conversation_ids = list(
        (await session.execute(select(Conversation.id).where(_in(Conversation.customer_id, ids)))).scalars()
    )
    messages = (
        await session.execute(
            select(
                Message.id,
                Message.channel_account,
                Message.channel_type,
                Message.address,
                Message.provider_message_id,
                Message.attachments,
            ).where(or_(_in(Message.customer_id, ids), _in(Message.conversation_id, person.conversation_ids)))
        )
    ).all()
    for message_id, account, channel_type, address, provider_id, attachments in messages:
        person.message_ids.append(message_id)
        person.accounts.add(account)
        person.digests |= _digests(attachments or [])
        kind = _kind_of(channel_type)
        if address and kind is not None:
            # An address their messages used that is no identity (any more): an agent typed it.
            person.traces.addresses.add((kind, address))
        if provider_id:
            person.traces.message_ids.add((account, provider_id))
    person.naming_message_ids = [m[0] for m in messages if m[4] and person.traces.named_in(m[4])]
    sends = (
        await session.execute(
            select(CampaignSend.id, CampaignSend.channel_account, CampaignSend.provider_message_id).where(
                _in(CampaignSend.customer_id, ids)
            )
        )
    ).all()
    person.send_ids = [send_id for send_id, _, _ in sends]
    person.accounts |= {account for _, account, _ in sends if account}
    person.traces.message_ids |= {(account, pid) for _, account, pid in sends if account and pid}
    # Accounts that address people by a kind of address they have (a receipt or a delivery that
    # never became a message of theirs).
    kinds = {kind for kind, _ in person.traces.addresses}
    person.accounts |= {account.name for account in hub.accounts if _kind_of(account.type) in kinds}
    return person


async def _forget_outbox(session: AsyncSession, person: _Person) -> int:
    """Their outgoing messages (conversation replies, campaign attempts, anything to their
    addresses): pending ones cancelled, every one without recipient and content."""
    addresses = {address for _, address in person.traces.addresses}
    to_them = or_(
        _in(OutboxItem.message_id, person.message_ids),
        _in(OutboxItem.recipient, addresses),
        *(OutboxItem.idempotency_key.like(f"campaign:{send_id}:%") for send_id in person.send_ids),  # type: ignore[attr-defined]
    )
    rows = (
        await session.execute(
            select(OutboxItem.id, OutboxItem.payload, OutboxItem.channel_account, OutboxItem.recipient).where(
                to_them
            )
        )
    ).all()
    ids = [row[0] for row in rows]
    for row in rows:
        person.digests |= _digests((row[1] or {}).get("attachments") or [])
    # Per-recipient rate limit state is keyed by their address.
    limit_keys = {recipient_key(account, recipient) for _, _, account, recipient in rows} | {
        recipient_key(account, address) for account in person.accounts for address in addresses
    }
    await session.execute(delete(RateLimitState).where(_in(RateLimitState.key, limit_keys)))
    if ids:
        await session.execute(
            update(OutboxItem)
            .where(
                _in(OutboxItem.id, ids), _in(OutboxItem.status, [OutboxStatus.PENDING, OutboxStatus.SENDING])
            )
            .values(status=OutboxStatus.CANCELLED, lease_until=None)
        )
        await session.execute(
            update(OutboxItem)
            .where(_in(OutboxItem.id, ids))
            .values(recipient="", payload={}, last_error=None)
        )
    return len(ids)


async def _forget_conversations(session: AsyncSession, person: _Person) -> int:
    """Message texts, files, addresses and provider metadata, and the notes on their conversations;
    the rows stay (reports count them). Returns how many notes were redacted."""
    if person.message_ids:
        await session.execute(
            update(Message)
            .where(_in(Message.id, person.message_ids))
            .values(text=ERASED_TEXT, address="", attachments=[], buttons=[], meta={}, failure_reason=None)
        )
    if person.naming_message_ids:
        await session.execute(
            update(Message).where(_in(Message.id, person.naming_message_ids)).values(provider_message_id=None)
        )
    redacted = await session.execute(
        update(Note).where(_in(Note.conversation_id, person.conversation_ids)).values(text=ERASED_TEXT)
    )
    return int(redacted.rowcount)  # type: ignore[attr-defined]


async def _forget_campaign_sends(session: AsyncSession, person: _Person) -> None:
    """Sends stay for the funnels' counts, without the address; those not sent yet never will be,
    and journeys they are walking end as for a customer who is gone."""
    ids = person.ids
    await session.execute(
        update(CampaignSend)
        .where(
            _in(CampaignSend.customer_id, ids),
            _in(CampaignSend.status, [SendStatus.PLANNED, SendStatus.QUEUED]),
        )
        .values(status=SendStatus.SKIPPED, reason=SkipReason.CANCELLED.value)
    )
    await session.execute(update(CampaignSend).where(_in(CampaignSend.customer_id, ids)).values(address=None))
    await session.execute(
        update(CampaignJourney)
        .where(_in(CampaignJourney.customer_id, ids), CampaignJourney.status == JourneyStatus.ACTIVE)
        .values(
            status=JourneyStatus.EXITED,
            exit_reason=JourneyExit.CUSTOMER_GONE.value,
            step=None,
            wake_at=None,
            deadline=None,
            listening=False,
            finished_at=utcnow(),
        )
    )


async def _forget_record(session: AsyncSession, chain: list[Customer]) -> tuple[int, int]:
    """Identities, consents, the paused bot flow and segment entries go; timeline entries keep their
    kind and time; each record keeps its id only. Returns (consents deleted, timeline entries)."""
    ids = [c.id for c in chain]
    await session.execute(delete(Identity).where(_in(Identity.customer_id, ids)))
    consents = await session.execute(delete(Consent).where(_in(Consent.customer_id, ids)))
    timeline = await session.execute(
        update(CustomerEvent).where(_in(CustomerEvent.customer_id, ids)).values(payload={})
    )
    # Order summaries follow the events they add up, now without amounts.
    await rebuild_order_summaries(session, ids)
    await session.execute(delete(FlowState).where(_in(FlowState.customer_id, ids)))
    await session.execute(delete(SegmentEntry).where(_in(SegmentEntry.customer_id, ids)))
    statement = select(MergeRecord).where(
        or_(_in(MergeRecord.survivor_id, ids), _in(MergeRecord.merged_id, ids))
    )
    for record in (await session.execute(statement)).scalars():
        # Merge records keep what a merge copied, for undo: names, tags, earlier consent decisions.
        # Only which attribute keys moved stays; an undo then leaves the erased record as it is.
        record.moved = {**record.moved, "fields_filled": {}, "tags_added": [], "consents_overwritten": []}
        session.add(record)
    now = utcnow()
    for customer in chain:
        customer.display_name = erased_name(customer.id)  # type: ignore[arg-type]
        customer.locale = None
        customer.timezone = None
        customer.attributes = {}
        customer.tags = []
        customer.updated_at = now
        session.add(customer)
    return int(consents.rowcount), int(timeline.rowcount)  # type: ignore[attr-defined]


def _check_confirmation(customer: Customer, confirm: str) -> None:
    accepted = {str(customer.id), customer.display_name.strip().lower()} - {""}
    if confirm.strip().lower() not in accepted:
        raise ApiError(
            422,
            "confirmation_mismatch",
            f"to erase customer {customer.id}, confirm with their id ({customer.id}) or their name",
        )


async def erase_customer(hub: Hub, customer_id: int, confirm: str, principal: Principal) -> Erasure:
    """Forget the person (see the module docstring) in one transaction; their files leave the media
    store after it commits. ``confirm`` must be the customer's id or name: this cannot be undone."""
    async with hub.db.transaction() as session:
        chain = await _chain(session, customer_id, lock=True)
        if await is_erased(session, customer_id):
            raise ApiError(409, "customer_erased", f"customer {customer_id} was already erased")
        _check_confirmation(chain[0], confirm)
        person = await _find(hub, session, [c.id for c in chain if c.id is not None])
        outbox_rows = await _forget_outbox(session, person)
        raw_events = await forget_deliveries(
            session,
            hub.accounts,
            hub.config.default_region,
            person.traces,
            person.accounts,
            min(c.created_at for c in chain) - RAW_EVENT_MARGIN,
        )
        notes = await _forget_conversations(session, person)
        await _forget_campaign_sends(session, person)
        consents, timeline = await _forget_record(session, chain)
        await record_event(session, customer_id, ERASED_EVENT, {}, source=principal.label)
        erasure = Erasure(
            customer_ids=person.ids,
            messages=len(person.message_ids),
            notes=notes,
            identities=person.identities,
            consents=consents,
            timeline_entries=timeline,
            outbox_rows=outbox_rows,
            campaign_sends=len(person.send_ids),
            raw_events=raw_events,
        )
        details = {k: v for k, v in asdict(erasure).items() if k != "files_deleted"}
        audit.record(session, principal, "customer.erase", "customer", customer_id, details)
    files = await _delete_unused_files(hub, person.digests)
    await hub.bus.publish("inbox", {"type": "customer.updated", "customer_id": customer_id})
    return replace(erasure, files_deleted=files)


async def _delete_unused_files(hub: Hub, digests: set[str]) -> int:
    """After the commit: delete the person's files from the media store unless another message,
    outbox row or campaign still links the same content (files are stored once per content)."""
    deleted = 0
    async with hub.db.session() as session:
        for digest in sorted(digests):
            pattern = f"%{digest}%"
            users = (
                select(Message.id).where(cast(Message.attachments, Text).like(pattern)),
                select(OutboxItem.id).where(cast(OutboxItem.payload, Text).like(pattern)),
                select(Campaign.id).where(cast(Campaign.definition, Text).like(pattern)),
            )
            used = False
            for statement in users:
                used = used or (await session.execute(statement.limit(1))).first() is not None
            path = hub.media.path_for(digest)
            if not used and path is not None:
                path.unlink(missing_ok=True)
                deleted += 1
    return deleted
