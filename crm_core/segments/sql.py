"""A segment definition as one SQL condition over the customers table.

Everything is evaluated by the database (correlated EXISTS on identities and consents, one grouped
aggregate of customer_events per event condition), on SQLite and PostgreSQL alike; nothing loads
customers into Python. Merged-away records never match.

Order figures (documented in docs/segments.md), over events of kind ``orders.event`` (default
``order.created``) whose payload holds a numeric ``orders.amount`` (default ``amount``):

- ``ltv``: sum of the amounts (lifetime value; within a span when ``within`` is given: monetary);
- ``orders``: how many orders (frequency);
- ``aov``: ltv / orders (average order value); customers without orders have none and never match;
- ``days_since_last_order``: whole days since the latest order (recency); no orders, no match.

Over all time (no ``within``), order figures and order-event conditions read the per-customer
order summary (crm_core.segments.order_summary) instead of aggregating the events: the same answer
from one narrow row per buyer, which keeps such segments fast over a million customers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from crm_core.models import AttributeType, Consent, ConsentPurpose, Customer, CustomerEvent, Identity
from crm_core.segments.definition import (
    AllOf,
    AnyOf,
    AttributeCondition,
    ChannelCondition,
    Condition,
    ConsentCondition,
    EventCondition,
    FactCondition,
    FieldCondition,
    Not,
    OrderFigure,
    Range,
    TagCondition,
    parse_span,
    relative_minutes,
)
from crm_core.segments.json_sql import JsonFlag, JsonNumber, JsonText, TagsContain
from crm_core.segments.order_summary import ORDER_EVENTS, OrderEvents, OrderSummary

# A condition kept outside the customer record (the inbox's open conversations, say): given the
# condition's value, the customers.id column and now, the SQL that holds for matching customers.
FactCompiler = Callable[[Any, ColumnElement[Any], datetime], ColumnElement[bool]]


@dataclass(frozen=True)
class SegmentContext:
    """What compiling needs besides the definition: the time it is evaluated at, the declared
    attribute types, the registered facts and the order events."""

    now: datetime
    # The calendar day birthdays are counted from (the business's today; defaults to now's date).
    today: date | None = None
    types: Mapping[str, AttributeType] = field(default_factory=dict)
    facts: Mapping[str, FactCompiler] = field(default_factory=dict)
    orders: OrderEvents = ORDER_EVENTS
    # Read all-time order figures from the order summaries (False: aggregate the events, as a
    # cross-check does).
    order_summaries: bool = True

    def summarised(self, within: str | None) -> bool:
        """Whether order figures over ``within`` can be read from the order summaries."""
        return self.order_summaries and within is None and self.orders == ORDER_EVENTS


_CUSTOMERS = Customer.__table__.c  # type: ignore[attr-defined]
_EVENTS = CustomerEvent.__table__.c  # type: ignore[attr-defined]
_IDENTITIES = Identity.__table__.c  # type: ignore[attr-defined]
_CONSENTS = Consent.__table__.c  # type: ignore[attr-defined]
_SUMMARY = OrderSummary.__table__.c  # type: ignore[attr-defined]


def segment_filter(condition: Condition, ctx: SegmentContext) -> ColumnElement[bool]:
    """The WHERE condition selecting the segment's customers (live records only)."""
    return and_(_CUSTOMERS.merged_into_id.is_(None), _compile(condition, ctx))


def _compile(condition: Condition, ctx: SegmentContext) -> ColumnElement[bool]:
    match condition:
        case AllOf(conditions):
            return _all_of(conditions, ctx)
        case AnyOf(conditions):
            return or_(false(), *(_compile(c, ctx) for c in conditions))
        case Not(inner):
            # A condition on a missing value is NULL in SQL; NOT NULL stays NULL, so coalesce first:
            # "not (city = Madrid)" must include customers with no city.
            return not_(func.coalesce(_compile(inner, ctx), false()))
        case TagCondition(tag, present):
            held = TagsContain(_CUSTOMERS.tags, tag)
            return held if present else not_(held)
        case ChannelCondition(kind, present):
            has = exists().where(_IDENTITIES.customer_id == _CUSTOMERS.id, _IDENTITIES.kind == kind)
            return has if present else not_(has)
        case ConsentCondition(channel, purpose, granted):
            given = exists().where(
                _CONSENTS.customer_id == _CUSTOMERS.id,
                _CONSENTS.channel == channel,
                _CONSENTS.purpose == ConsentPurpose(purpose).value,
                _CONSENTS.granted.is_(True),
            )
            return given if granted else not_(given)
        case FieldCondition(name, ops):
            return _field(name, ops, ctx)
        case AttributeCondition(key, ops):
            return _attribute(key, ops, ctx)
        case EventCondition():
            return _event(condition, ctx)
        case OrderFigure():
            return _order_figure(condition, ctx)
        case FactCondition(name, value):
            return ctx.facts[name](value, _CUSTOMERS.id, ctx.now)
    raise TypeError(f"not a segment condition: {condition!r}")


# -- comparisons --------------------------------------------------------------------------------------


def _compare(value: ColumnElement[Any], op: str, operand: Any) -> ColumnElement[bool]:
    if op == "eq":
        return value == operand
    if op == "ne":
        return value != operand
    if op == "gt":
        return value > operand
    if op == "gte":
        return value >= operand
    if op == "lt":
        return value < operand
    if op == "lte":
        return value <= operand
    if op == "in":
        return value.in_(operand)
    if op == "not_in":
        return value.not_in(operand)
    raise ValueError(f"unknown comparison {op!r}")


def _range(value: ColumnElement[Any], rng: Range) -> ColumnElement[bool]:
    return and_(true(), *(_compare(value, op, operand) for op, operand in rng.ops))


def _when(operand: Any, ctx: SegmentContext) -> datetime:
    """A date operand as a UTC datetime: relative words count from now; a plain date is its start."""
    if isinstance(operand, datetime):
        return operand
    if isinstance(operand, date):
        return datetime(operand.year, operand.month, operand.day, tzinfo=ctx.now.tzinfo)
    minutes = relative_minutes(str(operand))
    if minutes is not None:
        return ctx.now + timedelta(minutes=minutes)
    text = str(operand)
    parsed = datetime.fromisoformat(text) if "T" in text else datetime.fromisoformat(text[:10])
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ctx.now.tzinfo)


def _date_text(operand: Any, ctx: SegmentContext, kind: AttributeType) -> str:
    when = _when(operand, ctx)
    if kind is AttributeType.DATE:
        return when.date().isoformat()
    # Datetime attributes are stored as UTC ISO text (crm_core.attributes), so text order is time order.
    return when.astimezone(ctx.now.tzinfo).isoformat()


def _field(name: str, ops: tuple[tuple[str, Any], ...], ctx: SegmentContext) -> ColumnElement[bool]:
    if name == "locale":
        code = str(ops[0][1]).lower()
        locale = func.lower(_CUSTOMERS.locale)
        return or_(locale == code, locale.like(f"{_escape_like(code)}-%", escape="\\"))
    # created
    return and_(true(), *(_compare(_CUSTOMERS.created_at, op, _when(operand, ctx)) for op, operand in ops))


def _attribute_kind(key: str, ops: tuple[tuple[str, Any], ...], ctx: SegmentContext) -> AttributeType:
    declared = ctx.types.get(key)
    if declared is not None:
        return declared
    # Undeclared attributes keep their JSON type: read them as the operands suggest.
    operands = [o for _, o in ops for o in (o if isinstance(o, list) else [o])]
    if any(op == "birthday" for op, _ in ops):
        return AttributeType.DATE
    if operands and all(isinstance(o, bool) for o in operands):
        return AttributeType.BOOLEAN
    if operands and all(isinstance(o, int | float) and not isinstance(o, bool) for o in operands):
        return AttributeType.NUMBER
    return AttributeType.TEXT


def _attribute(key: str, ops: tuple[tuple[str, Any], ...], ctx: SegmentContext) -> ColumnElement[bool]:
    kind = _attribute_kind(key, ops, ctx)
    column = _CUSTOMERS.attributes
    parts: list[ColumnElement[bool]] = []
    for op, operand in ops:
        if op == "exists":
            present = JsonText(column, key).is_not(None) | JsonFlag(column, key).is_not(None)
            parts.append(present if operand else not_(present))
        elif op == "contains":
            text = func.lower(JsonText(column, key))
            parts.append(text.like(f"%{_escape_like(str(operand).lower())}%", escape="\\"))
        elif op == "birthday":
            parts.append(func.substr(JsonText(column, key), 6, 5).in_(_birthdays(operand, ctx)))
        elif kind is AttributeType.NUMBER:
            parts.append(_compare(JsonNumber(column, key), op, _numbers(operand)))
        elif kind is AttributeType.BOOLEAN:
            parts.append(_compare(JsonFlag(column, key), op, _flags(operand)))
        elif kind in (AttributeType.DATE, AttributeType.DATETIME):
            values = (
                [_date_text(o, ctx, kind) for o in operand]
                if isinstance(operand, list)
                else _date_text(operand, ctx, kind)
            )
            parts.append(_compare(JsonText(column, key), op, values))
        else:
            values = [str(o) for o in operand] if isinstance(operand, list) else str(operand)
            parts.append(_compare(JsonText(column, key), op, values))
    return and_(true(), *parts)


def _numbers(operand: Any) -> Any:
    return [float(o) for o in operand] if isinstance(operand, list) else float(operand)


def _flags(operand: Any) -> Any:
    def flag(value: Any) -> str:
        return "true" if value in (True, "true", "yes", 1) else "false"

    return [flag(o) for o in operand] if isinstance(operand, list) else flag(operand)


def _birthdays(operand: str, ctx: SegmentContext) -> list[str]:
    """The MM-DD days a birthday condition covers. Someone born on 29 February celebrates on the
    28th in years without one."""
    today = ctx.today or ctx.now.date()
    if operand == "today":
        days = [today]
    elif operand.strip().startswith("next"):
        count = int(operand.split()[1])
        days = [today + timedelta(days=i) for i in range(count)]
    else:
        return [operand]
    out = [d.strftime("%m-%d") for d in days]
    for d in days:
        leap = d.year % 4 == 0 and (d.year % 100 != 0 or d.year % 400 == 0)
        if d.month == 2 and d.day == 28 and not leap:
            out.append("02-29")
    return out


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- events -------------------------------------------------------------------------------------------


def _event_rows(kind: str, within: str | None, ctx: SegmentContext) -> list[ColumnElement[bool]]:
    """Which events count (of any customer: callers correlate or group by customer)."""
    rows = [_EVENTS.kind == kind]
    minutes = parse_span(within) if within else None
    if minutes is not None:
        rows.append(_EVENTS.occurred_at >= ctx.now - timedelta(minutes=minutes))
    return rows


def _payload_equals(name: str, value: Any) -> ColumnElement[bool]:
    payload = _EVENTS.payload
    if isinstance(value, bool):
        return JsonFlag(payload, name) == ("true" if value else "false")
    if isinstance(value, int | float):
        return JsonNumber(payload, name) == float(value)
    return JsonText(payload, name) == str(value)


def _holds_for_zero(rng: Range) -> bool:
    """Whether a figure of 0 (a customer without such events) satisfies the range."""
    checks = {
        "eq": lambda v: v == 0,
        "ne": lambda v: v != 0,
        "gt": lambda v: v < 0,
        "gte": lambda v: v <= 0,
        "lt": lambda v: v > 0,
        "lte": lambda v: v >= 0,
    }
    return all(checks[op](operand) for op, operand in rng.ops)


def _grouped(
    rows: list[ColumnElement[bool]], having: ColumnElement[bool], *, zero_matches: bool
) -> ColumnElement[bool]:
    """Customers whose events, aggregated, satisfy ``having``.

    One uncorrelated GROUP BY over the matching events, joined by id, instead of one correlated
    aggregate per customer: over a million customers the database aggregates the events once
    (several times faster on both backends; see bench/segments.py). When customers without any
    such event match too (a sum below 50 includes those who never ordered), the complement is
    excluded instead."""
    grouped = select(_EVENTS.customer_id).where(*rows).group_by(_EVENTS.customer_id)
    if zero_matches:
        return _CUSTOMERS.id.not_in(grouped.having(not_(having)))
    return _CUSTOMERS.id.in_(grouped.having(having))


def _event(condition: EventCondition, ctx: SegmentContext) -> ColumnElement[bool]:
    if condition.kind == ctx.orders.event and not condition.where and ctx.summarised(None):
        summarised = _order_event(condition, ctx)
        if summarised is not None:
            return summarised
    rows = _event_rows(condition.kind, condition.within, ctx)
    rows += [_payload_equals(name, value) for name, value in condition.where]
    if condition.count is None and not condition.sums:
        happened = exists().where(_EVENTS.customer_id == _CUSTOMERS.id, *rows)
        return happened if condition.present else not_(happened)
    ranges: list[tuple[ColumnElement[Any], Range]] = []
    if condition.count is not None:
        ranges.append((func.count(), condition.count))
    for name, rng in condition.sums:
        ranges.append((func.coalesce(func.sum(JsonNumber(_EVENTS.payload, name)), 0.0), rng))
    having = and_(true(), *(_range(value, rng) for value, rng in ranges))
    zero = all(_holds_for_zero(rng) for _, rng in ranges)
    return _grouped(rows, having, zero_matches=zero)


def _order_event(condition: EventCondition, ctx: SegmentContext) -> ColumnElement[bool] | None:
    """An order-event condition read from the order summaries, or None when it needs the events
    (a count or sum within a span, a sum of another payload field)."""
    if condition.count is None and not condition.sums:
        # Ordered within a span <=> the latest order is inside it.
        minutes = parse_span(condition.within) if condition.within else None
        recent = true() if minutes is None else _SUMMARY.last_order_at >= ctx.now - timedelta(minutes=minutes)
        ordered = exists().where(_SUMMARY.customer_id == _CUSTOMERS.id, recent)
        return ordered if condition.present else not_(ordered)
    if condition.within is not None or any(name != ctx.orders.amount for name, _ in condition.sums):
        return None
    ranges: list[tuple[ColumnElement[Any], Range]] = []
    if condition.count is not None:
        ranges.append((_SUMMARY.order_count, condition.count))
    ranges += [(_SUMMARY.order_total, rng) for _, rng in condition.sums]
    having = and_(true(), *(_range(value, rng) for value, rng in ranges))
    return _summary_members(having, zero_matches=all(_holds_for_zero(rng) for _, rng in ranges))


def _summary_members(having: ColumnElement[bool], *, zero_matches: bool) -> ColumnElement[bool]:
    """Customers whose order summary satisfies ``having`` (like _grouped: with ``zero_matches``,
    customers without orders match too, so the buyers that fail it are excluded instead).
    EXISTS rather than IN: PostgreSQL turns NOT EXISTS into a hash anti-join, while NOT IN over
    hundreds of thousands of buyers (more than work_mem holds) is re-scanned per customer."""
    if zero_matches:
        return not_(exists().where(_SUMMARY.customer_id == _CUSTOMERS.id, not_(having)))
    return exists().where(_SUMMARY.customer_id == _CUSTOMERS.id, having)


def _summary_having(condition: OrderFigure, ctx: SegmentContext) -> tuple[ColumnElement[bool], bool]:
    """_order_having over the order summary's columns."""
    rng = condition.range
    if condition.figure == "ltv":
        return _range(_SUMMARY.order_total, rng), _holds_for_zero(rng)
    if condition.figure == "orders":
        return _range(_SUMMARY.order_count, rng), _holds_for_zero(rng)
    if condition.figure == "aov":
        return _range(_SUMMARY.order_total / _SUMMARY.order_count, rng), False
    return _recency(_SUMMARY.last_order_at, rng, ctx), False


def _recency(latest: ColumnElement[Any], rng: Range, ctx: SegmentContext) -> ColumnElement[bool]:
    """days_since_last_order: compare the latest order time instead of computing days in SQL (the
    date arithmetic differs per backend); N days since <=> the latest order was N days before now."""
    parts = []
    for op, days in rng.ops:
        edge = ctx.now - timedelta(days=float(days))
        flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}.get(op)
        if op == "eq":
            parts.append(and_(latest <= edge, latest > edge - timedelta(days=1)))
        elif op == "ne":
            parts.append(or_(latest > edge, latest <= edge - timedelta(days=1)))
        else:
            assert flipped is not None
            parts.append(_compare(latest, flipped, edge))
    return and_(true(), *parts)


def _order_having(condition: OrderFigure, ctx: SegmentContext) -> tuple[ColumnElement[bool], bool]:
    """The HAVING condition of an order figure over one customer's orders, and whether customers
    without orders match it."""
    amount = JsonNumber(_EVENTS.payload, ctx.orders.amount)
    rng = condition.range
    if condition.figure == "ltv":
        return _range(func.coalesce(func.sum(amount), 0.0), rng), _holds_for_zero(rng)
    if condition.figure == "orders":
        return _range(func.count(), rng), _holds_for_zero(rng)
    if condition.figure == "aov":
        # Customers without orders have no average, so they never match.
        return _range(func.avg(func.coalesce(amount, 0.0)), rng), False
    return _recency(func.max(_EVENTS.occurred_at), rng, ctx), False


def _order_figure(condition: OrderFigure, ctx: SegmentContext) -> ColumnElement[bool]:
    if ctx.summarised(condition.within):
        having, zero = _summary_having(condition, ctx)
        return _summary_members(having, zero_matches=zero)
    having, zero = _order_having(condition, ctx)
    return _grouped(_event_rows(ctx.orders.event, condition.within, ctx), having, zero_matches=zero)


def _all_of(conditions: tuple[Condition, ...], ctx: SegmentContext) -> ColumnElement[bool]:
    """AND of the conditions. Order figures over the same window that only buyers can match (the
    usual RFM pair "ltv >= 300 and last order 60+ days ago") share one grouped aggregate (or one
    look at the order summaries) instead of one per figure."""
    parts: list[ColumnElement[bool]] = []
    shared: dict[str | None, list[ColumnElement[bool]]] = {}
    summarised: list[ColumnElement[bool]] = []
    for condition in conditions:
        if isinstance(condition, OrderFigure):
            from_summary = ctx.summarised(condition.within)
            having, zero = _summary_having(condition, ctx) if from_summary else _order_having(condition, ctx)
            if not zero:
                (summarised if from_summary else shared.setdefault(condition.within, [])).append(having)
                continue
        parts.append(_compile(condition, ctx))
    if summarised:
        parts.append(_summary_members(and_(*summarised), zero_matches=False))
    for within, havings in shared.items():
        rows = _event_rows(ctx.orders.event, within, ctx)
        parts.append(_grouped(rows, and_(*havings), zero_matches=False))
    return and_(true(), *parts)
