"""What the flow engine hands back to the hub for one turn, event or timeout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bots.turn import BotReply


@dataclass(frozen=True)
class Handoff:
    """People take the conversation over. The hub turns the bot off for it (``bot_active = False``),
    routes it to ``team`` (None: no particular team) and shows ``summary`` to the agents. ``step``
    names the handoff step it came from (the reason reports group handoffs by)."""

    team: str | None
    summary: str
    flow_id: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""


@dataclass(frozen=True)
class FlowResult:
    """Replies to queue in order, and a handoff to apply after them. ``flow_id`` names the flow that
    handled the turn (None when no flow did: no trigger matched and nothing was in progress), and
    ``variables`` are its variables as the turn left them (for tests, logs and simulators)."""

    replies: tuple[BotReply, ...] = ()
    handoff: Handoff | None = None
    flow_id: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def handled(self) -> bool:
        return self.flow_id is not None


@dataclass(frozen=True)
class TimedOut:
    """A flow whose ``timeout`` passed: what it says now, and where to send it."""

    customer_id: int
    conversation_id: int
    channel_type: str
    result: FlowResult
