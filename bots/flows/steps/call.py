"""``call``: run another flow as a sub-flow, and come back here when it ends.

.. code-block:: yaml

    address:
      call: collect-address     # the id of another flow in the folder
      step: street              # optional: start it here instead of at its start step
      next: confirm             # where this flow continues once the called flow ends

The called flow runs on this flow's variables: it sees every one of them, and whatever it sets or
changes is there when this flow continues (``var.city`` asked in the called flow can be used after
the call). It ends when it reaches an ``end`` step or a step without ``next`` (or its ``on_fail`` /
``on_timeout`` path ends it); a ``handoff`` in it ends this flow too. Validation checks that the
called flow (and ``step``) exist and that no flow calls itself, directly or through others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.outcomes import Call, Outcome
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

_FLOW_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True, kw_only=True)
class CallStep(Step):
    kind: ClassVar[str] = "call"

    flow_id: str
    flow_line: int
    step: str | None = None
    step_line: int = 0
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        return [Link(self.next, self.next_line, "next")] if self.next else []

    @property
    def may_wait(self) -> bool:
        # Whether the called flow waits is a question about another file; a loop through a call
        # that never waits is still stopped by the engine's step limit.
        return True

    async def run(self, ctx: TurnContext) -> Outcome:
        return Call(self.flow_id, self.step, self.next)


def parse(reader: StepReader) -> CallStep | None:
    reader.check_keys({"step", "next"})
    flow_id = reader.node.get("call")
    if not isinstance(flow_id, str) or not _FLOW_ID.match(flow_id):
        reader.problem(reader.line_of("call"), f"'call' names another flow by its id, got {flow_id!r}")
        return None
    step = reader.target("step")
    next_step = reader.target("next")
    return CallStep(
        name=reader.name,
        line=reader.line,
        flow_id=flow_id,
        flow_line=reader.line_of("call"),
        step=step,
        step_line=reader.line_of("step"),
        next=next_step,
        next_line=reader.line_of("next"),
    )
