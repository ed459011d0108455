"""The durable record of bot handoffs: which conversation a flow handed to people, when, from which
flow and handoff step (the reason reports group by), to which team.

A handoff otherwise leaves only its effects (the bot switched off, a team set, a private note with
the summary), which later changes overwrite; this row stays, so the bot report can count handoffs and
their reasons for any range.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, UTCDateTime, utcnow


class BotHandoff(SQLModel, table=True):
    __tablename__ = "bot_handoffs"
    __table_args__ = (
        Index("ix_bot_handoffs_conversation", "conversation_id"),
        Index("ix_bot_handoffs_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    conversation_id: int = Field(foreign_key="conversations.id", sa_type=BigId)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    flow: str = Field(max_length=100)
    # The handoff step of the flow ("handoff", "closed_handoff"): why people were called in.
    step: str = Field(default="", max_length=100)
    team_id: int | None = Field(default=None, foreign_key="teams.id", sa_type=BigId)


async def record_handoff(
    session: AsyncSession,
    conversation_id: int,
    *,
    flow: str,
    step: str,
    team_id: int | None,
    at: datetime | None = None,
) -> BotHandoff:
    """Note a handoff in the caller's transaction."""
    handoff = BotHandoff(
        conversation_id=conversation_id, at=at or utcnow(), flow=flow, step=step, team_id=team_id
    )
    session.add(handoff)
    await session.flush()
    return handoff
