"""A campaign as written (YAML next to the flows, or JSON through the API), read into a checked
definition with every mistake named at its place.

.. code-block:: yaml

    campaigns:
      - id: spring-sale
        name: Spring sale
        purpose: marketing              # marketing (default) or transactional
        audience: spanish-vips          # a saved segment id, or {conditions: [...]} inline
        schedule: now                   # now | {at: ISO time}
                                        # | {cron: "0 10 * * MON", timezone: Europe/Madrid}
                                        # | {event: cart.abandoned, delay: 1h, unless: order.created}
        channels: [viber, telegram, sms, email]   # preference order over what each customer has
        fallback_after: 30m             # no delivery receipt by then: try the next channel (optional)
        entry: once                     # once per customer (default) | always | {again_after: 30d}
        max_rate: 30                    # messages per second for this campaign (optional)
        send_window: "09:00-20:00"      # in the customer's timezone (optional)
        conversion: {event: order.created, within: 7d}
        content:
          default: {en: "Hi {{ name }}! 20% off this week.", es: "¡Hola {{ name }}! 20% de descuento."}
          email:
            subject: {en: "Spring sale", es: "Rebajas de primavera"}
            text: {en: "...", es: "..."}
          telegram:
            text: {en: "...", es: "..."}
            buttons: [{title: {en: Shop now, es: Comprar}, url: "https://shop.example/spring"}]
        variants:                       # optional A/B split; each may override content
          - {id: a, weight: 50}
          - {id: b, weight: 50, content: {default: {en: "Spring is here: 20% off!"}}}

A multi-step campaign (a journey) has ``steps:`` instead of ``content`` and ``variants``: messages,
waits and branches on what the last message led to (hub.campaigns.journey). ``schedule: flow``
campaigns take the customers bot flows enrol (a flow's ``campaign:`` step); event campaigns take
them too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bots.flows.templating import LocalText, TemplateProblem, compile_template, is_locale_key
from crm_core.segments import SegmentDefinition, SegmentError, Segments
from hub.campaigns.journey import Journey, SendStep, read_journey
from hub.campaigns.rules import parse_window
from hub.scheduler.cron import InvalidSchedule, cron_trigger

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EVENT_KIND = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_SPAN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_SPAN_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# The step name of a single-message campaign's sends (hub.campaigns.planner.STEP).
MESSAGE_STEP = "main"
# The channel types a campaign can send on (voice calls cannot carry a campaign message).
CHANNEL_TYPES = ("telegram", "viber", "whatsapp", "sms", "email", "webchat")
CONTENT_KEYS = ("default", *CHANNEL_TYPES)


class Purpose(StrEnum):
    MARKETING = "marketing"  # needs consent; quiet hours and frequency caps apply
    TRANSACTIONAL = "transactional"  # order updates and the like: exempt from caps, marked as such


class CampaignError(ValueError):
    """Every problem of a campaign definition, each naming where it is."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Schedule:
    """When the campaign sends: ``now`` (on launch), ``at`` a time, on a ``cron`` schedule, on each
    business ``event``, or when a bot ``flow`` enrols the customer (event and flow: after
    ``delay``, unless ``unless`` happened meanwhile)."""

    kind: str  # now | at | cron | event | flow
    at: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"
    event: str | None = None
    delay: timedelta = timedelta(0)
    unless: str | None = None


@dataclass(frozen=True)
class Button:
    title: LocalText
    url: str | None = None
    payload: str | None = None


@dataclass(frozen=True)
class ChannelContent:
    text: LocalText
    subject: LocalText | None = None
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Variant:
    id: str
    weight: int
    # Content per channel type (or "default") overriding the campaign's.
    content: Mapping[str, ChannelContent] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """Who may receive the campaign again: ``once`` per customer, ``always``, or after a pause."""

    mode: str  # once | always | again_after
    again_after: timedelta | None = None


@dataclass(frozen=True)
class Conversion:
    event: str = "order.created"
    within: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class CampaignDefinition:
    id: str
    name: str
    purpose: Purpose
    audience: SegmentDefinition
    # The saved segment id when the audience names one (None: inline conditions).
    segment_id: str | None
    schedule: Schedule
    channels: tuple[str, ...]
    content: Mapping[str, ChannelContent]
    variants: tuple[Variant, ...] = (Variant("a", 100),)
    fallback_after: timedelta | None = None
    entry: Entry = Entry("once")
    max_rate: float | None = None
    send_window: tuple[int, int] | None = None  # minutes from midnight, customer's time
    conversion: Conversion = Conversion()
    source: Mapping[str, Any] = field(default_factory=dict)
    # The steps of a multi-step campaign (None: one message, ``content``).
    journey: Journey | None = None

    @property
    def takes_enrolments(self) -> bool:
        """Whether customers enter one by one (business events and flows), not from a planned run."""
        return self.schedule.kind in ("event", "flow")

    def messages(self) -> list[tuple[str, CampaignDefinition]]:
        """Each message the campaign can send, by step name, as a definition of its own (its
        content, channels and variants): one ("main") for a single-message campaign, one per send
        step of a journey. What previews, test sends and sending itself work with."""
        if self.journey is None:
            return [(MESSAGE_STEP, self)]
        return [(step.name, self.for_send(step)) for step in self.journey.sends()]

    def for_step(self, step: str) -> CampaignDefinition:
        """The definition of the message a send row's ``step`` names (the campaign itself for a
        single message, or when the journey no longer has that step)."""
        if self.journey is None:
            return self
        found = self.journey.steps.get(step)
        return self.for_send(found) if isinstance(found, SendStep) else self

    def for_send(self, step: SendStep) -> CampaignDefinition:
        return replace(
            self,
            content=step.content,
            channels=step.channels or self.channels,
            variants=step.variants or (Variant("a", 100),),
            journey=None,
        )

    def content_for(self, channel: str, variant: str) -> ChannelContent:
        """The content a customer gets on ``channel`` in ``variant``: the variant's own for the
        channel, else the variant's default, else the campaign's for the channel, else its default."""
        chosen = next((v for v in self.variants if v.id == variant), None)
        for source in ((chosen.content if chosen else {}), self.content):
            if channel in source:
                return source[channel]
            if "default" in source:
                return source["default"]
        raise KeyError(f"campaign {self.id!r} has no content for {channel}")


def parse_span(value: Any) -> timedelta | None:
    """``30m``, ``1h``, ``7d``, ``2w`` (or a number of seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = _SPAN.match(str(value)) if isinstance(value, str) else None
    return timedelta(seconds=int(match[1]) * _SPAN_SECONDS[match[2]]) if match else None


# -- parsing ------------------------------------------------------------------------------------------

_SCHEDULES = "now, {at: time}, {cron: expression, timezone: zone}, {event: kind} or flow"


class _Reader:
    def __init__(self, segments: Segments, saved: Mapping[str, SegmentDefinition]) -> None:
        self.problems: list[str] = []
        self.segments = segments
        self.saved = saved

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def text(self, raw: Any, where: str) -> LocalText | None:
        if isinstance(raw, str):
            raw = {"*": raw}
        if not isinstance(raw, Mapping) or not raw:
            self.fail(where, "a text, or one text per language such as {en: ..., es: ...}")
            return None
        variants = {}
        for key, value in raw.items():
            if key != "*" and not is_locale_key(key):
                self.fail(f"{where}.{key}", "not a language code (en, es, es-AR ...)")
                continue
            if not isinstance(value, str) or not value.strip():
                self.fail(f"{where}.{key}", "the text is empty")
                continue
            try:
                variants[key] = compile_template(value)
            except TemplateProblem as exc:
                self.fail(f"{where}.{key}", str(exc))
        return LocalText(variants) if variants else None

    def content(self, raw: Any, where: str) -> dict[str, ChannelContent]:
        if not isinstance(raw, Mapping) or not raw:
            self.fail(where, f"content per channel: {', '.join(CONTENT_KEYS)}")
            return {}
        found: dict[str, ChannelContent] = {}
        for channel, body in raw.items():
            at = f"{where}.{channel}"
            if channel not in CONTENT_KEYS:
                self.fail(at, f"not a channel type (use {', '.join(CONTENT_KEYS)})")
                continue
            if isinstance(body, Mapping) and "text" in body:
                unknown = set(body) - {"text", "subject", "buttons"}
                if unknown:
                    self.fail(at, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
                text = self.text(body["text"], f"{at}.text")
                subject = self.text(body["subject"], f"{at}.subject") if "subject" in body else None
                buttons = self.buttons(body.get("buttons", []), f"{at}.buttons")
            else:
                text, subject, buttons = self.text(body, at), None, ()
            if text is not None:
                found[str(channel)] = ChannelContent(text, subject, buttons)
        return found

    def buttons(self, raw: Any, where: str) -> tuple[Button, ...]:
        if not isinstance(raw, list):
            self.fail(where, "a list of buttons such as {title: Shop now, url: https://...}")
            return ()
        found = []
        for i, item in enumerate(raw):
            at = f"{where}[{i}]"
            if not isinstance(item, Mapping) or "title" not in item:
                self.fail(at, "a button needs a title, and a url or a payload")
                continue
            title = self.text(item["title"], f"{at}.title")
            url, payload = item.get("url"), item.get("payload")
            if (url is None) == (payload is None):
                self.fail(at, "give the button either a url or a payload")
                continue
            if url is not None and not re.match(r"^https?://\S+$", str(url)):
                self.fail(f"{at}.url", f"{url!r} is not an http(s) link")
                continue
            if title is not None:
                found.append(Button(title, url, payload))
        return tuple(found)

    def audience(self, raw: Any) -> tuple[SegmentDefinition | None, str | None]:
        if isinstance(raw, str):
            if raw not in self.saved:
                known = ", ".join(sorted(self.saved)) or "none saved yet"
                self.fail("audience", f"no segment {raw!r} (segments: {known})")
                return None, None
            return self.saved[raw], raw
        if isinstance(raw, Mapping) and set(raw) == {"conditions"}:
            try:
                return self.segments.parse({"id": "audience", "name": "audience", **raw}), None
            except SegmentError as exc:
                for problem in exc.problems:
                    self.fail("audience", problem)
                return None, None
        self.fail("audience", "a segment id, or {conditions: [...]}")
        return None, None

    def schedule(self, raw: Any) -> Schedule:
        if raw in (None, "now"):
            return Schedule("now")
        if raw == "flow":
            return Schedule("flow")
        if not isinstance(raw, Mapping):
            self.fail("schedule", _SCHEDULES)
            return Schedule("now")
        timezone = str(raw.get("timezone", "UTC"))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail("schedule.timezone", f"{timezone!r} is not a time zone such as Europe/Madrid")
            timezone = "UTC"
        if "at" in raw:
            try:
                at = datetime.fromisoformat(str(raw["at"]))
            except ValueError:
                self.fail("schedule.at", f"{raw['at']!r} is not a date and time (2026-12-01T10:00:00+01:00)")
                return Schedule("now")
            if at.tzinfo is None:
                at = at.replace(tzinfo=ZoneInfo(timezone))
            return Schedule("at", at=at, timezone=timezone)
        if "cron" in raw:
            cron = str(raw["cron"])
            try:
                cron_trigger(cron, timezone)
            except InvalidSchedule as exc:
                self.fail("schedule.cron", f"not a cron expression: {exc}")
            return Schedule("cron", cron=cron, timezone=timezone)
        if "event" in raw or "flow" in raw:
            event = raw.get("event")
            if "flow" in raw and raw["flow"] is not True:
                self.fail("schedule.flow", "write `schedule: flow` or {flow: true, delay: ..., unless: ...}")
            elif "flow" in raw and event is not None:
                self.fail(
                    "schedule",
                    "either {event: kind} or {flow: true}: event campaigns take flows' customers too",
                )
            elif "flow" not in raw and (not isinstance(event, str) or not EVENT_KIND.match(event)):
                self.fail("schedule.event", f"{event!r} is not an event kind such as cart.abandoned")
                return Schedule("now")
            delay = parse_span(raw.get("delay", 0))
            if delay is None:
                self.fail("schedule.delay", f"{raw.get('delay')!r} is not a duration such as 1h or 30m")
                delay = timedelta(0)
            unless = raw.get("unless")
            if unless is not None and (not isinstance(unless, str) or not EVENT_KIND.match(unless)):
                self.fail("schedule.unless", f"{unless!r} is not an event kind such as order.created")
                unless = None
            kind = "flow" if "flow" in raw else "event"
            return Schedule(kind, event=event, delay=delay, unless=unless, timezone=timezone)
        self.fail("schedule", _SCHEDULES)
        return Schedule("now")

    def variants(self, raw: Any, where: str = "variants") -> tuple[Variant, ...]:
        if raw is None:
            return (Variant("a", 100),)
        if not isinstance(raw, list) or not raw:
            self.fail(where, "a list such as [{id: a, weight: 50}, {id: b, weight: 50, content: ...}]")
            return (Variant("a", 100),)
        found: list[Variant] = []
        for i, item in enumerate(raw):
            at = f"{where}[{i}]"
            if (
                not isinstance(item, Mapping)
                or not isinstance(item.get("id"), str)
                or not SLUG.match(item["id"])
            ):
                self.fail(at, "each variant needs an id (lowercase letters and digits)")
                continue
            weight = item.get("weight", 0)
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= 100:
                self.fail(f"{at}.weight", f"a whole percentage from 1 to 100, got {weight!r}")
                continue
            content = self.content(item["content"], f"{at}.content") if "content" in item else {}
            found.append(Variant(item["id"], weight, content))
        if found and sum(v.weight for v in found) != 100:
            self.fail(where, f"the weights add up to {sum(v.weight for v in found)}, not 100")
        if len({v.id for v in found}) != len(found):
            self.fail(where, "variant ids must differ")
        return tuple(found) or (Variant("a", 100),)

    def channels(self, raw: Any, where: str) -> tuple[str, ...]:
        if not isinstance(raw, list) or not raw:
            self.fail(where, f"a preference order such as [viber, sms] (types: {', '.join(CHANNEL_TYPES)})")
            return ()
        for i, channel in enumerate(raw):
            if channel not in CHANNEL_TYPES:
                self.fail(f"{where}[{i}]", f"{channel!r} is not one of {', '.join(CHANNEL_TYPES)}")
        if len(set(map(str, raw))) != len(raw):
            self.fail(where, "a channel is listed twice")
        return tuple(str(c) for c in raw if c in CHANNEL_TYPES)

    def check_message(
        self,
        content: Mapping[str, ChannelContent],
        variants: Sequence[Variant],
        channels: Sequence[str],
        where: str,
    ) -> None:
        """Every channel has something to send in every variant, and email has a subject."""
        at = f"{where}.content" if where else "content"
        for channel in channels:
            missing = [
                v.id
                for v in (variants or (Variant("a", 100),))
                if not any(k in src for src in (v.content, content) for k in (channel, "default"))
            ]
            if missing:
                self.fail(at, f"nothing to send on {channel} (add {at}.{channel} or {at}.default)")
        if "email" in channels:
            email = content.get("email")
            if email is None or email.subject is None:
                self.fail(f"{at}.email", f"email needs a subject: {at}.email: {{subject: ..., text: ...}}")

    def span(self, raw: Any, where: str) -> timedelta | None:
        span = parse_span(raw)
        if span is None or span <= timedelta(0):
            self.fail(where, f"{raw!r} is not a duration such as 30m, 1h or 2d")
            return None
        return span

    def entry(self, raw: Any) -> Entry:
        if raw in (None, "once"):
            return Entry("once")
        if raw == "always":
            return Entry("always")
        if isinstance(raw, Mapping) and set(raw) == {"again_after"}:
            span = parse_span(raw["again_after"])
            if span is not None:
                return Entry("again_after", span)
        self.fail("entry", "once, always, or {again_after: 30d}")
        return Entry("once")


def parse_campaign(
    data: Any, *, segments: Segments, saved_segments: Mapping[str, SegmentDefinition]
) -> CampaignDefinition:
    """Read a campaign definition; raises CampaignError listing every problem. ``saved_segments``
    are the segments an ``audience`` may name."""
    if not isinstance(data, Mapping):
        raise CampaignError(["a campaign is a mapping with id, name, audience, channels and content"])
    reader = _Reader(segments, saved_segments)
    known = {
        "id", "name", "purpose", "audience", "schedule", "channels", "fallback_after", "entry",
        "max_rate", "send_window", "conversion", "content", "variants", "steps",
    }  # fmt: skip
    unknown = set(data) - known
    if unknown:
        reader.fail("campaign", f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    campaign_id = data.get("id")
    if not isinstance(campaign_id, str) or not SLUG.match(campaign_id):
        reader.fail("id", f"{campaign_id!r} is not a campaign id (lowercase letters, digits, - and _)")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        reader.fail("name", "give the campaign a name people recognise")
    try:
        purpose = Purpose(data.get("purpose", "marketing"))
    except ValueError:
        reader.fail("purpose", f"{data.get('purpose')!r} is not marketing or transactional")
        purpose = Purpose.MARKETING
    audience, segment_id = reader.audience(data.get("audience"))
    schedule = reader.schedule(data.get("schedule"))
    channels = reader.channels(data.get("channels"), "channels")
    journey = None
    content: dict[str, ChannelContent] = {}
    variants: tuple[Variant, ...] = (Variant("a", 100),)
    if "steps" in data:
        # A journey: each send step has its own content (and variants).
        for key in ("content", "variants"):
            if key in data:
                reader.fail(key, f"a campaign with steps has its {key} on each send step")
        journey = read_journey(data["steps"], reader, channels)
    else:
        content = reader.content(data.get("content"), "content")
        variants = reader.variants(data.get("variants"))
        reader.check_message(content, variants, channels, "")
    fallback = None
    if data.get("fallback_after") is not None:
        fallback = parse_span(data["fallback_after"])
        if fallback is None:
            reader.fail("fallback_after", f"{data['fallback_after']!r} is not a duration such as 30m")
    max_rate = data.get("max_rate")
    if max_rate is not None and (
        isinstance(max_rate, bool) or not isinstance(max_rate, int | float) or max_rate <= 0
    ):
        reader.fail("max_rate", f"messages per second, a positive number, got {max_rate!r}")
        max_rate = None
    window = None
    if data.get("send_window") is not None:
        window = parse_window(data["send_window"])
        if window is None:
            reader.fail("send_window", f"{data['send_window']!r} is not a window such as 09:00-20:00")
    conversion = Conversion()
    raw_conversion = data.get("conversion")
    if raw_conversion is not None:
        if not isinstance(raw_conversion, Mapping):
            reader.fail("conversion", "{event: order.created, within: 7d}")
        else:
            event = raw_conversion.get("event", "order.created")
            within = parse_span(raw_conversion.get("within", "7d"))
            if not isinstance(event, str) or not EVENT_KIND.match(event):
                reader.fail("conversion.event", f"{event!r} is not an event kind")
            elif within is None:
                reader.fail(
                    "conversion.within", f"{raw_conversion.get('within')!r} is not a duration such as 7d"
                )
            else:
                conversion = Conversion(event, within)
    entry = reader.entry(data.get("entry"))
    if reader.problems or audience is None:
        raise CampaignError(reader.problems or ["audience: missing"])
    return CampaignDefinition(
        id=str(campaign_id),
        name=str(name).strip(),
        purpose=purpose,
        audience=audience,
        segment_id=segment_id,
        schedule=schedule,
        channels=tuple(channels),
        content=content,
        variants=variants,
        fallback_after=fallback,
        entry=entry,
        max_rate=float(max_rate) if max_rate is not None else None,
        send_window=window,
        conversion=conversion,
        source=dict(data),
        journey=journey,
    )
