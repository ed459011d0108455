"""Transcript tests: what they say, read from YAML with line numbers.

.. code-block:: yaml

    flows: ..                       # the flows under test, relative to this file (default: ..)
    transcripts:
      - name: a customer rates 5 and leaves a comment
        channel: telegram           # the channel type the customer writes on (default webchat)
        customer: {name: Ana, locale: en, attributes: {city: Lviv}, tags: [vip]}
        business_hours: open        # open | closed (default open)
        turns:
          - event: conversation.resolved
            bot: "How would you rate"          # each reply contains this; a list for several
          - say: "5"                           # or press: PAYLOAD, start: PAYLOAD, advance: 25h,
            bot: ["Thanks"]                    # share: "+380501234567" (a shared contact)
            expect: {attributes: {csat: 5}}
        expect:                                # checked after the last turn
          events: [csat.submitted]
          tags: [promoter]

See docs/flows.md ("Testing flows with transcripts") for every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bots.flows.durations import InvalidDuration, parse_duration
from bots.flows.problems import Problem
from bots.flows.yamlsource import LineList, LineMap, YamlSyntaxError, parse_yaml

# ``wait`` and ``advance`` both move the clock (``advance`` reads better next to a wait step).
ACTIONS = ("say", "press", "start", "event", "wait", "advance", "share")
_TURN_KEYS = {*ACTIONS, "payload", "bot", "bot_exact", "buttons", "qr", "channels", "expect"}
_EXPECT_KEYS = {"vars", "attributes", "tags", "no_tags", "handoff", "waiting", "events", "consents"}
_TRANSCRIPT_KEYS = {"name", "channel", "customer", "business_hours", "turns", "expect"}
_CUSTOMER_KEYS = {"name", "locale", "attributes", "tags", "phone", "timezone"}

# Marks an expectation that was not written (``waiting: null`` is a real expectation).
UNSET: Any = object()


@dataclass(frozen=True)
class EventExpectation:
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsentExpectation:
    channel: str
    purpose: str
    granted: bool


@dataclass(frozen=True)
class HandoffExpectation:
    happened: bool
    team: Any = UNSET
    summary: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expectation:
    line: int
    variables: Mapping[str, Any] | None = None
    attributes: Mapping[str, Any] | None = None
    tags: tuple[str, ...] = ()
    no_tags: tuple[str, ...] = ()
    handoff: HandoffExpectation | None = None
    waiting: Any = UNSET  # "flow.step" or None
    events: tuple[EventExpectation, ...] = ()
    consents: tuple[ConsentExpectation, ...] = ()


@dataclass(frozen=True)
class Turn:
    line: int
    action: str
    text: str = ""
    payload: str | None = None
    event_payload: Mapping[str, Any] = field(default_factory=dict)
    wait: timedelta = timedelta(0)
    bot: tuple[str, ...] | None = None
    exact: bool = False
    buttons: tuple[str, ...] | None = None
    # The texts of the QR codes the turn's replies carry, in order.
    qr: tuple[str, ...] | None = None
    # The channel type each reply goes to, in order.
    channels: tuple[str, ...] | None = None
    expect: Expectation | None = None
    # A shared contact's verified phone (share turns).
    shared_phone: str | None = None

    def describe(self) -> str:
        if self.action == "wait":
            return f"advance {self.wait}"
        if self.action == "share":
            return f"share {self.shared_phone}"
        if self.action == "event":
            return f"event {self.text}"
        if self.action == "press":
            return f"press {self.payload!r}"
        if self.action == "start":
            return f"start {self.payload!r}"
        return f"say {self.text!r}"


@dataclass(frozen=True)
class CustomerSpec:
    name: str = ""
    locale: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # A verified phone identity (E.164): the number an SMS, WhatsApp or call customer writes from.
    phone: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Transcript:
    file: str
    name: str
    line: int
    flows: Path
    turns: tuple[Turn, ...]
    channel: str = "webchat"
    customer: CustomerSpec = field(default_factory=CustomerSpec)
    business_hours: bool = True
    expect: Expectation | None = None

    @property
    def id(self) -> str:
        return f"{Path(self.file).stem}: {self.name}"


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def unknown(self, node: LineMap, allowed: set[str], what: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(
                    node.key_lines[key], f"{key!r} is not a {what} setting ({', '.join(sorted(allowed))})"
                )

    def texts(self, value: Any, line: int, what: str) -> tuple[str, ...] | None:
        items = [value] if isinstance(value, str | int | float) and not isinstance(value, bool) else value
        if not isinstance(items, list) or not all(isinstance(i, str | int | float) for i in items):
            self.problem(line, f"{what} takes a text or a list of texts")
            return None
        return tuple(str(i) for i in items)

    def expectation(self, node: Any, line: int) -> Expectation | None:
        if not isinstance(node, LineMap):
            self.problem(
                line, "expect takes a map (vars, attributes, tags, no_tags, handoff, waiting, events)"
            )
            return None
        self.unknown(node, _EXPECT_KEYS, "expect")
        mappings = {}
        for key in ("vars", "attributes"):
            if key in node and not isinstance(node[key], dict):
                self.problem(node.line_of(key), f"{key} takes a map of name -> value")
            mappings[key] = _plain(node[key]) if isinstance(node.get(key), dict) else None
        tags = self.texts(node["tags"], node.line_of("tags"), "tags") if "tags" in node else ()
        no_tags = self.texts(node["no_tags"], node.line_of("no_tags"), "no_tags") if "no_tags" in node else ()
        return Expectation(
            line=node.line,
            consents=self.consents(node["consents"], node.line_of("consents")) if "consents" in node else (),
            variables=mappings["vars"],
            attributes=mappings["attributes"],
            tags=tags or (),
            no_tags=no_tags or (),
            handoff=self.handoff(node["handoff"], node.line_of("handoff")) if "handoff" in node else None,
            waiting=node.get("waiting", UNSET),
            events=self.events(node["events"], node.line_of("events")) if "events" in node else (),
        )

    def handoff(self, value: Any, line: int) -> HandoffExpectation | None:
        if isinstance(value, bool):
            return HandoffExpectation(value)
        if isinstance(value, LineMap):
            self.unknown(value, {"team", "summary"}, "handoff")
            summary = (
                self.texts(value["summary"], value.line_of("summary"), "summary")
                if "summary" in value
                else ()
            )
            return HandoffExpectation(True, value.get("team", UNSET), summary or ())
        self.problem(line, "handoff takes true, false, or {team: ..., summary: ...}")
        return None

    def events(self, value: Any, line: int) -> tuple[EventExpectation, ...]:
        if not isinstance(value, list):
            self.problem(line, "events takes a list of event kinds (or {kind: ..., payload: {...}})")
            return ()
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(EventExpectation(item))
            elif isinstance(item, LineMap) and isinstance(item.get("kind"), str):
                out.append(EventExpectation(item["kind"], _plain(item.get("payload") or {})))
            else:
                self.problem(line, f"{item!r} is not an event kind or {{kind: ..., payload: ...}}")
        return tuple(out)

    def consents(self, value: Any, line: int) -> tuple[ConsentExpectation, ...]:
        items = value if isinstance(value, list) else None
        out = []
        for item in items or []:
            if (
                isinstance(item, LineMap)
                and set(item) == {"channel", "purpose", "granted"}
                and isinstance(item["granted"], bool)
            ):
                out.append(ConsentExpectation(str(item["channel"]), str(item["purpose"]), item["granted"]))
            else:
                items = None
        if items is None:
            self.problem(line, "consents takes a list of {channel: ..., purpose: ..., granted: true/false}")
        return tuple(out)

    def turn(self, node: Any, line: int) -> Turn | None:
        if not isinstance(node, LineMap):
            self.problem(line, f"a turn is a map with one of {', '.join(ACTIONS)}")
            return None
        self.unknown(node, _TURN_KEYS, "turn")
        actions = [a for a in ACTIONS if a in node]
        if not actions or (len(actions) > 1 and actions != ["say", "press"]):
            self.problem(line, f"a turn needs exactly one of {', '.join(ACTIONS)} (say may go with press)")
            return None
        action = "press" if "press" in actions else actions[0]
        text = node.get("say", "")
        payload = shared_phone = None
        wait = timedelta(0)
        event_payload: dict[str, Any] = {}
        if action == "press":
            payload = str(node["press"])
            text = node.get("say", payload)
        elif action == "start":
            payload = "" if node["start"] in (None, True) else str(node["start"])
            text = f"/start {payload}".strip()
        elif action == "event":
            text = node["event"]
            if not isinstance(text, str):
                self.problem(node.line_of("event"), "event takes an event kind such as order.created")
                return None
            if "payload" in node:
                if not isinstance(node["payload"], dict):
                    self.problem(node.line_of("payload"), "payload takes a map")
                    return None
                event_payload = _plain(node["payload"])
        elif action in ("wait", "advance"):
            action = "wait"
            key = "wait" if "wait" in node else "advance"
            try:
                wait = parse_duration(node[key])
            except InvalidDuration as exc:
                self.problem(node.line_of(key), str(exc))
                return None
        elif action == "share":
            shared_phone = node["share"]
            if not isinstance(shared_phone, str) or not shared_phone.startswith("+"):
                self.problem(node.line_of("share"), 'share takes the shared phone in E.164 ("+380501234567")')
                return None
        if not isinstance(text, str | int | float) or isinstance(text, bool):
            self.problem(line, "say takes a text")
            return None
        if "bot" in node and "bot_exact" in node:
            self.problem(
                line, "use bot (replies contain the texts) or bot_exact (replies equal them), not both"
            )
        key = "bot_exact" if "bot_exact" in node else "bot"
        bot = self.texts(node[key], node.line_of(key), key) if key in node else None
        buttons = (
            self.texts(node["buttons"], node.line_of("buttons"), "buttons") if "buttons" in node else None
        )
        qr = self.texts(node["qr"], node.line_of("qr"), "qr") if "qr" in node else None
        channels = (
            self.texts(node["channels"], node.line_of("channels"), "channels") if "channels" in node else None
        )
        expect = self.expectation(node["expect"], node.line_of("expect")) if "expect" in node else None
        return Turn(
            line=line,
            action=action,
            text=str(text),
            payload=payload,
            event_payload=event_payload,
            wait=wait,
            bot=bot,
            exact=key == "bot_exact",
            buttons=buttons,
            qr=qr,
            channels=channels,
            expect=expect,
            shared_phone=shared_phone,
        )

    def customer(self, node: Any, line: int) -> CustomerSpec:
        if node is None:
            return CustomerSpec()
        if not isinstance(node, LineMap):
            self.problem(line, "customer takes a map (name, locale, attributes, tags, phone, timezone)")
            return CustomerSpec()
        self.unknown(node, _CUSTOMER_KEYS, "customer")
        tags = self.texts(node["tags"], node.line_of("tags"), "tags") if "tags" in node else ()
        phone = node.get("phone")
        if phone is not None and not (isinstance(phone, str) and phone.startswith("+")):
            self.problem(node.line_of("phone"), 'phone is the customer\'s number in E.164 ("+380501234567")')
            phone = None
        return CustomerSpec(
            name=str(node.get("name") or ""),
            locale=node.get("locale"),
            attributes=_plain(node.get("attributes") or {}),
            tags=tags or (),
            phone=phone,
            timezone=node.get("timezone"),
        )

    def transcript(self, node: Any, line: int, flows: Path) -> Transcript | None:
        if not isinstance(node, LineMap) or not isinstance(node.get("name"), str):
            self.problem(line, "a transcript is a map with a name and turns")
            return None
        self.unknown(node, _TRANSCRIPT_KEYS, "transcript")
        raw_turns = node.get("turns")
        if not isinstance(raw_turns, LineList) or not raw_turns:
            self.problem(node.line_of("turns"), "the transcript needs turns: a list")
            return None
        turns = [self.turn(t, raw_turns.line_of(i)) for i, t in enumerate(raw_turns)]
        hours = node.get("business_hours", "open")
        if hours not in ("open", "closed"):
            self.problem(node.line_of("business_hours"), "business_hours is open or closed")
        expect = self.expectation(node["expect"], node.line_of("expect")) if "expect" in node else None
        if any(t is None for t in turns):
            return None
        return Transcript(
            file=self.file,
            name=node["name"],
            line=node.line,
            flows=flows,
            turns=tuple(t for t in turns if t is not None),
            channel=str(node.get("channel", "webchat")),
            customer=self.customer(node.get("customer"), node.line_of("customer")),
            business_hours=hours != "closed",
            expect=expect,
        )


def _plain(value: Any) -> Any:
    """LineMap/LineList -> dict/list, for comparing with what the engine stored."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_transcripts(path: Path) -> tuple[list[Transcript], list[Problem]]:
    """The transcripts of one file, and its problems (a transcript with problems is left out)."""
    reader = _Reader(str(path))
    try:
        document = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), None, f"cannot read the file ({exc})")]
    except YamlSyntaxError as exc:
        return [], [Problem(str(path), exc.line, str(exc))]
    for line, message in document.problems:
        reader.problem(line, message)
    data = document.data
    if not isinstance(data, LineMap) or not isinstance(data.get("transcripts"), LineList):
        reader.problem(1, "a transcript file is a map with 'transcripts:' (a list)")
        return [], reader.problems
    reader.unknown(data, {"flows", "transcripts"}, "file")
    flows_setting = data.get("flows", "..")
    if not isinstance(flows_setting, str):
        reader.problem(data.line_of("flows"), "flows is a path relative to this file")
        flows_setting = ".."
    flows = (path.parent / flows_setting).resolve()
    raw = data["transcripts"]
    transcripts = [reader.transcript(node, raw.line_of(i), flows) for i, node in enumerate(raw)]
    names = [t.name for t in transcripts if t is not None]
    for duplicate in {n for n in names if names.count(n) > 1}:
        reader.problem(raw.line, f"two transcripts are named {duplicate!r}")
    problems = sorted(reader.problems, key=lambda p: p.line or 0)
    return [t for t in transcripts if t is not None], problems
