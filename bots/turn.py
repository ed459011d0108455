"""What a bot sees of an inbound message, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import Attachment, Button
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
    # A phone number (E.164) the channel vouches for that came with this message: the customer
    # shared their own contact (Telegram/Viber share-phone button). The hub has already put it on
    # the customer's record as a verified identity.
    shared_phone: str | None = None


@dataclass(frozen=True)
class BotReply:
    """One message to send. ``attachments`` may carry bytes (``content``, a QR code image): the hub
    moves them to its media store before anything is queued. ``channel_type`` sends the reply on
    another channel of the customer's than the conversation's (an SMS answering a missed call);
    ``channel_account`` is the account the hub lent the bot for that channel type, if it has one."""

    text: str
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    channel_type: str | None = None
    channel_account: str | None = None


class Bot(Protocol):
    async def on_inbound(self, session: AsyncSession, turn: BotTurn) -> list[BotReply]:
        """Replies to send, in order (empty: stay quiet). Runs inside the transaction that stores the
        message, so a reply is queued exactly once with it."""
