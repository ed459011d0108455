"""The journey of a multi-step campaign, as written under ``steps:`` and read into named steps.

.. code-block:: yaml

    steps:
      - send: welcome                     # a message; its name shows in the results
        content:
          default: {en: "Welcome, {{ name }}!", es: "¡Bienvenido, {{ name }}!"}
      - wait: 1d                          # a pause
      - branch:                           # on what the last message led to
          read:                           # a case: a list of steps ...
            - send: tips
              content: {default: "Three tips for your first week: ..."}
          ordered: end                    # ... or `end`, or the name of a later step
          otherwise:
            - send: nudge
              channels: [sms]             # a message may use its own channels (else the campaign's)
              content: {default: "Did you see our welcome message, {{ name }}?"}
      - wait: {until: clicked, timeout: 3d}   # until an outcome of the last message, at most 3 days
      - send: last-call
        content: {default: "..."}

Steps run in order; a case's steps run and then the journey goes on after the branch (unless they
``end`` or ``goto`` elsewhere). Outcomes of a message: ``delivered`` and ``read`` (the provider's
receipts), ``replied`` (the customer wrote to us), ``clicked`` (a tracked link), ``ordered`` (the
campaign's conversion event, order.created by default, since the message was sent), and in a
branch ``none`` (none of those) and ``otherwise`` (whatever no other case names). When several
hold, the first of ordered, clicked, replied, read, delivered that has a case wins.

A journey only goes forward: ``goto`` and case targets name later steps, so each message is sent
at most once per customer and enrolment (its send row's key is campaign, run, step, customer).
Steps other than ``send`` may carry ``name:`` to be a target; unnamed ones are named by their place
(``steps[2]``, ``steps[2].branch.read[0]``), which is what the results show.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hub.campaigns.definition import ChannelContent, Variant

# Outcomes of a message, in the order a branch prefers them when several hold.
OUTCOMES = ("ordered", "clicked", "replied", "read", "delivered")
BRANCH_CASES = (*OUTCOMES, "none", "otherwise")
STEP_KINDS = ("send", "wait", "branch", "goto", "end")
MAX_STEPS = 200
_NAME_LENGTH = 200
# Step names are written like campaign ids; unnamed steps are named by their place (with brackets,
# so the two never collide).
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class SendStep:
    name: str
    content: Mapping[str, ChannelContent]
    # Empty: the campaign's channels.
    channels: tuple[str, ...] = ()
    # Empty: one variant ("a") for everyone.
    variants: tuple[Variant, ...] = ()
    next: str | None = None


@dataclass(frozen=True)
class WaitStep:
    name: str
    # How long at most.
    span: timedelta
    # Outcomes that end the wait early (empty: the whole span).
    until: tuple[str, ...] = ()
    # Which message's outcomes (None: the last one sent on the customer's path).
    of: str | None = None
    next: str | None = None


@dataclass(frozen=True)
class BranchStep:
    name: str
    # case (an outcome, none or otherwise) -> the step it continues at
    cases: Mapping[str, str]
    of: str | None = None
    # Where the journey goes when no case matches (the step after the branch).
    next: str | None = None


@dataclass(frozen=True)
class GotoStep:
    name: str
    target: str


@dataclass(frozen=True)
class EndStep:
    name: str


JourneyStep = SendStep | WaitStep | BranchStep | GotoStep | EndStep


@dataclass(frozen=True)
class Journey:
    first: str
    # Every step by name, in written order (depth first).
    steps: Mapping[str, JourneyStep] = field(default_factory=dict)

    def sends(self) -> list[SendStep]:
        return [step for step in self.steps.values() if isinstance(step, SendStep)]

    def needs_outcomes(self) -> bool:
        """Whether any step waits for an outcome (so outcomes should wake journeys early)."""
        return any(isinstance(step, WaitStep) and step.until for step in self.steps.values())


class MessageReader(Protocol):
    """What reading a journey borrows from the campaign reader (hub.campaigns.definition)."""

    def fail(self, where: str, message: str) -> None: ...

    def content(self, raw: Any, where: str) -> dict[str, ChannelContent]: ...

    def variants(self, raw: Any, where: str = "variants") -> tuple[Variant, ...]: ...

    def channels(self, raw: Any, where: str) -> tuple[str, ...]: ...

    def check_message(
        self,
        content: Mapping[str, ChannelContent],
        variants: Sequence[Variant],
        channels: Sequence[str],
        where: str,
    ) -> None: ...

    def span(self, raw: Any, where: str) -> timedelta | None: ...


@dataclass
class _Written:
    """One step as written, with its place and name, before it is linked."""

    where: str
    name: str
    kind: str
    raw: Any
    order: int
    # For branches: case -> the steps written under it, or a target name / "end".
    cases: dict[str, list[_Written] | str] = field(default_factory=dict)


def _kind_of(raw: Any) -> str | None:
    if raw == "end":
        return "end"
    if isinstance(raw, Mapping):
        kinds = [k for k in raw if k in STEP_KINDS]
        return kinds[0] if len(kinds) == 1 else None
    return None


class _JourneyReader:
    def __init__(self, reader: MessageReader, channels: Sequence[str]) -> None:
        self.reader = reader
        self.channels = tuple(channels)
        self.written: list[_Written] = []
        self.names: dict[str, _Written] = {}

    def fail(self, where: str, message: str) -> None:
        self.reader.fail(where, message)

    def sends_written(self) -> bool:
        return any(w.kind == "send" for w in self.written)

    # -- pass 1: every step with its place and name -------------------------------------------------

    def collect(self, raw: Any, where: str) -> list[_Written]:
        if not isinstance(raw, list) or not raw:
            self.fail(where, "a list of steps: send, wait, branch, goto, end")
            return []
        found = []
        for i, item in enumerate(raw):
            at = f"{where}[{i}]"
            kind = _kind_of(item)
            if kind is None:
                what = (
                    f"has {' and '.join(k for k in item if k in STEP_KINDS)}: one kind per step"
                    if isinstance(item, Mapping) and sum(k in STEP_KINDS for k in item) > 1
                    else "a step is one of send, wait, branch, goto or end"
                )
                self.fail(at, what)
                continue
            step = _Written(at, self._name(item, kind, at), kind, item, len(self.written))
            self.written.append(step)
            if step.name in self.names:
                self.fail(at, f"the name {step.name!r} is already used by {self.names[step.name].where}")
            else:
                self.names[step.name] = step
            if kind == "branch":
                self._cases(step)
            found.append(step)
        return found

    def _name(self, item: Any, kind: str, at: str) -> str:
        if kind == "send":
            name = item.get("send")
            if not isinstance(name, str) or not _NAME.match(name):
                self.fail(
                    f"{at}.send", f"name the message (lowercase letters, digits, - and _), got {name!r}"
                )
                return at
            if "name" in item:
                self.fail(f"{at}.name", "a send step is named by `send: <name>`")
            return name
        if isinstance(item, Mapping) and "name" in item:
            name = item["name"]
            if not isinstance(name, str) or not _NAME.match(name) or name == "end":
                self.fail(f"{at}.name", f"{name!r} is not a step name (lowercase letters, digits, - and _)")
                return at
            return name
        if len(at) > _NAME_LENGTH:
            self.fail(at, "this step is nested too deep to be named by its place: give it a name")
        return at

    def _cases(self, step: _Written) -> None:
        raw = step.raw.get("branch")
        at = f"{step.where}.branch"
        if not isinstance(raw, Mapping) or not (set(raw) - {"of"}):
            self.fail(at, f"cases such as read: [steps] or ordered: end (cases: {', '.join(BRANCH_CASES)})")
            return
        for case, value in raw.items():
            if case == "of":
                continue
            if case not in BRANCH_CASES:
                self.fail(f"{at}.{case}", f"not an outcome{_suggest(str(case), BRANCH_CASES)}")
                continue
            if isinstance(value, str):
                step.cases[case] = value
            else:
                step.cases[case] = self.collect(value, f"{at}.{case}")

    # -- pass 2: the steps, linked -------------------------------------------------------------------

    def link(self, level: list[_Written], after: str | None, steps: dict[str, JourneyStep]) -> None:
        for i, written in enumerate(level):
            following = level[i + 1].name if i + 1 < len(level) else after
            step = self._step(written, following, steps)
            if step is not None:
                steps[written.name] = step

    def _step(
        self, written: _Written, following: str | None, steps: dict[str, JourneyStep]
    ) -> JourneyStep | None:
        raw, at = written.raw, written.where
        if written.kind == "end":
            if isinstance(raw, Mapping):
                self._only(raw, {"end", "name"}, at)
                if raw.get("end") is not True:
                    self.fail(f"{at}.end", "write `end: true` (or just `- end`)")
            return EndStep(written.name)
        if written.kind == "goto":
            self._only(raw, {"goto", "name"}, at)
            target = self._target(raw.get("goto"), written, f"{at}.goto")
            return GotoStep(written.name, target) if target is not None else None
        if written.kind == "send":
            return self._send(written, following)
        if written.kind == "wait":
            return self._wait(written, following)
        return self._branch(written, following, steps)

    def _only(self, raw: Mapping[str, Any], allowed: set[str], at: str) -> None:
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            self.fail(
                at, f"unknown key(s) {', '.join(unknown)} (this step takes {', '.join(sorted(allowed))})"
            )

    def _send(self, written: _Written, following: str | None) -> SendStep | None:
        raw, at = written.raw, written.where
        self._only(raw, {"send", "content", "channels", "variants"}, at)
        if "content" not in raw:
            self.fail(at, "a send step needs content: {default: ..., email: ...}")
            return None
        content = self.reader.content(raw["content"], f"{at}.content")
        channels = self.reader.channels(raw["channels"], f"{at}.channels") if "channels" in raw else ()
        variants = self.reader.variants(raw["variants"], f"{at}.variants") if "variants" in raw else ()
        self.reader.check_message(content, variants or (), channels or self.channels, at)
        return SendStep(written.name, content, channels, variants, following)

    def _wait(self, written: _Written, following: str | None) -> WaitStep | None:
        raw, at = written.raw, written.where
        self._only(raw, {"wait", "name"}, at)
        value = raw.get("wait")
        if not isinstance(value, Mapping):
            span = self.reader.span(value, f"{at}.wait")
            return WaitStep(written.name, span, next=following) if span is not None else None
        self._only(value, {"until", "timeout", "of"}, f"{at}.wait")
        until_raw = value.get("until")
        until = [until_raw] if isinstance(until_raw, str) else until_raw
        if not isinstance(until, list) or not until:
            self.fail(f"{at}.wait.until", f"an outcome or a list of them ({', '.join(OUTCOMES)})")
            return None
        for outcome in until:
            if outcome not in OUTCOMES:
                self.fail(
                    f"{at}.wait.until", f"{outcome!r} is not an outcome{_suggest(str(outcome), OUTCOMES)}"
                )
        if "timeout" not in value:
            self.fail(f"{at}.wait", "give a timeout: how long to wait at most (timeout: 2d)")
            return None
        span = self.reader.span(value["timeout"], f"{at}.wait.timeout")
        of = self._of(value, written, f"{at}.wait.of")
        if span is None or any(o not in OUTCOMES for o in until):
            return None
        return WaitStep(written.name, span, tuple(until), of, following)

    def _branch(
        self, written: _Written, following: str | None, steps: dict[str, JourneyStep]
    ) -> BranchStep | None:
        raw, at = written.raw, written.where
        self._only(raw, {"branch", "name"}, at)
        branch = raw.get("branch")
        if not isinstance(branch, Mapping):
            return None
        of = self._of(branch, written, f"{at}.branch.of")
        cases: dict[str, str] = {}
        for case, value in written.cases.items():
            if isinstance(value, str):
                target = self._target(value, written, f"{at}.branch.{case}")
                if target is not None:
                    cases[case] = target
            elif value:
                self.link(value, following, steps)
                cases[case] = value[0].name
        if len(cases) != len(written.cases):
            return None
        return BranchStep(written.name, cases, of, following)

    def _target(self, value: Any, written: _Written, at: str) -> str | None:
        if value == "end":
            name = f"{at}:end"
            target = _Written(at, name, "end", "end", written.order)
            self.names.setdefault(name, target)
            return name
        if not isinstance(value, str) or value not in self.names:
            names = [n for n, w in self.names.items() if w.order > written.order and not n.endswith(":end")]
            self.fail(at, f"no step {value!r} to go to{_suggest(str(value), names)} (or write end)")
            return None
        target = self.names[value]
        if target.order <= written.order:
            self.fail(
                at,
                f"{value!r} comes before this step: a journey only goes forward "
                "(each message is sent at most once per customer)",
            )
            return None
        return value

    def _of(self, raw: Mapping[str, Any], written: _Written, at: str) -> str | None:
        """The message a wait or branch looks at: named, or the last one sent before it."""
        earlier = [w for w in self.written if w.kind == "send" and w.order < written.order]
        if "of" in raw:
            name = raw["of"]
            if not any(w.name == name for w in earlier):
                names = [w.name for w in earlier]
                self.fail(at, f"{name!r} is not a message sent before this step{_suggest(str(name), names)}")
            return str(name)
        if not earlier:
            self.fail(
                at.rsplit(".", 1)[0], "no message is sent before this step: there is no outcome to look at"
            )
        return None


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_journey(raw: Any, reader: MessageReader, channels: Sequence[str]) -> Journey | None:
    """Read ``steps:`` (problems go to ``reader``, each with its place); None when unreadable."""
    journey = _JourneyReader(reader, channels)
    top = journey.collect(raw, "steps")
    if len(journey.written) > MAX_STEPS:
        reader.fail("steps", f"{len(journey.written)} steps; a journey has at most {MAX_STEPS}")
        return None
    if not top:
        return None
    steps: dict[str, JourneyStep] = {}
    journey.link(top, None, steps)
    # `end` targets of branch cases become end steps of their own.
    for name in journey.names:
        if name.endswith(":end"):
            steps[name] = EndStep(name)
    if not journey.sends_written():
        reader.fail("steps", "a journey needs at least one send step")
        return None
    ordered = {w.name: steps[w.name] for w in journey.written if w.name in steps}
    ordered.update({n: s for n, s in steps.items() if n not in ordered})
    return Journey(top[0].name, ordered)
