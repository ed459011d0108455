"""Steps that change the customer record, each leaving a timeline entry that says why.

.. code-block:: yaml

    remember:
      set: {attribute.city: Lviv, var.greeted: true, attribute.last_rating: "{{ var.rating }}"}
      why: the customer told us
      next: tag_them
    tag_them:
      tag: [vip]            # untag: [...] removes
      why: big order
      next: log
    log:
      record_event: csat.submitted
      payload: {rating: "{{ attribute.csat }}", comment: "{{ var.comment }}"}
      next: thanks
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.model import SaveTarget
from bots.flows.outcomes import Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import Value
from bots.flows.yamlsource import LineMap

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

_EVENT_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


@dataclass(frozen=True, kw_only=True)
class _Continuing(Step):
    next: str | None = None
    next_line: int = 0
    why: str = ""

    def links(self) -> list[Link]:
        return [Link(self.next, self.next_line, "next")] if self.next else []


@dataclass(frozen=True, kw_only=True)
class SetStep(_Continuing):
    kind: ClassVar[str] = "set"

    values: tuple[tuple[SaveTarget, Value], ...]

    async def run(self, ctx: TurnContext) -> Outcome:
        attributes = {}
        for target, value in self.values:
            result = ctx.evaluate(value)
            if target.scope == "var":
                ctx.variables[target.key] = result
            else:
                attributes[target.key] = result
        if attributes:
            await ctx.update_attributes(attributes, step=self.name, why=self.why)
        return after(self.next)


@dataclass(frozen=True, kw_only=True)
class TagStep(_Continuing):
    kind: ClassVar[str] = "tag"

    tags: tuple[str, ...]

    async def run(self, ctx: TurnContext) -> Outcome:
        await ctx.change_tags(step=self.name, add=self.tags, why=self.why)
        return after(self.next)


@dataclass(frozen=True, kw_only=True)
class UntagStep(_Continuing):
    kind: ClassVar[str] = "untag"

    tags: tuple[str, ...]

    async def run(self, ctx: TurnContext) -> Outcome:
        await ctx.change_tags(step=self.name, remove=self.tags, why=self.why)
        return after(self.next)


@dataclass(frozen=True, kw_only=True)
class RecordEventStep(_Continuing):
    kind: ClassVar[str] = "record_event"

    event: str
    payload: Mapping[str, Value]

    async def run(self, ctx: TurnContext) -> Outcome:
        payload = {key: ctx.evaluate(value) for key, value in self.payload.items()}
        await ctx.record(self.event, {**payload, "flow": ctx.flow.id, "step": self.name})
        return after(self.next)


def _common(reader: StepReader, extra: set[str]) -> tuple[str | None, str]:
    reader.check_keys({"next", "why"} | extra)
    why = reader.string("why") or ""
    return reader.target("next"), why


def parse_set(reader: StepReader) -> SetStep | None:
    next_step, why = _common(reader, set())
    raw = reader.node.get("set")
    if not isinstance(raw, LineMap) or not raw:
        reader.problem(reader.line_of("set"), "'set' takes a map of var.NAME / attribute.NAME -> value")
        return None
    values = []
    for key, raw_value in raw.items():
        target = reader.save_target(key, raw.key_lines[key], "each key of 'set'")
        value = reader.value(raw_value, raw.line_of(key), f"the value of {key!r}")
        if target is not None and value is not None:
            values.append((target, value))
    if len(values) != len(raw):
        return None
    return SetStep(
        name=reader.name,
        line=reader.line,
        values=tuple(values),
        next=next_step,
        next_line=reader.line_of("next"),
        why=why,
    )


def _parse_tags(reader: StepReader, step: type[TagStep] | type[UntagStep]) -> TagStep | UntagStep | None:
    next_step, why = _common(reader, set())
    tags = reader.tags(step.kind)
    if tags is None:
        return None
    return step(
        name=reader.name,
        line=reader.line,
        tags=tags,
        next=next_step,
        next_line=reader.line_of("next"),
        why=why,
    )


def parse_tag(reader: StepReader) -> TagStep | UntagStep | None:
    return _parse_tags(reader, TagStep)


def parse_untag(reader: StepReader) -> TagStep | UntagStep | None:
    return _parse_tags(reader, UntagStep)


def parse_record_event(reader: StepReader) -> RecordEventStep | None:
    reader.check_keys({"payload", "next"})
    kind = reader.string("record_event", required=True)
    next_step = reader.target("next")
    if kind is not None and not _EVENT_KIND.match(kind):
        reader.problem(
            reader.line_of("record_event"),
            f"{kind!r} is not an event kind; use lowercase dotted words such as csat.submitted",
        )
        kind = None
    raw = reader.node.get("payload", LineMap(reader.line))
    payload: dict[str, Value] = {}
    if not isinstance(raw, LineMap):
        reader.problem(reader.line_of("payload"), "'payload' takes a map of name -> value")
        return None
    for key, raw_value in raw.items():
        value = reader.value(raw_value, raw.line_of(key), f"payload {key!r}")
        if value is not None:
            payload[str(key)] = value
    if kind is None or len(payload) != len(raw):
        return None
    return RecordEventStep(
        name=reader.name,
        line=reader.line,
        event=kind,
        payload=payload,
        next=next_step,
        next_line=reader.line_of("next"),
    )
