"""``handoff``: hand the conversation to people, with a summary of what the bot collected.

.. code-block:: yaml

    human:
      handoff: support                 # a team from hub.yaml (or null: whoever is available)
      message: {en: "Connecting you with a person...", es: "Te paso con una persona..."}
      summary: "Order {{ var.order }}: {{ var.topic }}"   # optional; default lists the flow's variables

The flow ends here; the hub turns the bot off for the conversation, so it stays quiet until an
agent hands it back or resolves the conversation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bots.flows.outcomes import HandOff, Outcome
from bots.flows.steps.base import Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText

if TYPE_CHECKING:
    from bots.flows.context import TurnContext


@dataclass(frozen=True, kw_only=True)
class HandoffStep(Step):
    kind: ClassVar[str] = "handoff"

    team: str | None
    team_line: int
    message: LocalText | None = None
    summary: LocalText | None = None

    async def run(self, ctx: TurnContext) -> Outcome:
        if self.message is not None:
            ctx.say(self.message)
        summary = ctx.render(self.summary) if self.summary is not None else default_summary(ctx)
        return HandOff(self.team, summary, self.name)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def default_summary(ctx: TurnContext) -> str:
    """``Bot flow "support" collected:`` and one ``- name: value`` line per variable."""
    lines = [f'Bot flow "{ctx.flow.id}" collected:']
    shown = {k: v for k, v in ctx.variables.items() if v not in (None, "")}
    lines += [f"- {key}: {_show(value)}" for key, value in shown.items()]
    if not shown:
        lines = [f'Bot flow "{ctx.flow.id}" handed over; it collected nothing.']
    return "\n".join(lines)


def parse(reader: StepReader) -> HandoffStep | None:
    reader.check_keys({"message", "summary"})
    team = reader.node.get("handoff")
    if team is not None and (not isinstance(team, str) or not team.strip()):
        reader.problem(
            reader.line_of("handoff"), f"'handoff' names a team (or is empty for any), got {team!r}"
        )
        return None
    message = reader.text("message")
    summary = reader.text("summary")
    return HandoffStep(
        name=reader.name,
        line=reader.line,
        team=team,
        team_line=reader.line_of("handoff"),
        message=message,
        summary=summary,
    )
