"""What every step kind has in common: a name, a line, the steps it may lead to, and ``run``.

Waiting steps (``ask``, ``faq``, ``share_contact``, ``wait``) pause the flow. Most receive the
customer's next message (``on_answer``); a ``wait`` step takes none (``takes_messages`` False) and
is moved on only by its deadline or its event. Each may have a ``timeout`` with an ``on_timeout``
step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from bots.flows.outcomes import Finish, Next, Outcome

if TYPE_CHECKING:
    from bots.flows.context import TurnContext


@dataclass(frozen=True)
class Link:
    """An edge of the flow graph: this step may continue at ``target`` (written on ``line`` as ``via``)."""

    target: str
    line: int
    via: str


@dataclass(frozen=True)
class Answer:
    """The customer's message as a waiting step sees it."""

    text: str
    payload: str | None = None
    # Invalid answers already given to this step.
    tries: int = 0
    # What the step kept when it paused (e.g. the suggested FAQ entries).
    data: Mapping[str, Any] = field(default_factory=dict)
    # A verified phone the customer shared with the message (share-phone button), E.164.
    shared_phone: str | None = None


@dataclass(frozen=True, kw_only=True)
class Step(ABC):
    kind: ClassVar[str]
    waits: ClassVar[bool] = False

    name: str
    line: int

    def links(self) -> list[Link]:
        """Every step this one may continue at."""
        return []

    @property
    def may_wait(self) -> bool:
        """Whether running this step can end the turn waiting for the customer (validation refuses
        loops of steps that never do)."""
        return self.waits

    @abstractmethod
    async def run(self, ctx: TurnContext) -> Outcome:
        """Do the step's work; say where the flow goes next."""


@dataclass(frozen=True, kw_only=True)
class WaitingStep(Step):
    waits: ClassVar[bool] = True
    # Whether the customer's messages go to the step while it waits (False: a wait step).
    takes_messages: ClassVar[bool] = True

    timeout: timedelta | None = None
    on_timeout: str | None = None
    timeout_line: int = 0

    @abstractmethod
    async def on_answer(self, ctx: TurnContext, answer: Answer) -> Outcome:
        """Handle the customer's message that arrived while the step was waiting."""

    def claims(self, answer: Answer) -> bool:
        """Whether the message is unmistakably an answer to this step (one of its own buttons, an
        exact choice): such a message is never taken by an interrupting trigger."""
        return False

    def expired(self) -> Outcome:
        """Where the flow goes when nobody answered in time."""
        return Next(self.on_timeout) if self.on_timeout else Finish()

    def timeout_links(self) -> list[Link]:
        return [Link(self.on_timeout, self.timeout_line, "on_timeout")] if self.on_timeout else []
