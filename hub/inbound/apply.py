"""Applying one normalised event to the customer record and the inbox.

Runs inside the processor's transaction for the raw event, so a message, its timeline entry, the
bot's replies and their outbox rows are written together or not at all. Returns the live events to
publish once that transaction has committed.

Bot replies become outbound messages here (``queue_bot_reply``, also used for flows speaking on
events and timeouts, hub/flows.py): files a reply carries (a QR code) go to the media store, and a
reply for another channel of the customer's (``say`` with ``channel: sms``) goes to their address of
that kind; one that cannot be delivered as meant is skipped, with the reason on their timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bots.turn import Bot, BotReply, BotTurn
from channels.contract import (
    Address,
    CallEvent,
    CallStatus,
    DeliveryReceipt,
    InboundMessage,
    MalformedEvent,
    NormalizedEvent,
    SubscriptionChange,
)
from channels.webchat import visitor_topic
from crm_core.addresses import InvalidAddress, normalize_address
from crm_core.columns import utcnow
from crm_core.consent import set_consent
from crm_core.customers import attach_identity, record_event, resolve_identity
from crm_core.merge import MergeParticipant, merge_customers
from crm_core.models import ConsentPurpose, Customer, CustomerEvent, Identity, IdentityKind, MergeRecord
from hub import audit, deeplinks
from hub.accounts import IDENTITY_KIND, Account
from hub.live import LiveEvent
from hub.media import MediaStore
from hub.outbound.enqueue import enqueue_message
from inbox.conversations import (
    Threaded,
    add_inbound_message,
    add_outbound_message,
    apply_receipt,
    edit_inbound_message,
    outbound_message_exists,
    thread_inbound,
)
from inbox.models import AuthorKind, Conversation, Message, MessageStatus

log = logging.getLogger(__name__)

_RECEIPT_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
}


def _insert_ignore(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


BusinessEventHook = Callable[
    [AsyncSession, Customer, str, Mapping[str, Any], Conversation], Awaitable[list[LiveEvent]]
]


def _audit_merge(session: AsyncSession, record: MergeRecord, reason: str) -> None:
    """Merges the hub makes by itself are in the audit log too, as the system's (ids and why only)."""
    details = {"merged_id": record.merged_id, "merge_id": record.id, "reason": reason}
    audit.record(session, None, "customer.merge", "customer", record.survivor_id, details)


class ReceiptTooEarly(LookupError):
    """A delivery receipt for a message we don't know (yet): retried for a while, then dropped."""


def inbox_event(
    kind: str, message: Message | None = None, conversation: Conversation | None = None
) -> LiveEvent:
    payload: dict[str, Any] = {"type": kind}
    if message is not None:
        payload["message_id"] = message.id
        payload["conversation_id"] = message.conversation_id
    if conversation is not None:
        payload["conversation_id"] = conversation.id
    return LiveEvent("inbox", payload)


@dataclass(frozen=True)
class ReplyTarget:
    """Where a bot reply goes unless it names another channel: the customer's address on an account,
    and what an email reply threads on."""

    address: str
    channel_account: str
    channel_type: str
    reply_to: tuple[str, ...] = ()
    subject: str | None = None


async def queue_bot_reply(
    session: AsyncSession,
    conversation: Conversation,
    reply: BotReply,
    target: ReplyTarget | None,
    media: MediaStore | None,
) -> Message | None:
    """Queue a bot's reply as an outbound message of ``conversation`` (to ``target``, or to the
    customer's address on the channel the reply names). Returns None when it is not sent: without a
    target there is nobody to answer (the customer never wrote there), and a reply the hub cannot
    deliver as the flow meant is skipped with a ``flow.reply_skipped`` timeline entry saying why."""
    if reply.channel_type is not None and (target is None or reply.channel_type != target.channel_type):
        target = await _other_channel(session, conversation, reply)
    if target is None:
        return None
    attachments = _reply_attachments(reply, media)
    if attachments is None:
        await _skip(session, conversation, reply, "the hub has no media store to keep its image in")
        return None
    message = await add_outbound_message(
        session,
        conversation,
        text=reply.text,
        author_kind=AuthorKind.BOT,
        address=target.address,
        channel_account=target.channel_account,
        channel_type=target.channel_type,
        buttons=[asdict(b) for b in reply.buttons],
        attachments=attachments,
    )
    await enqueue_message(session, message, reply_to=target.reply_to, original_subject=target.subject)
    return message


async def _other_channel(
    session: AsyncSession, conversation: Conversation, reply: BotReply
) -> ReplyTarget | None:
    """The customer's address on the channel the reply names: their newest identity of the kind
    that channel addresses, verified ones first (like an agent's reply on another channel)."""
    channel = reply.channel_type
    assert channel is not None
    kind = IDENTITY_KIND.get(channel)
    if kind is None or reply.channel_account is None:
        await _skip(session, conversation, reply, f"no {channel} channel account is configured")
        return None
    address = (
        await session.execute(
            select(Identity.address)
            .where(Identity.customer_id == conversation.customer_id, Identity.kind == kind)
            .order_by(Identity.verified.desc(), Identity.id.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).scalar_one_or_none()
    if address is None:
        await _skip(
            session,
            conversation,
            reply,
            f"the customer has no {kind.value} identity, so {channel} cannot reach them",
        )
        return None
    return ReplyTarget(address, reply.channel_account, channel)


def _reply_attachments(reply: BotReply, media: MediaStore | None) -> list[dict[str, Any]] | None:
    """The reply's attachments as a message stores them, bytes moved to the media store and linked
    by the signed public URL the provider and the customer fetch them at (None when there are bytes
    and no store)."""
    stored = []
    for attachment in reply.attachments:
        data = asdict(attachment)
        content = data.pop("content")
        if content:
            if media is None:
                return None
            data["url"] = media.share(media.save(content, attachment.filename))
            data["size"] = data.get("size") or len(content)
        stored.append(data)
    return stored


async def _skip(session: AsyncSession, conversation: Conversation, reply: BotReply, reason: str) -> None:
    log.warning("bot reply in conversation %s not sent: %s", conversation.id, reason)
    await record_event(
        session,
        conversation.customer_id,
        "flow.reply_skipped",
        {
            "conversation_id": conversation.id,
            "channel": reply.channel_type or conversation.channel_type,
            "text": reply.text,
            "reason": reason,
        },
        source="bot",
    )


class CampaignFeedback(Protocol):
    """What the inbound side tells campaigns (hub.campaigns.service.Campaigns)."""

    delivery: Any

    async def on_reply(self, session: AsyncSession, customer_id: int, at: datetime | None = None) -> None: ...


class EventApplier:
    def __init__(
        self,
        bots: Sequence[Bot],
        media: MediaStore,
        merge_participants: Sequence[MergeParticipant],
        default_region: str | None = None,
        deep_link_secret: bytes = b"",
        on_business_event: BusinessEventHook | None = None,
        campaigns: CampaignFeedback | None = None,
    ) -> None:
        self.bots = bots
        self.media = media
        self.merge_participants = merge_participants
        self.default_region = default_region
        self.deep_link_secret = deep_link_secret
        # Events the channels produce that flows may start on (call.missed), in this transaction.
        self.on_business_event = on_business_event
        # Campaign messages are not inbox messages: their receipts and the replies they get go here.
        self.campaigns = campaigns

    async def apply(self, session: AsyncSession, account: Account, event: NormalizedEvent) -> list[LiveEvent]:
        if isinstance(event, InboundMessage):
            return await self._message(session, account, event)
        if isinstance(event, DeliveryReceipt):
            return await self._receipt(session, account, event)
        if isinstance(event, SubscriptionChange):
            return await self._subscription(session, account, event)
        if isinstance(event, CallEvent):
            return await self._call(session, account, event)
        raise TypeError(f"unknown normalised event {type(event).__name__}")

    # ---------------------------------------------------------------------------------------------

    async def _already_missed(self, session: AsyncSession, customer: Customer, event: CallEvent) -> bool:
        """A forwarded call nobody answered reports "missed" and then "ended": it is one missed call
        in the conversation, not two entries."""
        if event.status is not CallStatus.ENDED:
            return False
        return any(p.get("call_id") == event.call_id for p in await _missed_calls(session, customer.id))  # type: ignore[arg-type]

    def _normalize(self, address: Address) -> tuple[IdentityKind, str]:
        kind = IdentityKind(address.kind.value)
        try:
            return kind, normalize_address(kind, address.value, self.default_region)
        except InvalidAddress as exc:
            raise MalformedEvent(str(exc)) from None

    async def _customer_for(
        self, session: AsyncSession, account: Account, address: Address, locale: str | None = None
    ) -> tuple[Customer, str]:
        kind, value = self._normalize(address)
        resolved = await resolve_identity(
            session,
            kind,
            value,
            verified=address.verified,
            source=f"{account.name} inbound",
            display_name=address.display_name,
            locale=locale,
        )
        customer = resolved.customer
        if locale and not customer.locale:
            customer.locale = locale
            session.add(customer)
        return customer, value

    async def _stitch(
        self, session: AsyncSession, account: Account, customer: Customer, extra: Sequence[Address]
    ) -> Customer:
        """Attach identities the provider vouches for (a shared own phone). A verified address that
        already belongs to another customer means both records are one person: merge them, the
        older record surviving (the merge is recorded and can be undone)."""
        for address in extra:
            kind, value = self._normalize(address)
            owner = await attach_identity(
                session, customer, kind, value, verified=address.verified, source=f"{account.name} shared"
            )
            if isinstance(owner, Customer) and address.verified:
                survivor, merged = sorted((owner, customer), key=lambda c: c.id or 0)
                record = await merge_customers(
                    session,
                    survivor.id,  # type: ignore[arg-type]
                    merged.id,  # type: ignore[arg-type]
                    by=f"verified {kind.value} shared on {account.name}",
                    participants=self.merge_participants,
                )
                _audit_merge(session, record, f"verified {kind.value} shared on {account.name}")
                customer = survivor
        return customer

    async def _follow_deep_link(
        self, session: AsyncSession, account: Account, customer: Customer, payload: str
    ) -> Customer:
        """A valid deep-link token binds the identity the person arrived with to the customer the
        token was issued for: the arriving record is merged into that customer (recorded, undoable)."""
        target_id = deeplinks.resolve(self.deep_link_secret, payload)
        if target_id is None:
            return customer
        target = await session.get(Customer, target_id)
        while target is not None and target.merged_into_id is not None:
            target = await session.get(Customer, target.merged_into_id)
        if target is None or target.id == customer.id:
            return customer
        first_use = (
            await session.execute(
                _insert_ignore(session, deeplinks.DeepLinkUse)
                .values(
                    token_hash=deeplinks.token_hash(payload, account.name),
                    customer_id=target.id,
                    used_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["token_hash"])
                .returning(deeplinks.DeepLinkUse.token_hash)
            )
        ).scalar_one_or_none()
        if first_use is None:
            # Already used by someone else: perhaps a forwarded link. Bind nobody; an agent can
            # still merge by hand if it is the same person.
            await record_event(
                session,
                customer,
                "identity.link_refused",
                {"account": account.name, "reason": "link already used"},
                source=account.name,
            )
            return customer
        record = await merge_customers(
            session,
            target.id,  # type: ignore[arg-type]
            customer.id,  # type: ignore[arg-type]
            by=f"deep link opened on {account.name}",
            participants=self.merge_participants,
        )
        _audit_merge(session, record, f"deep link opened on {account.name}")
        await record_event(
            session,
            target,
            "identity.linked",
            {"account": account.name, "via": "deep link"},
            source=account.name,
        )
        return target

    def _attachments(self, event: InboundMessage) -> list[dict[str, Any]]:
        stored = []
        for attachment in event.attachments:
            data = asdict(attachment)
            content = data.pop("content")
            if content:
                data["url"] = self.media.save(content, attachment.filename)
                data["size"] = data.get("size") or len(content)
            stored.append(data)
        return stored

    async def _message(
        self, session: AsyncSession, account: Account, event: InboundMessage
    ) -> list[LiveEvent]:
        at = event.sent_at or utcnow()
        if event.edited and event.provider_message_id:
            edited = await edit_inbound_message(
                session, account.name, event.provider_message_id, event.text, at
            )
            if edited is not None:
                return [inbox_event("message.updated", edited)]
        customer, address = await self._customer_for(session, account, event.sender, event.locale)
        customer = await self._stitch(session, account, customer, event.extra_identities)
        shared_phone = self._shared_phone(event)
        text = event.text
        linked = False
        if event.start_payload is not None:
            arrived = customer.id
            customer = await self._follow_deep_link(session, account, customer, event.start_payload)
            linked = customer.id != arrived
            # The payload is a credential of sorts: agents see that the chat was started, not the token.
            text = "/start" if text.startswith("/start") or not text else text
        threaded = await thread_inbound(
            session, customer, account.name, account.type, at, replying_to=event.in_reply_to
        )
        meta: dict[str, Any] = dict(event.metadata)
        for key in ("button_payload", "subject"):
            if getattr(event, key):
                meta[key] = getattr(event, key)
        if event.in_reply_to:
            meta["in_reply_to"] = list(event.in_reply_to)
        message = await add_inbound_message(
            session,
            threaded.conversation,
            channel_account=account.name,
            channel_type=account.type,
            address=address,
            text=text,
            attachments=self._attachments(event),
            provider_message_id=event.provider_message_id,
            at=at,
            meta=meta,
        )
        events = [inbox_event("message.created", message)]
        if account.type == "webchat":
            # The visitor's other open tabs show their own message too.
            events.append(
                LiveEvent(visitor_topic(account.name, address), {"type": "message", "message_id": message.id})
            )
        events += await self._run_bots(
            session, account, customer, threaded, event, address, message, shared_phone
        )
        if self.campaigns is not None:
            await self.campaigns.on_reply(session, customer.id, at)  # type: ignore[arg-type]
        if linked:
            # After the /start turn: a flow waiting for the customer to arrive (the missed-call flow
            # sent them the link) continues here, on the channel they arrived on.
            payload = {"channel": account.type, "account": account.name}
            await record_event(session, customer, "deep_link.opened", payload, source=account.name)
            if self.on_business_event is not None:
                events += await self.on_business_event(
                    session, customer, "deep_link.opened", payload, threaded.conversation
                )
        return events

    def _shared_phone(self, event: InboundMessage) -> str | None:
        """The verified phone a shared own contact brought (already stitched onto the record), for
        the bot: a share_contact step waits for it."""
        for address in event.extra_identities:
            if address.kind.value == IdentityKind.PHONE.value and address.verified:
                return self._normalize(address)[1]
        return None

    async def _run_bots(
        self,
        session: AsyncSession,
        account: Account,
        customer: Customer,
        threaded: Threaded,
        event: InboundMessage,
        address: str,
        inbound: Message,
        shared_phone: str | None = None,
    ) -> list[LiveEvent]:
        if event.metadata.get("auto_reply"):
            # Never answer an out-of-office or a bounce: two autoresponders would talk forever.
            return []
        if event.metadata.get("conversation_started") and not event.metadata.get("subscribed"):
            # Viber refuses messages to someone who only opened the chat; its one allowed welcome
            # goes in the webhook answer (the account's welcome_text), not through the outbox.
            return []
        conversation = threaded.conversation
        turn = BotTurn(
            customer=customer,
            conversation_id=conversation.id,  # type: ignore[arg-type]
            opened=threaded.opened,
            bot_active=conversation.bot_active,
            channel_type=account.type,
            text=event.text,
            button_payload=event.button_payload,
            start_payload=event.start_payload,
            shared_phone=shared_phone,
        )
        target = ReplyTarget(
            address,
            account.name,
            account.type,
            reply_to=(inbound.provider_message_id,) if inbound.provider_message_id else (),
            subject=event.subject,
        )
        events: list[LiveEvent] = []
        for bot in self.bots:
            for reply in await bot.on_inbound(session, turn):
                message = await queue_bot_reply(session, conversation, reply, target, self.media)
                if message is not None:
                    events.append(inbox_event("message.created", message))
        return events

    async def _receipt(
        self, session: AsyncSession, account: Account, event: DeliveryReceipt
    ) -> list[LiveEvent]:
        message = await apply_receipt(
            session,
            account.name,
            event.provider_message_id,
            _RECEIPT_STATUS[event.status.value],
            error=event.error,
            at=event.at,
            recipient=event.recipient,
        )
        if message is None:
            if self.campaigns is not None and await self.campaigns.delivery.receipt(
                session,
                account.name,
                event.provider_message_id,
                event.status.value,
                error=event.error,
                at=event.at,
            ):
                return []
            if not await outbound_message_exists(session, account.name, event.provider_message_id):
                # Providers can report before our dispatcher has committed the provider id.
                raise ReceiptTooEarly(f"no message {event.provider_message_id} on {account.name} (yet)")
            log.debug("older status for %s on %s ignored", event.provider_message_id, account.name)
            return []
        return [inbox_event("message.updated", message)]

    async def _subscription(
        self, session: AsyncSession, account: Account, event: SubscriptionChange
    ) -> list[LiveEvent]:
        customer, _ = await self._customer_for(session, account, event.sender)
        source = f"{account.name}: {event.reason or ('subscribed' if event.subscribed else 'unsubscribed')}"
        if event.purpose in {purpose.value for purpose in ConsentPurpose}:
            await set_consent(
                session, customer.id, account.type, event.purpose, event.subscribed, source=source
            )  # type: ignore[arg-type]
        await record_event(
            session,
            customer,
            "channel.subscribed" if event.subscribed else "channel.unsubscribed",
            {
                "channel": account.type,
                "account": account.name,
                "purpose": event.purpose,
                "start_payload": event.start_payload,
            },
            source=account.name,
        )
        return [LiveEvent("inbox", {"type": "customer.updated", "customer_id": customer.id})]

    async def _call(self, session: AsyncSession, account: Account, event: CallEvent) -> list[LiveEvent]:
        at = event.at or utcnow()
        # On a call we place, the customer is the one we called.
        party = (
            Address(IdentityKind.PHONE, event.callee, verified=True)
            if event.direction == "outbound"
            else event.caller
        )
        customer, address = await self._customer_for(session, account, party)
        payload = {
            "call_id": event.call_id,
            "callee": event.callee,
            "direction": event.direction,
            "duration_seconds": event.duration_seconds,
            "recording_url": event.recording_url,
            "account": account.name,
        }
        await record_event(
            session, customer, f"call.{event.status.value}", payload, source=account.name, occurred_at=at
        )
        if event.status not in (CallStatus.MISSED, CallStatus.ENDED) or await self._already_missed(
            session, customer, event
        ):
            return [LiveEvent("inbox", {"type": "customer.updated", "customer_id": customer.id})]
        threaded = await thread_inbound(session, customer, account.name, account.type, at, reply_here=False)
        message = await add_inbound_message(
            session,
            threaded.conversation,
            channel_account=account.name,
            channel_type=account.type,
            address=address,
            text=_call_summary(event, address),
            at=at,
            meta={"call": payload},
            author_kind=AuthorKind.SYSTEM,
        )
        events = [inbox_event("message.created", message)]
        if event.status is CallStatus.MISSED and self.on_business_event is not None:
            events += await self.on_business_event(
                session, customer, "call.missed", payload, threaded.conversation
            )
        return events


async def _missed_calls(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    statement = (
        select(CustomerEvent.payload)
        .where(CustomerEvent.customer_id == customer_id, CustomerEvent.kind == "call.missed")
        .order_by(CustomerEvent.id.desc())
        .limit(20)
    )
    return list((await session.execute(statement)).scalars())


def _call_summary(event: CallEvent, customer_phone: str) -> str:
    if event.status is CallStatus.MISSED:
        return f"Missed call from {customer_phone}"
    duration = event.duration_seconds or 0
    minutes, seconds = divmod(duration, 60)
    text = f"Call with {customer_phone}, {minutes} min {seconds} s"
    if event.recording_url:
        text += f" (recording: {event.recording_url})"
    return text
