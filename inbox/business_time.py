"""Business time: the hours a business is open, and clocks that only run while it is.

``OpeningHours`` is a time zone, spans of local time per weekday (minutes since midnight, end
exclusive, ``24:00`` allowed as an end) and holidays (local dates closed all day). It answers three
questions, all in real (UTC) instants, across days, holidays and daylight-saving changes:

- ``is_open(moment)``: what the flows' ``business_hours`` condition asks;
- ``add(start, duration)``: the moment ``duration`` of open time after ``start`` (an SLA due time);
- ``between(start, end)``: how much open time lies between two moments.

Spans are turned into real instants day by day through the zone, so a 09:00-18:00 day lasts nine
hours on every date, while a 00:00-24:00 day on a daylight-saving change lasts 23 or 25 hours — the
clock counts time that really passed. A local time skipped by a change (02:30 on a spring-forward
night) is read as the zone reads it (Python's ``fold=0``: the offset before the change).

No spans at all means the business set no hours: it is always open (a missing setup should not make
SLA clocks stop or the bot say nobody is there); holidays need hours to close.

``parse_hours`` reads the API's shape (``{"timezone", "weekly": {"mon": ["09:00-18:00"]},
"holidays": ["2026-12-25"]}``) and names the field of every problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
# A search for open time gives up after this many days without any (only reachable when every
# open day is a holiday for years): an SLA due time that far away means nothing.
_HORIZON_DAYS = 3 * 366
MAX_HOLIDAYS = 1000

Span = tuple[int, int]


class InvalidHours(ValueError):
    """Opening hours that cannot be used; ``problems`` name each field (``weekly.mon[0]: ...``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _merged(spans: Sequence[Span]) -> tuple[Span, ...]:
    """Spans sorted, with overlapping or touching ones joined (09-13 and 12-18 is 09-18)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


@dataclass(frozen=True)
class OpeningHours:
    timezone: str = "UTC"
    # weekday name (mon..sun) -> spans (start minute, end minute) of local time
    weekly: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekly", {day: _merged(self.weekly.get(day, ())) for day in DAYS})
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @property
    def zone(self) -> ZoneInfo:
        zone: ZoneInfo = self._zone  # type: ignore[attr-defined]
        return zone

    @property
    def always_open(self) -> bool:
        """No hours were set (see the module docstring)."""
        return not any(self.weekly.values())

    # -- the three questions -----------------------------------------------------------------------

    def is_open(self, moment: datetime) -> bool:
        if self.always_open:
            return True
        local = _aware(moment).astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.weekly[DAYS[local.weekday()]])

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when ``duration`` of open time has passed since ``start`` (``start`` itself
        for a zero or negative duration). Starting in closed time, the clock starts at the next
        opening; it stops at every closing and holiday."""
        start = _aware(start).astimezone(UTC)
        if duration <= timedelta(0):
            return start
        if self.always_open:
            return start + duration
        remaining = duration
        for opens, closes in self._open_intervals(start):
            begin = max(opens, start)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError(f"no open time within {_HORIZON_DAYS} days of {start:%Y-%m-%d}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time from ``start`` to ``end`` (negative when ``end`` comes first)."""
        start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        if end < start:
            return -self.between(end, start)
        if self.always_open:
            return end - start
        total = timedelta(0)
        for opens, closes in self._open_intervals(start):
            if opens >= end:
                break
            total += min(closes, end) - max(opens, start)
        return total

    # Minutes, as SLA policies and the API count them.

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        return self.add(start, timedelta(minutes=minutes))

    def minutes_between(self, start: datetime, end: datetime) -> float:
        return self.between(start, end).total_seconds() / 60

    # -- how -----------------------------------------------------------------------------------------

    def _open_intervals(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in real time, in order, from the local day of ``since`` on (the ones that
        closed before ``since`` are skipped)."""
        day = since.astimezone(self.zone).date()
        for _ in range(_HORIZON_DAYS):
            if day not in self.holidays:
                for start, end in self.weekly[DAYS[day.weekday()]]:
                    opens, closes = self._instant(day, start), self._instant(day, end)
                    if closes > since and closes > opens:
                        yield opens, closes
            day += timedelta(days=1)

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= 24 * 60:
            day, minute = day + timedelta(days=1), minute - 24 * 60
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    # -- the API's shape -------------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        """``{"timezone", "weekly": {"mon": ["09:00-18:00"]}, "holidays": ["2026-12-25"]}``; closed
        days are left out."""
        return {
            "timezone": self.timezone,
            "weekly": {day: [_span_text(s) for s in spans] for day, spans in self.weekly.items() if spans},
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
        }


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: business time needs timezone-aware moments")
    return moment


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _span_text(span: Span) -> str:
    return f"{_clock(span[0])}-{_clock(span[1])}"


def parse_span(text: str) -> Span | None:
    """``"09:00-18:00"`` as minutes (540, 1080); None when it is not such a span or ends before it
    starts."""
    match = _SPAN.match(text.strip())
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end > 24 * 60 or end <= start:
        return None
    return start, end


def parse_hours(data: Any) -> OpeningHours:
    """Opening hours from the API's document; InvalidHours lists every problem with its field."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise InvalidHours(["body: expected an object with timezone, weekly and holidays"])
    problems.extend(f"{key}: unknown field" for key in data if key not in {"timezone", "weekly", "holidays"})
    timezone = data.get("timezone")
    if not isinstance(timezone, str) or not timezone:
        problems.append("timezone: required, a time zone name such as Europe/Kyiv")
        timezone = "UTC"
    else:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: unknown time zone {timezone!r}")
            timezone = "UTC"
    weekly: dict[str, tuple[Span, ...]] = {}
    raw_weekly = data.get("weekly", {})
    if not isinstance(raw_weekly, Mapping):
        problems.append('weekly: expected an object such as {"mon": ["09:00-18:00"]}')
        raw_weekly = {}
    for day, spans in raw_weekly.items():
        if day not in DAYS:
            problems.append(f"weekly.{day}: unknown day; use {', '.join(DAYS)}")
            continue
        if not isinstance(spans, list):
            problems.append(f'weekly.{day}: expected a list of spans such as ["09:00-18:00"]')
            continue
        parsed: list[Span] = []
        for index, span in enumerate(spans):
            found = parse_span(span) if isinstance(span, str) else None
            if found is None:
                problems.append(
                    f"weekly.{day}[{index}]: {span!r} is not a span HH:MM-HH:MM that ends after it starts"
                )
                continue
            parsed.append(found)
        weekly[day] = tuple(parsed)
    holidays: set[date] = set()
    raw_holidays = data.get("holidays", [])
    if not isinstance(raw_holidays, list):
        problems.append('holidays: expected a list of dates such as ["2026-12-25"]')
        raw_holidays = []
    if len(raw_holidays) > MAX_HOLIDAYS:
        problems.append(f"holidays: {len(raw_holidays)} dates; at most {MAX_HOLIDAYS}")
        raw_holidays = []
    for index, value in enumerate(raw_holidays):
        try:
            holidays.add(date.fromisoformat(value))
        except (TypeError, ValueError):
            problems.append(f"holidays[{index}]: {value!r} is not a date YYYY-MM-DD")
    if problems:
        raise InvalidHours(problems)
    return OpeningHours(timezone=timezone, weekly=weekly, holidays=frozenset(holidays))
