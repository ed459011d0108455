"""A loaded flow: its identity, its triggers and its named steps. Built by the loader from YAML and
never changed afterwards (a new version of a file is a new Flow)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bots.flows.steps.base import Step


class TriggerKind(StrEnum):
    KEYWORD = "keyword"  # whole words in the message
    INTENT = "intent"  # fuzzy phrases, rapidfuzz score >= threshold
    START = "start"  # channel start / subscribe, optionally with a deep-link payload pattern
    BUTTON = "button"  # a button payload
    EVENT = "event"  # a business event kind (order.created, call.missed, conversation.resolved)
    CONVERSATION_OPENED = "conversation_opened"  # the message opened a new conversation
    SCHEDULE = "schedule"  # a cron schedule: starts for every customer of its ``audience`` segment
    SEGMENT = "segment"  # a customer entered the named saved segment


@dataclass(frozen=True)
class SaveTarget:
    """Where an answer or a ``set`` value goes: a flow variable or a customer attribute."""

    scope: str  # "var" | "attribute"
    key: str

    def __str__(self) -> str:
        return f"{self.scope}.{self.key}"


@dataclass(frozen=True)
class Trigger:
    """When a flow starts. ``patterns`` are keywords, intent phrases, or shell-style patterns
    (``promo-*``) for start payloads, button payloads and event kinds; an empty tuple for ``start``
    means any start."""

    kind: TriggerKind
    line: int
    patterns: tuple[str, ...] = ()
    threshold: float = 85.0
    # Channel types this trigger listens on (empty: all).
    channels: tuple[str, ...] = ()
    # May end a flow in progress and start this one (a "menu" keyword, say).
    interrupt: bool = False
    # The step to start at, when not the flow's start step ("talk to a person" -> the handoff).
    step: str | None = None
    # schedule: the crontab expression is ``patterns[0]``; read in ``timezone`` (None: the business
    # hours' zone); ``audience`` names the saved segment it starts for. segment: ``patterns[0]``.
    timezone: str | None = None
    audience: str | None = None

    def describe(self) -> str:
        """How the hub names this trigger's scheduled job (stable while the trigger stays)."""
        return f"{self.kind.value}:{'|'.join(self.patterns)}:{self.audience or ''}:{self.timezone or ''}"


@dataclass(frozen=True)
class Flow:
    id: str
    version: str
    file: str
    line: int
    start: str
    steps: Mapping[str, Step]
    triggers: tuple[Trigger, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class FlowSet:
    """Valid flows, in file-name order (which is also the order triggers are tried in)."""

    flows: tuple[Flow, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def get(self, flow_id: str) -> Flow | None:
        return next((flow for flow in self.flows if flow.id == flow_id), None)

    @property
    def ids(self) -> list[str]:
        return [flow.id for flow in self.flows]
