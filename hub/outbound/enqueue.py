"""Putting a message into the outbox, and turning an outbox row back into an OutboundMessage."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import Attachment, Button, OutboundMessage
from crm_core.columns import utcnow
from hub.outbound.models import OutboxItem, OutboxStatus
from inbox.models import Message

WAKE_TOPIC = "wake:outbox"


def message_key(message_id: int) -> str:
    return f"message:{message_id}"


async def enqueue(
    session: AsyncSession,
    *,
    idempotency_key: str,
    channel_account: str,
    outbound: OutboundMessage,
    message_id: int | None = None,
) -> int | None:
    """Queue ``outbound`` once per idempotency key. Returns the new row's id, or None when the key
    was queued before (the earlier row stands)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxItem)
        .values(
            idempotency_key=idempotency_key,
            message_id=message_id,
            channel_account=channel_account,
            recipient=outbound.to,
            payload=outbound_to_json(outbound),
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxItem.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def enqueue_message(
    session: AsyncSession,
    message: Message,
    reply_to: tuple[str, ...] = (),
    idempotency_key: str | None = None,
    original_subject: str | None = None,
) -> int | None:
    """Queue an outbound inbox Message for sending on its channel account (once per key; by default
    the message's own id). ``reply_to`` and ``original_subject`` let email replies thread."""
    assert message.id is not None
    outbound = OutboundMessage(
        to=message.address,
        text=message.text,
        idempotency_key=idempotency_key or message_key(message.id),
        buttons=tuple(Button(**b) for b in message.buttons),
        attachments=tuple(Attachment(**a) for a in message.attachments),
        reply_to=reply_to,
        metadata={
            "message_id": message.id,
            "conversation_id": message.conversation_id,
            **({"original_subject": original_subject} if original_subject else {}),
        },
    )
    return await enqueue(
        session,
        idempotency_key=outbound.idempotency_key,
        channel_account=message.channel_account,
        outbound=outbound,
        message_id=message.id,
    )


async def requeue_message(session: AsyncSession, message_id: int) -> bool:
    """Send a failed message again (the agent's retry button): its outbox row goes back to pending."""
    item = (
        (await session.execute(select(OutboxItem).where(OutboxItem.message_id == message_id)))
        .scalars()
        .first()
    )
    if item is None or item.status is not OutboxStatus.FAILED:
        return False
    item.status = OutboxStatus.PENDING
    item.attempts = 0
    item.next_attempt_at = utcnow()
    item.last_error = None
    session.add(item)
    return True


_BUTTON_FIELDS = tuple(f.name for f in fields(Button))
_ATTACHMENT_FIELDS = tuple(f.name for f in fields(Attachment) if f.name != "content")


def outbound_to_json(outbound: OutboundMessage) -> dict[str, Any]:
    """The row payload (inline attachment bytes are never stored). Built field by field rather than
    with dataclasses.asdict, whose deep copy dominated planning a million campaign messages."""
    return {
        "to": outbound.to,
        "text": outbound.text,
        "idempotency_key": outbound.idempotency_key,
        "buttons": [{name: getattr(b, name) for name in _BUTTON_FIELDS} for b in outbound.buttons],
        "attachments": [
            {name: dict(a.data) if name == "data" else getattr(a, name) for name in _ATTACHMENT_FIELDS}
            for a in outbound.attachments
        ],
        "subject": outbound.subject,
        "reply_to": list(outbound.reply_to),
        "metadata": dict(outbound.metadata),
    }


def outbound_from_json(data: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(
        to=data["to"],
        text=data.get("text", ""),
        idempotency_key=data["idempotency_key"],
        buttons=tuple(Button(**b) for b in data.get("buttons", [])),
        attachments=tuple(Attachment(**a) for a in data.get("attachments", [])),
        subject=data.get("subject"),
        reply_to=tuple(data.get("reply_to", [])),
        metadata=data.get("metadata", {}),
    )
