"""A segment's conditions as data: parsed from YAML/JSON into a small tree, with every mistake
reported at its place (``conditions[2].event: ...``) before anything runs.

The language (docs/segments.md has the reference with examples)::

    id: spanish-vips
    name: Spanish-speaking VIPs
    conditions:                       # all must hold (use `any:` / `not:` to combine otherwise)
      - tag: vip
      - locale: es
      - attribute: birthday           # date attributes: birthdays by day and month
        birthday: next 7 days
      - attribute: city
        in: [Madrid, Sevilla]
      - channel: telegram             # has an identity of that kind
      - consent: {channel: sms, purpose: marketing}
      - event: order.created
        within: 90 days
        count: {gte: 2}
      - no_event: cart.abandoned
        within: 1 day
      - ltv: {gte: 500}
      - any:
          - attribute: csat
            lte: 2
          - open_conversation: true
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
EVENT_KIND = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
# Dates read better with words: `after: 30 days ago`.
DATE_ALIASES = {"before": "lt", "after": "gt", "on_or_before": "lte", "on_or_after": "gte"}
ATTRIBUTE_OPS = (*COMPARISONS, *DATE_ALIASES, "in", "not_in", "contains", "exists", "birthday")

# The RFM and lifetime-value figures, computed from order events (see crm_core.segments.sql).
ORDER_FIGURES = ("ltv", "aov", "orders", "days_since_last_order")


class SegmentError(ValueError):
    """Every problem of a segment definition, each naming where it is."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# -- the tree -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """Comparisons against one value, all of which must hold (``gte: 18, lt: 30``)."""

    ops: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class AttributeCondition:
    key: str
    ops: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class FieldCondition:
    """A built-in field of the record: ``locale`` (language prefix match) or ``created``."""

    name: str
    ops: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class TagCondition:
    tag: str
    present: bool


@dataclass(frozen=True)
class ChannelCondition:
    """Has (or lacks) an identity of this kind (phone, email, telegram, viber, webchat, api)."""

    kind: str
    present: bool


@dataclass(frozen=True)
class ConsentCondition:
    """Consent granted (``granted``) or not granted: refused or never asked (``not granted``)."""

    channel: str
    purpose: str
    granted: bool


@dataclass(frozen=True)
class EventCondition:
    kind: str
    present: bool
    within: str | None = None
    count: Range | None = None
    # {payload field: Range} summed over the matching events.
    sums: tuple[tuple[str, Range], ...] = ()
    # Payload fields that must equal these values.
    where: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class OrderFigure:
    figure: str  # one of ORDER_FIGURES
    range: Range
    within: str | None = None


@dataclass(frozen=True)
class FactCondition:
    """A fact kept outside the customer record (``open_conversation``), compiled by a registered
    fact (see crm_core.segments.facts)."""

    name: str
    value: Any


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


Condition = (
    AttributeCondition
    | FieldCondition
    | TagCondition
    | ChannelCondition
    | ConsentCondition
    | EventCondition
    | OrderFigure
    | FactCondition
    | AllOf
    | AnyOf
    | Not
)


@dataclass(frozen=True)
class SegmentDefinition:
    id: str
    name: str
    conditions: AllOf
    description: str = ""
    # The definition as written, for storing and showing back.
    source: Mapping[str, Any] = field(default_factory=dict)


# -- parsing ------------------------------------------------------------------------------------------


IDENTITY_KINDS = ("phone", "email", "telegram", "viber", "webchat", "api")
PURPOSES = ("marketing", "transactional")


def parse_segment(data: Any, *, facts: Sequence[str] = ()) -> SegmentDefinition:
    """Read a segment definition; raises SegmentError listing every problem. ``facts`` are the
    names of the registered fact conditions besides the built-in ones."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise SegmentError(["a segment is a mapping with id, name and conditions"])
    unknown = set(data) - {"id", "name", "description", "conditions"}
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (use id, name, description, conditions)"
        )
    segment_id = data.get("id")
    if not isinstance(segment_id, str) or not SLUG.match(segment_id):
        problems.append(f"id: {segment_id!r} is not a segment id (lowercase letters, digits, - and _)")
    name = data.get("name", segment_id)
    if not isinstance(name, str) or not name.strip():
        problems.append("name: give the segment a name people recognise")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append("description: must be text")
    raw = data.get("conditions")
    parser = _Parser(problems, frozenset(facts))
    conditions = AllOf(())
    if not isinstance(raw, list):
        problems.append("conditions: a list of conditions (an empty list matches every customer)")
    else:
        conditions = AllOf(parser.many(raw, "conditions"))
    if problems:
        raise SegmentError(problems)
    return SegmentDefinition(
        id=str(segment_id),
        name=str(name).strip(),
        conditions=conditions,
        description=str(description),
        source=dict(data),
    )


class _Parser:
    def __init__(self, problems: list[str], facts: frozenset[str]) -> None:
        self.problems = problems
        self.facts = facts

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def many(self, items: Any, where: str) -> tuple[Condition, ...]:
        if not isinstance(items, list):
            self.fail(where, "expected a list of conditions")
            return ()
        parsed = (self.one(item, f"{where}[{i}]") for i, item in enumerate(items))
        return tuple(c for c in parsed if c is not None)

    def one(self, item: Any, where: str) -> Condition | None:
        if not isinstance(item, Mapping) or not item:
            self.fail(where, "a condition is a mapping such as {tag: vip}")
            return None
        keys = set(item)
        if "attribute" in keys:
            return self._attribute(item, where)
        if keys & {"event", "no_event"}:
            return self._event(item, where)
        if keys & set(ORDER_FIGURES):
            return self._figure(item, where)
        if len(keys) != 1:
            self.fail(where, f"one condition per list item, got {', '.join(sorted(map(str, keys)))}")
            return None
        ((key, value),) = item.items()
        if key in {"all", "any"}:
            children = self.many(value, f"{where}.{key}")
            return AllOf(children) if key == "all" else AnyOf(children)
        if key == "not":
            child = self.one(value, f"{where}.not")
            return Not(child) if child is not None else None
        if key in {"tag", "no_tag"}:
            if not isinstance(value, str) or not value.strip():
                self.fail(f"{where}.{key}", "name a tag")
                return None
            return TagCondition(value.strip(), key == "tag")
        if key in {"channel", "no_channel"}:
            if value not in IDENTITY_KINDS:
                self.fail(f"{where}.{key}", f"{value!r} is not one of {', '.join(IDENTITY_KINDS)}")
                return None
            return ChannelCondition(value, key == "channel")
        if key in {"consent", "no_consent"}:
            return self._consent(key, value, where)
        if key == "locale":
            if not isinstance(value, str) or not value:
                self.fail(f"{where}.locale", "a language code such as es or en-GB")
                return None
            return FieldCondition("locale", (("eq", value),))
        if key == "created":
            ops = self._ops(value, f"{where}.created", date_like=True)
            return FieldCondition("created", ops) if ops else None
        if key in self.facts:
            return FactCondition(key, value)
        known = "attribute, tag, no_tag, channel, no_channel, consent, no_consent, event, no_event, "
        known += ", ".join((*ORDER_FIGURES, "locale", "created", *sorted(self.facts), "all", "any", "not"))
        self.fail(where, f"unknown condition {key!r} (known: {known})")
        return None

    def _attribute(self, item: Mapping[str, Any], where: str) -> Condition | None:
        key = item.get("attribute")
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            self.fail(f"{where}.attribute", f"{key!r} is not an attribute name (letters, digits and _)")
            return None
        rest = {k: v for k, v in item.items() if k != "attribute"}
        ops = self._ops(rest, where, date_like=False, allowed=ATTRIBUTE_OPS)
        return AttributeCondition(key, ops) if ops else None

    def _ops(
        self,
        value: Any,
        where: str,
        *,
        date_like: bool,
        allowed: Sequence[str] = (*COMPARISONS, *DATE_ALIASES),
    ) -> tuple[tuple[str, Any], ...]:
        if not isinstance(value, Mapping) or not value:
            self.fail(where, f"give a comparison such as {{gte: 10}} (one of {', '.join(allowed)})")
            return ()
        ops: list[tuple[str, Any]] = []
        for op, operand in value.items():
            if op not in allowed:
                self.fail(f"{where}.{op}", f"unknown comparison (use one of {', '.join(allowed)})")
                continue
            op = DATE_ALIASES.get(op, op)
            if op in {"in", "not_in"} and not (isinstance(operand, list) and operand):
                self.fail(f"{where}.{op}", "a non-empty list of values")
                continue
            if op == "exists" and not isinstance(operand, bool):
                self.fail(f"{where}.exists", "true or false")
                continue
            if op == "birthday":
                problem = birthday_problem(operand)
                if problem:
                    self.fail(f"{where}.birthday", problem)
                    continue
            if date_like and op in COMPARISONS:
                problem = date_problem(operand)
                if problem:
                    self.fail(f"{where}.{op}", problem)
                    continue
            ops.append((op, operand))
        return tuple(ops)

    def _range(self, value: Any, where: str) -> Range | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Range((("eq", value),))
        ops = self._ops(value, where, date_like=False, allowed=COMPARISONS)
        for op, operand in ops:
            if isinstance(operand, bool) or not isinstance(operand, int | float):
                self.fail(f"{where}.{op}", f"a number, got {operand!r}")
                return None
        return Range(ops) if ops else None

    def _within(self, item: Mapping[str, Any], where: str) -> str | None:
        within = item.get("within")
        if within is None:
            return None
        if parse_span(within) is None:
            self.fail(f"{where}.within", f"{within!r} is not a span such as 30 days, 12 hours or 2 weeks")
            return None
        return str(within)

    def _event(self, item: Mapping[str, Any], where: str) -> Condition | None:
        present = "event" in item
        kind = item.get("event" if present else "no_event")
        unknown = set(item) - {"event", "no_event", "within", "count", "sum", "where"}
        if "event" in item and "no_event" in item:
            self.fail(where, "use event or no_event, not both")
            return None
        if unknown:
            self.fail(where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))} for an event condition")
        if not isinstance(kind, str) or not EVENT_KIND.match(kind):
            self.fail(where, f"{kind!r} is not an event kind such as order.created")
            return None
        within = self._within(item, where)
        count = self._range(item["count"], f"{where}.count") if "count" in item else None
        sums: list[tuple[str, Range]] = []
        raw_sum = item.get("sum")
        if raw_sum is not None:
            if not isinstance(raw_sum, Mapping) or not raw_sum:
                self.fail(f"{where}.sum", "a payload field and a comparison, such as {amount: {gte: 100}}")
            else:
                for name, comparison in raw_sum.items():
                    if not ATTRIBUTE_KEY.match(str(name)):
                        self.fail(f"{where}.sum", f"{name!r} is not a payload field name")
                        continue
                    parsed = self._range(comparison, f"{where}.sum.{name}")
                    if parsed is not None:
                        sums.append((str(name), parsed))
        raw_where = item.get("where", {})
        if not isinstance(raw_where, Mapping) or not all(ATTRIBUTE_KEY.match(str(k)) for k in raw_where):
            self.fail(f"{where}.where", "payload field names and the values they must equal")
            raw_where = {}
        if not present and (count is not None or sums):
            self.fail(where, "no_event takes only within and where (use event with count for thresholds)")
        return EventCondition(kind, present, within, count, tuple(sums), tuple(raw_where.items()))

    def _figure(self, item: Mapping[str, Any], where: str) -> Condition | None:
        figures = [k for k in item if k in ORDER_FIGURES]
        unknown = set(item) - set(ORDER_FIGURES) - {"within"}
        if len(figures) != 1 or unknown:
            self.fail(where, f"one of {', '.join(ORDER_FIGURES)} per condition, with an optional within")
            return None
        figure = figures[0]
        parsed = self._range(item[figure], f"{where}.{figure}")
        if parsed is None:
            return None
        return OrderFigure(figure, parsed, self._within(item, where))

    def _consent(self, key: str, value: Any, where: str) -> Condition | None:
        if not isinstance(value, Mapping) or not isinstance(value.get("channel"), str):
            self.fail(
                f"{where}.{key}", "give the channel and purpose, such as {channel: sms, purpose: marketing}"
            )
            return None
        purpose = value.get("purpose", "marketing")
        if purpose not in PURPOSES:
            self.fail(f"{where}.{key}.purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}")
            return None
        return ConsentCondition(value["channel"], purpose, key == "consent")


# -- values -------------------------------------------------------------------------------------------

_SPAN = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")
_RELATIVE = re.compile(
    r"^\s*(?:(\d+)\s*(minute|hour|day|week)s?\s+ago|in\s+(\d+)\s*(minute|hour|day|week)s?)\s*$"
)
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440, "week": 10080}


def parse_span(value: Any) -> int | None:
    """``30 days`` -> minutes; None when it is not a span."""
    match = _SPAN.match(str(value)) if isinstance(value, str) else None
    return int(match[1]) * _UNIT_MINUTES[match[2]] if match else None


def relative_minutes(value: str) -> int | None:
    """``30 days ago`` -> -43200, ``in 2 hours`` -> 120, ``now`` -> 0; None when not relative."""
    if value.strip() in {"now", "today"}:
        return 0
    match = _RELATIVE.match(value)
    if not match:
        return None
    if match[1]:
        return -int(match[1]) * _UNIT_MINUTES[match[2]]
    return int(match[3]) * _UNIT_MINUTES[match[4]]


def date_problem(value: Any) -> str | None:
    if isinstance(value, date):
        return None
    if isinstance(value, str):
        if relative_minutes(value) is not None:
            return None
        try:
            date.fromisoformat(value[:10])
            return None
        except ValueError:
            pass
    return f"{value!r} is not a date (YYYY-MM-DD, 'today', '30 days ago', 'in 2 weeks')"


_NEXT_DAYS = re.compile(r"^\s*next\s+(\d+)\s+days?\s*$")
_DAY_MONTH = re.compile(r"^(\d\d)-(\d\d)$")


def birthday_problem(value: Any) -> str | None:
    if value == "today" or (isinstance(value, str) and (_NEXT_DAYS.match(value) or _DAY_MONTH.match(value))):
        return None
    return f"{value!r}: use today, 'next 7 days' or a day as MM-DD"
