"""Snoozed conversations wake up: when ``snoozed_until`` has passed they are open again.

(A customer who writes earlier wakes the conversation at once: the threading rule reopens it.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.models import Conversation, ConversationStatus

BATCH = 500


async def wake_due(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[int]:
    """Reopen up to ``limit`` conversations whose snooze has ended; their ids.

    The UPDATE re-checks status and time itself, so on PostgreSQL two workers running this at once
    wake each conversation once (the second finds the row already open) — and an agent who changed
    the status in between keeps their change.
    """
    due = (
        select(Conversation.id)
        .where(Conversation.status == ConversationStatus.SNOOZED, Conversation.snoozed_until <= now)
        .order_by(Conversation.snoozed_until)
        .limit(limit)
    )
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    woken = await session.execute(
        update(Conversation)
        .where(
            Conversation.id.in_(ids),
            Conversation.status == ConversationStatus.SNOOZED,
            Conversation.snoozed_until <= now,
        )
        .values(status=ConversationStatus.OPEN, snoozed_until=None)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(woken.scalars())
