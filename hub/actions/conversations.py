"""Agent actions on conversations: reply (on any of the customer's channels), note with @mentions,
assign, change status, snooze, labels and priority, hand back to the bot, mark read, typing, retry a
failed send."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import Button
from channels.webchat import visitor_topic
from crm_core.columns import utcnow
from crm_core.customers import get_customer
from crm_core.models import Identity
from hub.accounts import IDENTITY_KIND
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission, allows
from hub.errors import ApiError
from hub.flows import on_business_event
from hub.inbound.apply import inbox_event
from hub.live import LiveEvent
from hub.outbound.enqueue import WAKE_TOPIC, enqueue_message, requeue_message
from hub.outbound.models import OutboxItem
from hub.routing import announcements, settle
from hub.runtime import Hub
from inbox import conversations as inbox
from inbox.models import (
    Agent,
    AuthorKind,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    Note,
    Priority,
    Team,
)
from inbox.reads import mark_read as store_read_position
from inbox.reply_limits import ReplyWindow, sms_segments, whatsapp_window


async def _reply_target(session: AsyncSession, conversation: Conversation) -> Message:
    """The customer's latest message on the conversation's reply channel: its address is where the
    reply goes, its provider id is what an email reply threads on."""
    statement = (
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.channel_account == conversation.channel_account,
            Message.direction == Direction.INBOUND,
            Message.author_kind == AuthorKind.CUSTOMER,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    message = (await session.execute(statement)).scalars().first()
    if message is None:
        raise ApiError(
            409,
            "no_reply_channel",
            f"the customer has not written on {conversation.channel_account} in this conversation, "
            "so there is no address to reply to there",
        )
    return message


async def _identity_on(session: AsyncSession, hub: Hub, conversation: Conversation, account_name: str) -> str:
    """The customer's address for a channel account other than the conversation's (an SMS to a
    customer who called, Telegram for one who wrote by email): their newest identity of the kind
    that channel addresses, verified ones first."""
    account = hub.accounts.get(account_name)
    kind = IDENTITY_KIND[account.type]
    identity = (
        (
            await session.execute(
                select(Identity)
                .where(Identity.customer_id == conversation.customer_id, Identity.kind == kind)
                .order_by(Identity.verified.desc(), Identity.id.desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )
    if identity is None:
        raise ApiError(
            409,
            "no_address",
            f"the customer has no {kind.value} identity, so {account_name} cannot reach them",
        )
    return identity.address


async def reply(
    hub: Hub,
    conversation_id: int,
    principal: Principal,
    text: str,
    buttons: Sequence[Button] = (),
    idempotency_key: str | None = None,
    channel_account: str | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
) -> Message:
    """Queue an agent's reply, by default on the channel the customer last wrote from, or on another
    of the customer's channels. With an Idempotency-Key, repeating the request returns the first
    reply instead of sending twice. A WhatsApp reply after the 24-hour window is refused here (the
    provider would refuse it anyway, later and less clearly); an SMS records its segment count."""
    outbox_key = f"api:{principal.label}:{idempotency_key}" if idempotency_key else None
    files = [_shared_attachment(hub, attachment) for attachment in attachments]
    async with hub.db.transaction() as session:
        # Lock first, then look for the key: two identical requests at once queue one reply.
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        if outbox_key is not None:
            existing = (
                await session.execute(
                    select(OutboxItem.message_id).where(OutboxItem.idempotency_key == outbox_key)
                )
            ).scalar_one_or_none()
            if existing is not None:
                message = await session.get(Message, existing)
                assert message is not None
                return message
        if channel_account is None or channel_account == conversation.channel_account:
            target = await _reply_target(session, conversation)
            account = hub.accounts.get(conversation.channel_account)
            address = target.address
            reply_to: tuple[str, ...] = (target.provider_message_id,) if target.provider_message_id else ()
            subject = target.meta.get("subject")
        else:
            account = hub.accounts.get(channel_account)
            address = await _identity_on(session, hub, conversation, channel_account)
            reply_to = ()
            subject = None
        if account.type == "whatsapp":
            window = await _whatsapp_window(session, conversation.customer_id, account.name, address)
            if not window.open:
                raise ApiError(409, "whatsapp_window_closed", _closed_window_sentence(window))
        meta: dict[str, Any] = {}
        if account.type == "sms":
            counted = sms_segments(text)
            meta["sms"] = {"segments": counted.segments, "encoding": counted.encoding}
        message = await inbox.add_outbound_message(
            session,
            conversation,
            text=text,
            author_kind=AuthorKind.AGENT if principal.agent_id is not None else AuthorKind.SYSTEM,
            author_agent_id=principal.agent_id,
            address=address,
            channel_account=account.name,
            channel_type=account.type,
            buttons=[asdict(b) for b in buttons],
            attachments=files,
            meta=meta,
        )
        if outbox_key is not None:
            message.meta = {**message.meta, "idempotency_key": idempotency_key}
        await enqueue_message(
            session, message, reply_to=reply_to, idempotency_key=outbox_key, original_subject=subject
        )
        # A person answered: the first/next response clock stops.
        await settle(session, conversation)
        assigned = announcements(session)
    await hub.bus.publish_all(
        [
            inbox_event("message.created", message),
            inbox_event("conversation.updated", conversation=conversation),
            *assigned,
        ]
    )
    await hub.bus.publish(WAKE_TOPIC, {})
    return message


def _shared_attachment(hub: Hub, attachment: Mapping[str, Any]) -> dict[str, Any]:
    """An uploaded file as the customer gets it: a signed link the provider (or the customer's
    browser) can fetch without logging in."""
    url = str(attachment.get("url", ""))
    digest = url.split("/")[2] if url.startswith("/media/") and url.count("/") == 3 else ""
    if not digest or hub.media.path_for(digest) is None:
        raise ApiError(422, "unknown_attachment", f"{url!r} is not an uploaded file: upload it first")
    return {
        "kind": attachment.get("kind") or "file",
        "url": hub.media.share(url),
        "filename": attachment.get("filename"),
        "content_type": attachment.get("content_type"),
        "size": attachment.get("size"),
    }


async def retry_message(hub: Hub, message_id: int) -> Message:
    async with hub.db.transaction() as session:
        message = await session.get(Message, message_id)
        if message is None or message.direction is not Direction.OUTBOUND:
            raise ApiError(404, "message_not_found", f"outbound message {message_id} does not exist")
        if message.status is not MessageStatus.FAILED or not await requeue_message(session, message_id):
            raise ApiError(409, "not_failed", "only a failed message can be sent again")
        message.status = MessageStatus.QUEUED
        message.failure_reason = None
        session.add(message)
    await hub.bus.publish_all([inbox_event("message.updated", message)])
    await hub.bus.publish(WAKE_TOPIC, {})
    return message


async def add_note(
    hub: Hub, conversation_id: int, principal: Principal, text: str, mentions: Sequence[int] = ()
) -> Note:
    """A private note. Mentioned agents (ids picked in the note box's @ menu) must exist and be
    active; each open screen of theirs is notified through the live stream."""
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id)
        wanted = sorted(set(mentions))
        if wanted:
            active = select(Agent.id, Agent.name, Agent.role).where(
                Agent.id.in_(wanted), Agent.active.is_(True)
            )
            found = {row.id: row for row in (await session.execute(active)).all()}
            if missing := [agent_id for agent_id in wanted if agent_id not in found]:
                named = ", ".join(map(str, missing))
                raise ApiError(422, "unknown_agent", f"cannot mention agent {named}: no such active agent")
            # A mention is an invitation to read the note; someone who may not read notes would only
            # be told that something was said.
            if blind := [row.name for row in found.values() if not allows(row.role, Permission.NOTES_READ)]:
                raise ApiError(
                    422,
                    "cannot_mention",
                    f"{', '.join(blind)} cannot read private notes, so cannot be mentioned",
                )
        note = await inbox.add_note(session, conversation, principal.agent_id, text, wanted)
    await hub.bus.publish(
        "inbox",
        {
            "type": "note.created",
            "conversation_id": conversation_id,
            "note_id": note.id,
            "mentions": note.mentions,
        },
    )
    return note


async def assign(
    hub: Hub, conversation_id: int, agent_id: int | None, team_id: int | None, by: Principal | None = None
) -> Conversation:
    """Assign to an agent and/or a team. A newly assigned agent's screens are told (a sound and a
    notice), unless they assigned it to themselves."""
    async with hub.db.transaction() as session:
        if agent_id is not None and await session.get(Agent, agent_id) is None:
            raise ApiError(422, "unknown_agent", f"agent {agent_id} does not exist")
        if team_id is not None and await session.get(Team, team_id) is None:
            raise ApiError(422, "unknown_team", f"team {team_id} does not exist")
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        before = conversation.assignee_id
        await inbox.assign(session, conversation, agent_id=agent_id, team_id=team_id)
        # A transfer to a team without an agent goes round robin; the previous agent has room again.
        await settle(session, conversation, freed=[before] if before != agent_id else [])
        assigned = announcements(session)
    events = [inbox_event("conversation.updated", conversation=conversation), *assigned]
    if agent_id is not None and agent_id != before:
        payload = {
            "type": "conversation.assigned",
            "conversation_id": conversation_id,
            "agent_id": agent_id,
            "by": by.agent_id if by is not None else None,
        }
        events.append(LiveEvent("inbox", payload))
    await hub.bus.publish_all(events)
    return conversation


async def set_status(
    hub: Hub, conversation_id: int, status: ConversationStatus, snoozed_until: datetime | None
) -> Conversation:
    flow_events: list[LiveEvent] = []
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        was = conversation.status
        await inbox.set_status(session, conversation, status, snoozed_until=snoozed_until)
        # Resolving or snoozing frees the agent's place; reopening an unassigned one goes round robin.
        leaves = status in (ConversationStatus.RESOLVED, ConversationStatus.SNOOZED) and was is not status
        await settle(session, conversation, freed=[conversation.assignee_id] if leaves else [])
        if hub.flows is not None and status is ConversationStatus.RESOLVED and was is not status:
            customer = await get_customer(session, conversation.customer_id)
            flow_events = await on_business_event(
                session,
                hub.flows,
                customer,
                "conversation.resolved",
                {"conversation_id": conversation.id},
                conversation,
            )
        flow_events += announcements(session)
    await hub.bus.publish_all([inbox_event("conversation.updated", conversation=conversation), *flow_events])
    if flow_events:
        await hub.bus.publish(WAKE_TOPIC, {})
    return conversation


async def update(
    hub: Hub, conversation_id: int, priority: Priority | None, labels: list[str] | None
) -> Conversation:
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        try:
            await inbox.set_priority_and_labels(session, conversation, priority=priority, labels=labels)
        except inbox.InvalidLabel as exc:
            raise ApiError(422, "invalid_label", str(exc)) from None
        # The priority may pick another SLA policy.
        await settle(session, conversation)
        assigned = announcements(session)
    await hub.bus.publish_all([inbox_event("conversation.updated", conversation=conversation), *assigned])
    return conversation


async def hand_back_to_bot(hub: Hub, conversation_id: int) -> Conversation:
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        before = conversation.assignee_id
        await inbox.hand_back_to_bot(session, conversation)
        await settle(session, conversation, freed=[before])
        assigned = announcements(session)
    await hub.bus.publish_all([inbox_event("conversation.updated", conversation=conversation), *assigned])
    return conversation


async def mark_read(hub: Hub, conversation_id: int, principal: Principal, message_id: int | None) -> int:
    """Move the agent's read position; the agent's other screens hear of it (unread badges)."""
    if principal.agent_id is None:
        raise ApiError(409, "not_an_agent", "only a signed-in agent has a read position; API tokens do not")
    async with hub.db.transaction() as session:
        await inbox.get_conversation(session, conversation_id)
        position = await store_read_position(session, principal.agent_id, conversation_id, message_id)
    await hub.bus.publish(
        "inbox",
        {
            "type": "conversation.read",
            "conversation_id": conversation_id,
            "agent_id": principal.agent_id,
            "last_read_message_id": position,
        },
    )
    return position


async def typing(hub: Hub, conversation_id: int, principal: Principal, mode: str) -> None:
    """Tell the other agents someone is writing here (a reply or a note), so two people do not
    answer the same customer at once; a web chat visitor also sees that a reply is coming. Nothing
    is stored: it is only news for open screens."""
    if mode == "reply":
        async with hub.db.session() as session:
            conversation = await inbox.get_conversation(session, conversation_id)
            visitor = None
            if conversation.channel_type == "webchat":
                with contextlib.suppress(ApiError):
                    visitor = (await _reply_target(session, conversation)).address
        if visitor is not None:
            await hub.bus.publish(visitor_topic(conversation.channel_account, visitor), {"type": "typing"})
    await hub.bus.publish(
        "inbox",
        {
            "type": "typing",
            "conversation_id": conversation_id,
            "agent_id": principal.agent_id,
            "name": principal.name,
            "mode": mode,
        },
    )


# ---- where a reply can go ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyOption:
    """A channel account the agent can reply on, with what the reply box should say about it."""

    channel_account: str
    channel_type: str
    address: str
    default: bool  # the channel the customer last wrote from
    max_text_length: int
    whatsapp_window: ReplyWindow | None = None


async def _whatsapp_window(
    session: AsyncSession, customer_id: int, account_name: str, address: str
) -> ReplyWindow:
    """The window opened by the customer's newest message from ``address`` on this WhatsApp account."""
    last = (
        await session.execute(
            select(Message.created_at)
            .where(
                Message.customer_id == customer_id,
                Message.channel_account == account_name,
                Message.address == address,
                Message.direction == Direction.INBOUND,
                Message.author_kind == AuthorKind.CUSTOMER,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return whatsapp_window(last, utcnow())


def _closed_window_sentence(window: ReplyWindow) -> str:
    if window.closes_at is None:
        return (
            "the customer has never written on this WhatsApp number, and WhatsApp only lets a business "
            "start a conversation with an approved template"
        )
    return (
        f"WhatsApp's 24-hour window closed at {window.closes_at:%Y-%m-%d %H:%M} UTC: free-form messages "
        "reach the customer only within 24 hours of their last message; write on another channel"
    )


async def reply_options(hub: Hub, conversation_id: int) -> list[ReplyOption]:
    """Every configured account that can reach the customer: the conversation's reply channel first
    (where the customer last wrote), then the others the customer has an identity for."""
    async with hub.db.session() as session:
        conversation = await inbox.get_conversation(session, conversation_id)
        identities = list(
            (
                await session.execute(
                    select(Identity)
                    .where(Identity.customer_id == conversation.customer_id)
                    .order_by(Identity.verified.desc(), Identity.id.desc())
                )
            ).scalars()
        )
        options: list[ReplyOption] = []
        for account in hub.accounts:
            kind = IDENTITY_KIND.get(account.type)
            if kind is None or account.type in ("voice", "telephony"):
                continue  # calls are not written to
            if account.name == conversation.channel_account:
                try:
                    address = (await _reply_target(session, conversation)).address
                except ApiError:
                    continue
            else:
                address = next((i.address for i in identities if i.kind is kind), "")
                if not address or account.type == "webchat":
                    # A web chat visitor id reaches only the visitor of that site's widget session.
                    continue
            window = None
            if account.type == "whatsapp":
                window = await _whatsapp_window(session, conversation.customer_id, account.name, address)
            options.append(
                ReplyOption(
                    channel_account=account.name,
                    channel_type=account.type,
                    address=address,
                    default=account.name == conversation.channel_account,
                    max_text_length=account.adapter.capabilities.max_text_length,
                    whatsapp_window=window,
                )
            )
    options.sort(key=lambda option: (not option.default, option.channel_account))
    return options
