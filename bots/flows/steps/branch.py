"""``branch``: go to the first step whose condition holds, else to ``else``.

.. code-block:: yaml

    route:
      branch:
        - if: not business_hours
          then: closed
        - if: var.rating >= 4 and "vip" in tags
          then: thank_vip
      else: menu

Conditions are parsed by bots.flows.conditions (never eval'd).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.conditions import Expression
from bots.flows.outcomes import Next, Outcome
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.yamlsource import LineList, LineMap

if TYPE_CHECKING:
    from bots.flows.context import TurnContext


@dataclass(frozen=True)
class Rule:
    source: str
    condition: Expression
    then: str
    line: int


@dataclass(frozen=True, kw_only=True)
class BranchStep(Step):
    kind: ClassVar[str] = "branch"

    rules: tuple[Rule, ...]
    otherwise: str
    otherwise_line: int

    def links(self) -> list[Link]:
        return [Link(r.then, r.line, "then") for r in self.rules] + [
            Link(self.otherwise, self.otherwise_line, "else")
        ]

    async def run(self, ctx: TurnContext) -> Outcome:
        for rule in self.rules:
            await ctx.prepare(rule.condition)
            if ctx.holds(rule.condition):
                return Next(rule.then)
        return Next(self.otherwise)


def parse(reader: StepReader) -> BranchStep | None:
    reader.check_keys({"else"})
    raw = reader.node.get("branch")
    rules: list[Rule] = []
    complete = True
    if not isinstance(raw, LineList) or not raw:
        reader.problem(reader.line_of("branch"), "'branch' takes a list of - if: CONDITION / then: STEP")
        complete = False
    else:
        for index, item in enumerate(raw):
            line = raw.line_of(index)
            if not isinstance(item, LineMap) or "if" not in item or "then" not in item:
                reader.problem(line, "each branch rule needs 'if' (a condition) and 'then' (a step)")
                complete = False
                continue
            for extra in (k for k in item if k not in ("if", "then")):
                reader.problem(item.key_lines[extra], f"{extra!r} is not part of a rule (if, then)")
            condition = reader.condition(item["if"], item.line_of("if"))
            then = reader.step_name(item["then"], item.line_of("then"), "then")
            if condition is None or then is None:
                complete = False
                continue
            rules.append(Rule(str(item["if"]), condition, then, item.line_of("then")))
    otherwise = reader.target("else", required=True)
    if not complete or otherwise is None:
        return None
    return BranchStep(
        name=reader.name,
        line=reader.line,
        rules=tuple(rules),
        otherwise=otherwise,
        otherwise_line=reader.line_of("else"),
    )
