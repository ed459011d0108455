"""What a bot sees of an inbound message, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import Button
from crm_core.models import Customer


@dataclass(frozen=True)
class BotTurn:
    customer: Customer
    conversation_id: int
    # True when this message opened a new conversation.
    opened: bool
    # False once a person has taken the conversation over: bots stay quiet then.
    bot_active: bool
    channel_type: str
    text: str
    button_payload: str | None = None
    start_payload: str | None = None


@dataclass(frozen=True)
class BotReply:
    text: str
    buttons: tuple[Button, ...] = ()


class Bot(Protocol):
    async def on_inbound(self, session: AsyncSession, turn: BotTurn) -> list[BotReply]:
        """Replies to send, in order (empty: stay quiet). Runs inside the transaction that stores the
        message, so a reply is queued exactly once with it."""
