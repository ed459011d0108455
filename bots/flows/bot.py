"""The flow engine as a hub bot: implements bots.turn.Bot.

The Bot protocol returns replies only, so a handoff is applied through a hook the hub injects
(``on_handoff``): it runs inside the same transaction as the message and the replies, before the
replies are queued, and switches the conversation to people (bot off, team, summary for agents).
Bots build on crm_core only, so the inbox change itself lives in the hub.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.engine import FlowEngine
from bots.flows.result import Handoff
from bots.turn import BotReply, BotTurn

# (session, conversation id, handoff) -> None; called in the turn's transaction.
HandoffHook = Callable[[AsyncSession, int, Handoff], Awaitable[None]]


class FlowBot:
    def __init__(self, engine: FlowEngine, on_handoff: HandoffHook) -> None:
        self.engine = engine
        self.on_handoff = on_handoff

    async def on_inbound(self, session: AsyncSession, turn: BotTurn) -> list[BotReply]:
        result = await self.engine.handle_turn(session, turn)
        if result.handoff is not None:
            await self.on_handoff(session, turn.conversation_id, result.handoff)
        return list(result.replies)
