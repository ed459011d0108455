"""Local clock time of UTC timestamps in SQL, the same on SQLite and PostgreSQL.

Reports bucket activity by the local day and hour of the business-hours time zone. PostgreSQL knows
time zones (``timezone(zone, t)``). SQLite does not, so the UTC offsets in force during the report's
range are worked out here (zoneinfo) and the query adds the right one with a CASE over the moments
the offset changes (daylight saving time): usually one offset, at most a few for a year.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from inbox.reports.scope import ReportScope


def _offset(moment: datetime, zone: ZoneInfo) -> int:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def offset_spans(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """The UTC offsets (seconds) in force from ``start`` to ``end``: (from when, offset), the first
    from ``start``. Each day is checked; a day whose end has another offset is bisected to the second
    the change happens."""
    spans = [(start, _offset(start, zone))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if _offset(following, zone) != spans[-1][1]:
            low, high = day, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(middle, zone) == spans[-1][1]:
                    low = middle
                else:
                    high = middle
            changed = high.replace(microsecond=0)
            if _offset(changed, zone) == spans[-1][1]:
                changed += timedelta(seconds=1)
            spans.append((changed, _offset(changed, zone)))
        day = following
    return spans


def _sqlite_modifier(column: ColumnElement[Any], scope: ReportScope) -> ColumnElement[str]:
    """``'+10800 seconds'``: the SQLite date modifier that turns the UTC value into local time."""
    spans = offset_spans(scope.start, scope.end, scope.zone)
    modifiers = [f"{offset:+d} seconds" for _, offset in spans]
    if len(spans) == 1:
        return literal(modifiers[0])
    # Before the second span's start the first offset holds, and so on; the last needs no bound.
    whens = [(column < spans[i + 1][0], literal(modifiers[i])) for i in range(len(spans) - 1)]
    return case(*whens, else_=literal(modifiers[-1]))


def local_hour(column: ColumnElement[Any], scope: ReportScope, dialect: str) -> ColumnElement[str]:
    """The local hour of ``column`` as text, ``'2026-09-30 14'`` (date and 24-hour hour)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(scope.timezone, column), "YYYY-MM-DD HH24")
    return func.substr(func.datetime(column, _sqlite_modifier(column, scope)), 1, 13)


def local_day(column: ColumnElement[Any], scope: ReportScope, dialect: str) -> ColumnElement[str]:
    """The local date of ``column`` as text, ``'2026-09-30'``."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(scope.timezone, column), "YYYY-MM-DD")
    return func.date(column, _sqlite_modifier(column, scope))
