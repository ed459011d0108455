"""Actions on conversations and messages. Like crm_core, they write within the caller's transaction;
the hub commits and then publishes live events.

Threading rule: a new inbound message joins the customer's unresolved conversation (open, pending or
snoozed; pending and snoozed ones are reopened), whatever channel it came from, and the conversation's
reply channel becomes the one the customer last wrote from. If the customer has no unresolved
conversation, an email that replies to one of a resolved conversation's messages (In-Reply-To /
References) reopens that conversation; otherwise a new one opens. The customer's timeline (crm_core)
gets an entry for every message on every channel, so history never depends on how conversations
were split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.customers import record_event
from crm_core.models import Customer
from inbox.models import (
    AuthorKind,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    Note,
    Priority,
)

UNRESOLVED = (ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.SNOOZED)

_STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


def _moves_forward(current: MessageStatus, new: MessageStatus) -> bool:
    """Receipts only move a message forward: read never goes back to delivered. A failure report
    may follow sent or delivered (an SMS that turned out undeliverable) but never read."""
    if current in (MessageStatus.FAILED, MessageStatus.READ):
        return False
    if new is MessageStatus.FAILED:
        return True
    return _STATUS_RANK[new] > _STATUS_RANK.get(current, -1)


class ConversationNotFound(LookupError):
    pass


class InvalidTransition(ValueError):
    pass


class InvalidLabel(ValueError):
    pass


MAX_LABEL_LENGTH = 64


@dataclass(frozen=True)
class Threaded:
    conversation: Conversation
    opened: bool  # a new conversation was opened for this message


async def get_conversation(
    session: AsyncSession, conversation_id: int, *, lock: bool = False
) -> Conversation:
    statement = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        statement = statement.with_for_update()
    conversation = (await session.execute(statement)).scalars().first()
    if conversation is None:
        raise ConversationNotFound(f"conversation {conversation_id} does not exist")
    return conversation


async def thread_inbound(
    session: AsyncSession,
    customer: Customer,
    channel_account: str,
    channel_type: str,
    at: datetime,
    *,
    reply_here: bool = True,
    replying_to: Sequence[str] = (),
) -> Threaded:
    """The conversation a new inbound message belongs to (see the module docstring).

    ``reply_here=False`` keeps an existing conversation's reply channel (a phone call lands in the
    conversation, but replies still go where the customer writes). ``replying_to`` are the provider
    ids the message answers (email In-Reply-To / References): with no unresolved conversation, the
    resolved one they belong to is reopened rather than a new one started. The customer row is
    locked first (FOR UPDATE on PostgreSQL), so two messages from one customer processed at once
    cannot open two conversations.
    """
    await session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    conversation = (
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.customer_id == customer.id, Conversation.status.in_(UNRESOLVED))
                .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )
    if conversation is None and replying_to:
        conversation = await _conversation_replied_to(session, customer, channel_account, replying_to)
        if conversation is not None:
            conversation.resolved_at = None
            # Reopened by the customer: it starts again like a new conversation, with the bot on
            # (a CSAT question sent after resolving gets its answer; a person is one handoff away).
            conversation.bot_active = True
    if conversation is None:
        conversation = Conversation(
            customer_id=customer.id,  # type: ignore[arg-type]
            channel_account=channel_account,
            channel_type=channel_type,
            created_at=at,
            last_message_at=at,
        )
        session.add(conversation)
        await session.flush()
        return Threaded(conversation, opened=True)
    if conversation.status is not ConversationStatus.OPEN:
        conversation.status = ConversationStatus.OPEN
        conversation.snoozed_until = None
    if reply_here:
        conversation.channel_account = channel_account
        conversation.channel_type = channel_type
    session.add(conversation)
    return Threaded(conversation, opened=False)


async def _conversation_replied_to(
    session: AsyncSession, customer: Customer, channel_account: str, replying_to: Sequence[str]
) -> Conversation | None:
    """The customer's conversation holding the newest of the messages this one replies to."""
    statement = (
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.customer_id == customer.id,
            Message.channel_account == channel_account,
            Message.provider_message_id.in_(list(replying_to)),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def add_inbound_message(
    session: AsyncSession,
    conversation: Conversation,
    *,
    channel_account: str,
    channel_type: str,
    address: str,
    text: str,
    attachments: Sequence[Mapping[str, Any]] = (),
    provider_message_id: str | None = None,
    at: datetime | None = None,
    meta: Mapping[str, Any] | None = None,
    author_kind: AuthorKind = AuthorKind.CUSTOMER,
) -> Message:
    at = at or utcnow()
    message = Message(
        conversation_id=conversation.id,  # type: ignore[arg-type]
        customer_id=conversation.customer_id,
        direction=Direction.INBOUND,
        author_kind=author_kind,
        channel_account=channel_account,
        channel_type=channel_type,
        address=address,
        text=text,
        attachments=[dict(a) for a in attachments],
        provider_message_id=provider_message_id,
        status=MessageStatus.RECEIVED,
        meta=dict(meta or {}),
        created_at=at,
    )
    session.add(message)
    conversation.last_message_at = max(conversation.last_message_at, at)
    if conversation.waiting_since is None:
        conversation.waiting_since = at
    session.add(conversation)
    await session.flush()
    if author_kind is not AuthorKind.CUSTOMER:
        # System entries (a call) carry their own timeline event.
        return message
    await record_event(
        session,
        conversation.customer_id,
        "message.inbound",
        {
            "message_id": message.id,
            "conversation_id": conversation.id,
            "channel": channel_type,
            "account": channel_account,
            "text": text[:500],
        },
        source=channel_account,
        occurred_at=at,
    )
    return message


async def edit_inbound_message(
    session: AsyncSession,
    channel_account: str,
    provider_message_id: str,
    text: str,
    at: datetime | None = None,
) -> Message | None:
    """Apply a customer's edit to a message they sent earlier; the first version stays in meta."""
    message = (
        (
            await session.execute(
                select(Message).where(
                    Message.channel_account == channel_account,
                    Message.provider_message_id == provider_message_id,
                    Message.direction == Direction.INBOUND,
                )
            )
        )
        .scalars()
        .first()
    )
    if message is None:
        return None
    meta = dict(message.meta)
    meta.setdefault("original_text", message.text)
    message.meta = meta
    message.text = text
    message.edited_at = at or utcnow()
    session.add(message)
    return message


async def add_outbound_message(
    session: AsyncSession,
    conversation: Conversation,
    *,
    text: str,
    author_kind: AuthorKind,
    author_agent_id: int | None = None,
    address: str,
    channel_account: str | None = None,
    channel_type: str | None = None,
    buttons: Sequence[Mapping[str, Any]] = (),
    attachments: Sequence[Mapping[str, Any]] = (),
    meta: Mapping[str, Any] | None = None,
) -> Message:
    """A queued outbound message; the hub's outbox sends it. An agent's reply is the conversation's
    first response (if none yet), stops the bot, and ends the customer's wait."""
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,  # type: ignore[arg-type]
        customer_id=conversation.customer_id,
        direction=Direction.OUTBOUND,
        author_kind=author_kind,
        author_agent_id=author_agent_id,
        channel_account=channel_account or conversation.channel_account,
        channel_type=channel_type or conversation.channel_type,
        address=address,
        text=text,
        buttons=[dict(b) for b in buttons],
        attachments=[dict(a) for a in attachments],
        status=MessageStatus.QUEUED,
        meta=dict(meta or {}),
        created_at=now,
        waited_since=conversation.waiting_since if author_kind is AuthorKind.AGENT else None,
    )
    session.add(message)
    conversation.last_message_at = now
    if author_kind is AuthorKind.AGENT:
        conversation.bot_active = False
        conversation.waiting_since = None
        if conversation.first_response_at is None:
            conversation.first_response_at = now
    session.add(conversation)
    await session.flush()
    await record_event(
        session,
        conversation.customer_id,
        "message.outbound",
        {
            "message_id": message.id,
            "conversation_id": conversation.id,
            "channel": message.channel_type,
            "account": message.channel_account,
            "author": author_kind.value,
            "text": text[:500],
        },
        source=message.channel_account,
        occurred_at=now,
    )
    return message


async def mark_sent(
    session: AsyncSession, message_id: int, provider_ids: Sequence[str], at: datetime
) -> Message | None:
    message = await session.get(Message, message_id)
    if message is None:
        return None
    message.provider_message_id = provider_ids[0] if provider_ids else None
    if len(provider_ids) > 1:
        message.meta = {**message.meta, "provider_ids": list(provider_ids)}
    message.sent_at = at
    if _moves_forward(message.status, MessageStatus.SENT):
        message.status = MessageStatus.SENT
    session.add(message)
    return message


async def mark_failed(session: AsyncSession, message_id: int, reason: str) -> Message | None:
    message = await session.get(Message, message_id)
    if message is None:
        return None
    message.status = MessageStatus.FAILED
    message.failure_reason = reason
    session.add(message)
    return message


async def apply_receipt(
    session: AsyncSession,
    channel_account: str,
    provider_message_id: str,
    status: MessageStatus,
    *,
    error: str | None = None,
    at: datetime | None = None,
    recipient: str | None = None,
) -> Message | None:
    """Move an outbound message's delivery status forward (never backwards: read stays read).
    With ``recipient``, only a message sent to that address is touched."""
    message = (
        (
            await session.execute(
                select(Message).where(
                    Message.channel_account == channel_account,
                    Message.provider_message_id == provider_message_id,
                    Message.direction == Direction.OUTBOUND,
                    *([Message.address == recipient] if recipient is not None else []),
                )
            )
        )
        .scalars()
        .first()
    )
    if message is None:
        return None
    if not _moves_forward(message.status, status):
        return None
    at = at or utcnow()
    message.status = status
    if status is MessageStatus.DELIVERED:
        message.delivered_at = at
    elif status is MessageStatus.READ:
        message.read_at = at
        message.delivered_at = message.delivered_at or at
    elif status is MessageStatus.FAILED:
        message.failure_reason = error or "the provider reported a failure"
    session.add(message)
    return message


async def outbound_message_exists(
    session: AsyncSession, channel_account: str, provider_message_id: str
) -> bool:
    statement = select(Message.id).where(
        Message.channel_account == channel_account,
        Message.provider_message_id == provider_message_id,
        Message.direction == Direction.OUTBOUND,
    )
    return (await session.execute(statement.limit(1))).first() is not None


async def add_note(
    session: AsyncSession,
    conversation: Conversation,
    author_agent_id: int | None,
    text: str,
    mentions: Sequence[int] = (),
) -> Note:
    """A private note; ``mentions`` are the agents @mentioned in it (checked by the caller)."""
    note = Note(
        conversation_id=conversation.id,  # type: ignore[arg-type]
        author_agent_id=author_agent_id,
        text=text,
        mentions=sorted(set(mentions)),
    )
    session.add(note)
    await session.flush()
    return note


async def assign(
    session: AsyncSession, conversation: Conversation, *, agent_id: int | None, team_id: int | None
) -> Conversation:
    conversation.assignee_id = agent_id
    conversation.team_id = team_id
    if agent_id is not None:
        conversation.bot_active = False
    session.add(conversation)
    return conversation


async def hand_back_to_bot(session: AsyncSession, conversation: Conversation) -> Conversation:
    """The bot answers the customer again: it is switched back on and the agent lets go (the team
    stays, so a later handoff lands with the same people)."""
    if conversation.status is ConversationStatus.RESOLVED:
        raise InvalidTransition("the conversation is resolved; reopen it before handing it to the bot")
    conversation.bot_active = True
    conversation.assignee_id = None
    session.add(conversation)
    return conversation


async def set_status(
    session: AsyncSession,
    conversation: Conversation,
    status: ConversationStatus,
    *,
    snoozed_until: datetime | None = None,
) -> Conversation:
    if status is ConversationStatus.SNOOZED:
        if snoozed_until is None or snoozed_until <= utcnow():
            raise InvalidTransition("snoozing needs a snoozed_until time in the future")
        conversation.snoozed_until = snoozed_until
    else:
        conversation.snoozed_until = None
    if status is ConversationStatus.RESOLVED:
        conversation.resolved_at = utcnow()
        conversation.waiting_since = None
    elif conversation.status is ConversationStatus.RESOLVED:
        conversation.resolved_at = None
    conversation.status = status
    session.add(conversation)
    return conversation


async def set_priority_and_labels(
    session: AsyncSession,
    conversation: Conversation,
    *,
    priority: Priority | None,
    labels: Sequence[str] | None,
) -> Conversation:
    """Labels replace the conversation's labels (trimmed, duplicates dropped); their rows in
    conversation_labels change in the same transaction, so filtering always agrees with what is shown."""
    if priority is not None:
        conversation.priority = priority
    if labels is not None:
        cleaned = sorted({label.strip() for label in labels if label.strip()})
        for label in cleaned:
            if len(label) > MAX_LABEL_LENGTH:
                raise InvalidLabel(f"label {label[:20]!r}… is longer than {MAX_LABEL_LENGTH} characters")
        old = set(conversation.labels)
        if removed := old - set(cleaned):
            await session.execute(
                delete(ConversationLabel).where(
                    ConversationLabel.conversation_id == conversation.id,
                    ConversationLabel.label.in_(sorted(removed)),
                )
            )
        for label in sorted(set(cleaned) - old):
            session.add(ConversationLabel(conversation_id=conversation.id, label=label))  # type: ignore[arg-type]
        conversation.labels = cleaned
    session.add(conversation)
    return conversation


async def messages_of(
    session: AsyncSession,
    conversation_id: int,
    limit: int = 200,
    after_id: int | None = None,
    before_id: int | None = None,
) -> list[Message]:
    """Oldest first. By default the latest ``limit`` messages; ``after_id`` pages forward (new
    messages since), ``before_id`` pages back into history."""
    statement = select(Message).where(Message.conversation_id == conversation_id)
    if after_id is not None:
        statement = statement.where(Message.id > after_id).order_by(Message.id).limit(limit)
        return list((await session.execute(statement)).scalars())
    if before_id is not None:
        statement = statement.where(Message.id < before_id)
    statement = statement.order_by(Message.id.desc()).limit(limit)
    return list(reversed(list((await session.execute(statement)).scalars())))


async def customer_messages(
    session: AsyncSession, customer_id: int, before_id: int, limit: int = 50
) -> list[Message]:
    """The customer's messages on every channel and in every conversation before ``before_id``,
    oldest first (the page right before it): the history above a conversation."""
    statement = (
        select(Message)
        .where(Message.customer_id == customer_id, Message.id < before_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(reversed(list((await session.execute(statement)).scalars())))


async def notes_of(session: AsyncSession, conversation_id: int) -> list[Note]:
    statement = select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
    return list((await session.execute(statement)).scalars())


class ConversationsMergeParticipant:
    """Moves a merged customer's conversations and messages onto the survivor (crm_core merge)."""

    name = "conversations"

    async def move(self, session: AsyncSession, from_customer_id: int, to_customer_id: int) -> list[int]:
        ids = list(
            (
                await session.execute(
                    select(Conversation.id).where(Conversation.customer_id == from_customer_id)
                )
            ).scalars()
        )
        if ids:
            await session.execute(
                update(Conversation).where(Conversation.id.in_(ids)).values(customer_id=to_customer_id)
            )
            await session.execute(
                update(Message).where(Message.conversation_id.in_(ids)).values(customer_id=to_customer_id)
            )
        return ids

    async def move_back(self, session: AsyncSession, ids: list[int], to_customer_id: int) -> None:
        if ids:
            await session.execute(
                update(Conversation).where(Conversation.id.in_(ids)).values(customer_id=to_customer_id)
            )
            await session.execute(
                update(Message).where(Message.conversation_id.in_(ids)).values(customer_id=to_customer_id)
            )
