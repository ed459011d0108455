"""``goto`` another step, or ``end`` the flow.

.. code-block:: yaml

    again:
      goto: menu
    done:
      end: true
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.outcomes import Finish, Next, Outcome
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader

if TYPE_CHECKING:
    from bots.flows.context import TurnContext


@dataclass(frozen=True, kw_only=True)
class GotoStep(Step):
    kind: ClassVar[str] = "goto"

    target: str

    def links(self) -> list[Link]:
        return [Link(self.target, self.line, "goto")]

    async def run(self, ctx: TurnContext) -> Outcome:
        return Next(self.target)


@dataclass(frozen=True, kw_only=True)
class EndStep(Step):
    kind: ClassVar[str] = "end"

    async def run(self, ctx: TurnContext) -> Outcome:
        return Finish()


def parse_goto(reader: StepReader) -> GotoStep | None:
    reader.check_keys(set())
    target = reader.target("goto", required=True)
    if target is None:
        return None
    return GotoStep(name=reader.name, line=reader.line_of("goto"), target=target)


def parse_end(reader: StepReader) -> EndStep | None:
    reader.check_keys(set())
    if reader.node.get("end") not in (True, None):
        reader.problem(reader.line_of("end"), "write 'end: true' (an end step takes no other value)")
    return EndStep(name=reader.name, line=reader.line)
