"""What a step tells the engine to do next: an explicit result, never a bare None."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class WaitingFor(StrEnum):
    """What a paused flow expects from the customer (kept in the flow state row)."""

    ANSWER = "answer"  # an ask step's answer
    QUESTION = "question"  # a faq step's question
    SUGGESTION = "suggestion"  # a pick among a faq step's suggested questions
    CONTACT = "contact"  # a share_contact step's phone (shared or typed)
    TIME = "time"  # a wait step's moment (a duration or a time of day)
    EVENT = "event"  # a wait step's business event


@dataclass(frozen=True)
class Next:
    """Continue at another step in the same turn."""

    step: str


@dataclass(frozen=True)
class Wait:
    """Pause until the customer answers (or the step's timeout passes). ``data`` is kept for the step;
    ``failed_try`` counts towards its ``max_tries``. ``deadline`` replaces the step's own timeout
    (a wait step computes its moment when it runs)."""

    waiting_for: WaitingFor
    data: Mapping[str, Any] = field(default_factory=dict)
    failed_try: bool = False
    deadline: datetime | None = None


@dataclass(frozen=True)
class Call:
    """Run another flow (from ``step``, default its start) and, when it ends, continue at ``then``
    in this one (None: this flow ends too)."""

    flow_id: str
    step: str | None
    then: str | None


@dataclass(frozen=True)
class Finish:
    """The flow is over."""


@dataclass(frozen=True)
class HandOff:
    """The flow is over and people take the conversation: route it to ``team`` with ``summary``.
    ``step`` is the handoff step, kept as the handoff's reason in reports."""

    team: str | None
    summary: str
    step: str = ""


Outcome = Next | Wait | Finish | HandOff | Call


def after(step: str | None) -> Outcome:
    """Continue at ``step``, or finish when the author gave no ``next``."""
    return Next(step) if step else Finish()
