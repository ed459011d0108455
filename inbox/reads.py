"""What each agent has read: a read position per agent and conversation, and unread counts.

Unread means a customer's message newer than the agent's read position. The position only moves
forward (two tabs marking different points keep the later one), and is one row per agent and
conversation, so the list's unread counts are one grouped lookup on the messages index
(conversation_id, id) for the page shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from inbox.models import AuthorKind, Conversation, ConversationRead, ConversationStatus, Direction, Message


def _customer_messages_after(read_position: Any) -> list[Any]:
    return [
        Message.direction == Direction.INBOUND,
        Message.author_kind == AuthorKind.CUSTOMER,
        Message.id > func.coalesce(read_position, 0),
    ]


async def unread_counts(
    session: AsyncSession, agent_id: int, conversation_ids: Sequence[int]
) -> dict[int, int]:
    """Unread customer messages per conversation for ``agent_id`` (conversations with none are left
    out)."""
    if not conversation_ids:
        return {}
    statement = (
        select(Message.conversation_id, func.count())
        .select_from(Message)
        .outerjoin(
            ConversationRead,
            (ConversationRead.conversation_id == Message.conversation_id)
            & (ConversationRead.agent_id == agent_id),
        )
        .where(
            Message.conversation_id.in_(list(conversation_ids)),
            *_customer_messages_after(ConversationRead.last_read_message_id),
        )
        .group_by(Message.conversation_id)
    )
    return {
        conversation_id: int(count) for conversation_id, count in (await session.execute(statement)).all()
    }


async def unread_conversations_assigned(session: AsyncSession, agent_id: int) -> int:
    """How many unresolved conversations assigned to the agent have unread customer messages (the
    badge on "Mine")."""
    read_position = (
        select(ConversationRead.last_read_message_id)
        .where(ConversationRead.agent_id == agent_id, ConversationRead.conversation_id == Conversation.id)
        .scalar_subquery()
    )
    has_unread = (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id, *_customer_messages_after(read_position))
        .exists()
    )
    statement = (
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.assignee_id == agent_id,
            Conversation.status.in_((ConversationStatus.OPEN, ConversationStatus.PENDING)),
            has_unread,
        )
    )
    return int((await session.execute(statement)).scalar_one())


async def mark_read(
    session: AsyncSession, agent_id: int, conversation_id: int, up_to_message_id: int | None = None
) -> int:
    """Move the agent's read position to ``up_to_message_id`` (default: the conversation's newest
    message); never backwards. Returns the position now stored."""
    if up_to_message_id is None:
        up_to_message_id = (
            await session.execute(
                select(func.coalesce(func.max(Message.id), 0)).where(
                    Message.conversation_id == conversation_id
                )
            )
        ).scalar_one()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ConversationRead)
    statement = insert.values(
        agent_id=agent_id,
        conversation_id=conversation_id,
        last_read_message_id=up_to_message_id,
        read_at=utcnow(),
    )
    # One statement, so two tabs of the same agent marking at once cannot collide on the key.
    later = case(
        (
            statement.excluded.last_read_message_id > ConversationRead.last_read_message_id,
            statement.excluded.last_read_message_id,
        ),
        else_=ConversationRead.last_read_message_id,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["agent_id", "conversation_id"],
        set_={"last_read_message_id": later, "read_at": statement.excluded.read_at},
    ).returning(ConversationRead.last_read_message_id)
    return int((await session.execute(statement)).scalar_one())
