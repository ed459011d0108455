"""``wait``: pause the flow for a while, until a moment, or until a business event, then go on.

.. code-block:: yaml

    later:
      wait: 2h                        # a duration
      next: remind
    morning:
      wait: {until: "09:00"}          # the next 09:00 in the customer's (else the business's) zone;
      next: remind                    # or "2026-01-10T09:00", or "{{ var.event.deliver_at }}"
    paid:
      wait: {event: order.paid}       # a pattern or a list, shell-style like event triggers
      timeout: 3d                     # optional, with on_timeout
      on_timeout: remind
      next: thanks

The moment is the state row's deadline, so the periodic timeout round continues the flow at
``next`` even across restarts. A waiting flow takes no messages: the customer's messages meanwhile
go to interrupting triggers (which replace the wait) or to people, and the flow carries on later.
An awaited event sets ``var.event`` (its payload) and ``var.event_kind``, like an event trigger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from bots.flows.durations import InvalidDuration, parse_duration
from bots.flows.outcomes import Finish, Next, Outcome, Wait, WaitingFor, after
from bots.flows.steps.base import Answer, Link, WaitingStep
from bots.flows.steps.reader import StepReader
from bots.flows.templating import RenderError, Template
from bots.flows.yamlsource import LineList, LineMap

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_PATTERN = re.compile(r"^[^\s]{1,64}$")
_WAIT_KEYS = ("until", "event")


class InvalidMoment(ValueError):
    pass


def next_moment(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """``"09:00"`` -> the next 09:00 after ``now`` in ``zone``; an ISO date or datetime -> that
    moment (in ``zone`` unless it names its own offset). Raises InvalidMoment with a sentence."""
    text = text.strip()
    clock = _CLOCK.match(text)
    if clock:
        local = now.astimezone(zone)
        moment = local.replace(hour=int(clock[1]), minute=int(clock[2]), second=0, microsecond=0)
        # Aware arithmetic in one zone keeps the wall-clock time across a daylight-saving change.
        return moment if moment > local else moment + timedelta(days=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMoment(
            f"{text!r} is not a time; write HH:MM (09:00) or an ISO date and time (2026-01-10T09:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


@dataclass(frozen=True, kw_only=True)
class WaitStep(WaitingStep):
    kind: ClassVar[str] = "wait"
    takes_messages: ClassVar[bool] = False

    duration: timedelta | None = None
    until: Template | None = None
    events: tuple[str, ...] = ()
    next: str | None = None
    next_line: int = 0

    @property
    def waiting_for(self) -> WaitingFor:
        return WaitingFor.EVENT if self.events else WaitingFor.TIME

    def links(self) -> list[Link]:
        links = [Link(self.next, self.next_line, "next")] if self.next else []
        return links + self.timeout_links()

    async def run(self, ctx: TurnContext) -> Outcome:
        if self.events:
            return Wait(WaitingFor.EVENT)
        if self.duration is not None:
            return Wait(WaitingFor.TIME, deadline=ctx.now + self.duration)
        assert self.until is not None
        text = self.until.render(ctx.names())
        try:
            moment = next_moment(text, ctx.now, ctx.timezone)
        except InvalidMoment as exc:
            raise RenderError(f"step {self.name!r}: until {exc}") from None
        if moment <= ctx.now:
            return after(self.next)  # already past: nothing to wait for
        return Wait(WaitingFor.TIME, deadline=moment)

    async def on_answer(self, ctx: TurnContext, answer: Answer) -> Outcome:
        # The engine never hands messages to a step that takes none (see takes_messages).
        raise AssertionError(f"wait step {self.name!r} was given a message")

    def listens_for(self, event_kind: str) -> bool:
        return any(fnmatchcase(event_kind, pattern) for pattern in self.events)

    def on_event(self, ctx: TurnContext, kind: str, payload: Mapping[str, Any]) -> Outcome:
        ctx.variables["event"] = dict(payload)
        ctx.variables["event_kind"] = kind
        return after(self.next)

    def expired(self) -> Outcome:
        if self.events:
            # Waited for an event that did not come in time.
            return Next(self.on_timeout) if self.on_timeout else Finish()
        return after(self.next)


def _events(reader: StepReader, spec: LineMap) -> tuple[str, ...] | None:
    raw = spec["event"]
    patterns = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, LineList) else None
    if not patterns or not all(isinstance(p, str) and _PATTERN.match(p) for p in patterns):
        reader.problem(
            spec.line_of("event"),
            f"'event' takes an event kind such as order.paid (or a list of them), got {raw!r}",
        )
        return None
    return tuple(patterns)


def _until(reader: StepReader, spec: LineMap) -> Template | None:
    raw = spec["until"]
    line = spec.line_of("until")
    if not isinstance(raw, str):
        # YAML reads 9:00 as a number and 2026-01-10 as a date: the flow must say it as text.
        reader.problem(line, f'\'until\' must be a time in quotes ("09:00", "2026-01-10T09:00"), got {raw!r}')
        return None
    template = reader.template(raw, line, "'until'")
    if template is not None and "{" not in raw:
        try:
            next_moment(raw, datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")), ZoneInfo("UTC"))
        except InvalidMoment as exc:
            reader.problem(line, f"'until': {exc}")
            return None
    return template


def parse(reader: StepReader) -> WaitStep | None:
    reader.check_keys({"timeout", "on_timeout", "next"})
    raw = reader.node.get("wait")
    line = reader.line_of("wait")
    duration = until = None
    events: tuple[str, ...] | None = ()
    complete = True
    kinds = [key for key in raw if key in _WAIT_KEYS] if isinstance(raw, LineMap) else []
    if isinstance(raw, str):
        try:
            duration = parse_duration(raw)
        except InvalidDuration as exc:
            reader.problem(line, f"'wait': {exc}")
            complete = False
    elif isinstance(raw, LineMap) and len(kinds) == 1:
        for key in raw:
            if key not in _WAIT_KEYS:
                reader.problem(raw.key_lines[key], f"{key!r} is not a setting of wait (until, event)")
        if "event" in raw:
            events = _events(reader, raw)
        else:
            until = _until(reader, raw)
            complete = until is not None
    elif len(kinds) > 1:
        reader.problem(line, "'wait' is for a time (until) or for an event, not both; use two steps")
        complete = False
    else:
        reader.problem(
            line,
            f"'wait' takes a duration (2h), {{until: \"09:00\"}} or {{event: order.paid}}, got {raw!r}",
        )
        complete = False
    timeout, on_timeout = reader.timeout()
    if "timeout" in reader.node and "event" not in kinds:
        reader.problem(
            reader.line_of("timeout"),
            "'timeout' only applies to waiting for an event; a wait for a time is its own timeout",
        )
    next_step = reader.target("next")
    if events is None or not complete:
        return None
    return WaitStep(
        name=reader.name,
        line=reader.line,
        duration=duration,
        until=until,
        events=events,
        timeout=timeout,
        on_timeout=on_timeout,
        timeout_line=reader.line_of("on_timeout"),
        next=next_step,
        next_line=reader.line_of("next"),
    )
