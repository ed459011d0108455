"""Reading one flow file into a Flow, reporting every structural problem with its line.

A flow file is a YAML mapping::

    id: support            # unique among the loaded flows
    version: 3             # stored with in-flight conversations
    description: ...       # optional
    triggers: [...]        # when the flow starts (see bots.flows.triggers)
    start: welcome         # the first step
    steps: {welcome: {say: ...}, ...}

Cross-step checks (targets exist, every step is reachable, no loop that never waits) are in
bots.flows.validate, which also looks across files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bots.flows.model import Flow, Trigger, TriggerKind
from bots.flows.problems import Problem
from bots.flows.steps import PARSERS, SETTINGS, Step
from bots.flows.steps.reader import STEP_NAME, FileContext, StepReader, suggestion
from bots.flows.yamlsource import LineList, LineMap, YamlSyntaxError, parse_yaml

FLOW_KEYS = ("id", "version", "description", "triggers", "start", "steps")
FLOW_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TRIGGER_OPTIONS = ("threshold", "channels", "interrupt", "step", "audience", "timezone")
_SEGMENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PATTERN = re.compile(r"^[^\s]{1,64}$")


def read_document(path: Path) -> tuple[Any, list[Problem]]:
    """The file's YAML with line numbers (None when unreadable) and its reading problems."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, None, f"cannot read the file ({exc})")]
    try:
        document = parse_yaml(text)
    except YamlSyntaxError as exc:
        return None, [Problem(name, exc.line, str(exc))]
    return document.data, [Problem(name, line, message) for line, message in document.problems]


def looks_like_flow(data: Any) -> bool:
    """Whether a YAML document in the flows folder is meant to be a flow (the folder also holds other
    YAML, such as the greeting bot's texts)."""
    return isinstance(data, dict) and any(key in data for key in ("id", "steps", "triggers", "start"))


@dataclass(frozen=True)
class ReadFlow:
    """A flow file as read. ``flow`` holds the steps that parsed (None without a start or any
    steps), so the graph can be checked even in a file with other mistakes; ``declared`` is every
    step name written, parsed or not. Only a flow without problems may be activated."""

    flow: Flow | None
    problems: list[Problem]
    declared: frozenset[str] = frozenset()

    @property
    def valid(self) -> bool:
        return self.flow is not None and not self.problems


def read_flow(path: Path, data: Any) -> ReadFlow:
    """Build a Flow from the YAML ``data`` read from ``path`` (see read_document)."""
    context = FileContext(str(path), path.parent)
    if not isinstance(data, LineMap):
        context.problem(1, "a flow file is a map with id, version, triggers, start and steps")
        return ReadFlow(None, context.problems)
    for key in data:
        if key not in FLOW_KEYS:
            context.problem(data.key_lines[key], f"unknown setting {key!r}{suggestion(str(key), FLOW_KEYS)}")
    flow_id = _flow_id(data, context)
    version = _version(data, context)
    description = data.get("description", "")
    if not isinstance(description, str):
        context.problem(data.line_of("description"), "description must be a text")
        description = ""
    triggers = _triggers(data, context)
    steps = _steps(data, context)
    start = data.get("start")
    if not isinstance(start, str) or not STEP_NAME.match(start):
        context.problem(data.line_of("start"), "'start' must name the first step")
        start = None
    raw_steps = data.get("steps")
    declared = frozenset(str(name) for name in raw_steps) if isinstance(raw_steps, dict) else frozenset()
    if start is None or steps is None:
        return ReadFlow(None, context.problems, declared)
    flow = Flow(
        id=flow_id or "",
        version=version or "",
        file=str(path),
        line=data.line,
        start=start,
        steps=steps,
        triggers=tuple(triggers),
        description=description,
    )
    return ReadFlow(flow, context.problems, declared)


def _flow_id(data: LineMap, context: FileContext) -> str | None:
    flow_id = data.get("id")
    if flow_id is None:
        context.problem(data.line, "the flow needs an 'id' (e.g. id: support)")
        return None
    if not isinstance(flow_id, str) or not FLOW_ID.match(flow_id):
        context.problem(
            data.line_of("id"),
            f"the id {flow_id!r} must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
        )
        return None
    return flow_id


def _version(data: LineMap, context: FileContext) -> str | None:
    version = data.get("version")
    if version is None:
        context.problem(
            data.line, "the flow needs a 'version' (e.g. version: 1); raise it when you change it"
        )
        return None
    if (
        isinstance(version, bool)
        or not isinstance(version, str | int | float)
        or not 0 < len(str(version)) <= 32
    ):
        context.problem(
            data.line_of("version"), f"the version must be a number or a short text, got {version!r}"
        )
        return None
    return str(version)


def _strings(value: Any) -> list[str] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
        return None
    return [i.strip() for i in items]


def _triggers(data: LineMap, context: FileContext) -> list[Trigger]:
    raw = data.get("triggers")
    if raw is None:
        return []
    if not isinstance(raw, LineList):
        context.problem(data.line_of("triggers"), "'triggers' is a list (- keyword: [...], - event: ...)")
        return []
    kinds = [k.value for k in TriggerKind]
    triggers = []
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        if not isinstance(item, LineMap):
            context.problem(line, f"a trigger is a map such as 'keyword: [menu]'; kinds: {', '.join(kinds)}")
            continue
        present = [k for k in item if k in kinds]
        for key in item:
            if key not in kinds and key not in _TRIGGER_OPTIONS:
                context.problem(
                    item.key_lines[key],
                    f"unknown trigger {key!r}{suggestion(str(key), kinds + list(_TRIGGER_OPTIONS))}",
                )
        if len(present) != 1:
            if present:
                context.problem(line, f"one trigger per list item; this one has {' and '.join(present)}")
            elif all(k in _TRIGGER_OPTIONS for k in item):
                context.problem(line, f"the trigger has no kind; use one of {', '.join(kinds)}")
            continue
        trigger = _trigger(TriggerKind(present[0]), item, context)
        if trigger is not None:
            triggers.append(trigger)
    return triggers


def _trigger(kind: TriggerKind, item: LineMap, context: FileContext) -> Trigger | None:
    value = item[kind.value]
    line = item.line_of(kind.value)
    patterns: list[str] | None
    if kind is TriggerKind.CONVERSATION_OPENED:
        if value is not True:
            context.problem(line, "write 'conversation_opened: true'")
            return None
        patterns = []
    elif kind is TriggerKind.START and value is True:
        patterns = []
    elif kind is TriggerKind.SCHEDULE:
        problem = cron_problem(value) if isinstance(value, str) else "write it as a crontab text"
        if problem is not None:
            context.problem(
                line, f"schedule {value!r}: {problem} (e.g. '0 10 * * MON': minute hour day month weekday)"
            )
            return None
        patterns = [str(value)]
    elif kind is TriggerKind.SEGMENT:
        if not isinstance(value, str) or not _SEGMENT_ID.match(value):
            context.problem(
                line, f"segment takes the id of a saved segment (lowercase, digits, - and _), got {value!r}"
            )
            return None
        patterns = [value]
    else:
        patterns = _strings(value)
        if patterns is None:
            context.problem(line, f"{kind.value} takes a text or a list of texts, got {value!r}")
            return None
        if kind in (TriggerKind.START, TriggerKind.BUTTON, TriggerKind.EVENT):
            for pattern in patterns:
                if not _PATTERN.match(pattern):
                    context.problem(
                        line, f"{kind.value} pattern {pattern!r} must be one word of at most 64 characters"
                    )
                    return None
    threshold = 85.0
    if "threshold" in item:
        raw = item["threshold"]
        if kind is not TriggerKind.INTENT:
            context.problem(item.line_of("threshold"), "'threshold' only applies to intent triggers")
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or not 1 <= raw <= 100:
            context.problem(item.line_of("threshold"), f"'threshold' is a score from 1 to 100, got {raw!r}")
        else:
            threshold = float(raw)
    channels: list[str] = []
    if "channels" in item:
        channels = _strings(item["channels"]) or []
        if not channels:
            context.problem(
                item.line_of("channels"), "'channels' is a list of channel types (webchat, telegram, ...)"
            )
    interrupt = item.get("interrupt", False)
    if not isinstance(interrupt, bool):
        context.problem(item.line_of("interrupt"), "'interrupt' is true or false")
        interrupt = False
    step = item.get("step")
    if step is not None and (not isinstance(step, str) or not STEP_NAME.match(step)):
        context.problem(item.line_of("step"), f"'step' must name a step of this flow, got {step!r}")
        step = None
    audience = item.get("audience")
    if kind is TriggerKind.SCHEDULE:
        if not isinstance(audience, str) or not _SEGMENT_ID.match(audience):
            context.problem(
                item.line_of("audience"),
                "a schedule starts the flow for a saved segment's customers: add 'audience: <segment id>'",
            )
            return None
    elif audience is not None:
        context.problem(item.line_of("audience"), "'audience' only applies to schedule triggers")
    timezone = item.get("timezone")
    if timezone is not None:
        if kind is not TriggerKind.SCHEDULE:
            context.problem(item.line_of("timezone"), "'timezone' only applies to schedule triggers")
            timezone = None
        elif not _is_zone(timezone):
            context.problem(
                item.line_of("timezone"), f"{timezone!r} is not a time zone such as Europe/Madrid"
            )
            timezone = None
    return Trigger(
        kind=kind,
        line=item.line,
        patterns=tuple(patterns),
        threshold=threshold,
        channels=tuple(channels),
        interrupt=interrupt,
        step=step,
        timezone=timezone,
        audience=audience if kind is TriggerKind.SCHEDULE else None,
    )


def _is_zone(name: Any) -> bool:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def cron_problem(text: str) -> str | None:
    """What is wrong with a crontab expression (five fields), or None."""
    fields = text.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(fields)}"
    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        return str(exc)
    return None


def _steps(data: LineMap, context: FileContext) -> dict[str, Step] | None:
    raw = data.get("steps")
    if not isinstance(raw, LineMap) or not raw:
        context.problem(data.line_of("steps"), "'steps' is a map of step name -> step (say, ask, ...)")
        return None
    kinds = list(PARSERS)
    steps: dict[str, Step] = {}
    for name, node in raw.items():
        line = raw.key_lines[name]
        if not isinstance(name, str) or not STEP_NAME.match(name):
            context.problem(line, f"{name!r} is not a step name: letters, digits, '_' and '-' (at most 64)")
            continue
        if not isinstance(node, LineMap):
            context.problem(line, f"step {name!r} must be a map such as 'say: Hello'")
            continue
        present = [k for k in node if k in PARSERS]
        if len(present) > 1:
            context.problem(
                line, f"step {name!r} has two kinds ({' and '.join(present)}); split it in two steps"
            )
            continue
        if not present:
            unknown = [str(k) for k in node if k not in SETTINGS]
            if unknown:
                context.problem(
                    node.key_lines[unknown[0]],
                    f"step {name!r}: unknown step kind {unknown[0]!r}{suggestion(unknown[0], kinds)}",
                )
            else:
                context.problem(line, f"step {name!r} has no kind; use one of {', '.join(kinds)}")
            continue
        step = PARSERS[present[0]](StepReader(context, name, node, present[0]))
        if step is not None:
            steps[name] = step
    return steps
