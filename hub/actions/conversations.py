"""Agent actions on conversations: reply, note, assign, change status, labels, retry a failed send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import Button
from crm_core.customers import get_customer
from crm_core.models import Identity
from hub.accounts import IDENTITY_KIND
from hub.auth.credentials import Principal
from hub.errors import ApiError
from hub.flows import on_business_event
from hub.inbound.apply import inbox_event
from hub.live import LiveEvent
from hub.outbound.enqueue import WAKE_TOPIC, enqueue_message, requeue_message
from hub.outbound.models import OutboxItem
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
) -> Message:
    """Queue an agent's reply, by default on the channel the customer last wrote from, or on another
    of the customer's channels. With an Idempotency-Key, repeating the request returns the first
    reply instead of sending twice."""
    outbox_key = f"api:{principal.label}:{idempotency_key}" if idempotency_key else None
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
        )
        if outbox_key is not None:
            message.meta = {**message.meta, "idempotency_key": idempotency_key}
        await enqueue_message(
            session, message, reply_to=reply_to, idempotency_key=outbox_key, original_subject=subject
        )
    await hub.bus.publish_all(
        [
            inbox_event("message.created", message),
            inbox_event("conversation.updated", conversation=conversation),
        ]
    )
    await hub.bus.publish(WAKE_TOPIC, {})
    return message


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


async def add_note(hub: Hub, conversation_id: int, principal: Principal, text: str) -> Note:
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id)
        note = await inbox.add_note(session, conversation, principal.agent_id, text)
    await hub.bus.publish(
        "inbox", {"type": "note.created", "conversation_id": conversation_id, "note_id": note.id}
    )
    return note


async def assign(hub: Hub, conversation_id: int, agent_id: int | None, team_id: int | None) -> Conversation:
    async with hub.db.transaction() as session:
        if agent_id is not None and await session.get(Agent, agent_id) is None:
            raise ApiError(422, "unknown_agent", f"agent {agent_id} does not exist")
        if team_id is not None and await session.get(Team, team_id) is None:
            raise ApiError(422, "unknown_team", f"team {team_id} does not exist")
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        await inbox.assign(session, conversation, agent_id=agent_id, team_id=team_id)
    await hub.bus.publish_all([inbox_event("conversation.updated", conversation=conversation)])
    return conversation


async def set_status(
    hub: Hub, conversation_id: int, status: ConversationStatus, snoozed_until: datetime | None
) -> Conversation:
    flow_events: list[LiveEvent] = []
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        was = conversation.status
        await inbox.set_status(session, conversation, status, snoozed_until=snoozed_until)
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
    await hub.bus.publish_all([inbox_event("conversation.updated", conversation=conversation), *flow_events])
    if flow_events:
        await hub.bus.publish(WAKE_TOPIC, {})
    return conversation


async def update(
    hub: Hub, conversation_id: int, priority: Priority | None, labels: list[str] | None
) -> Conversation:
    async with hub.db.transaction() as session:
        conversation = await inbox.get_conversation(session, conversation_id, lock=True)
        await inbox.set_priority_and_labels(session, conversation, priority=priority, labels=labels)
    await hub.bus.publish_all([inbox_event("conversation.updated", conversation=conversation)])
    return conversation
