"""What a report covers: whole days in the business-hours time zone, and optional channel and team
filters.

A range is given as two calendar days, both included (``from=2026-09-01&to=2026-09-30`` is all of
September). The days are read in the hub's business-hours time zone, so a day starts at local
midnight; in the database (UTC) that is ``start <= t < end``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A year and a day: enough for year-on-year views, and a bound on what one request may scan.
MAX_DAYS = 366
DEFAULT_DAYS = 30


class InvalidScope(ValueError):
    """A date range or filter that cannot be reported on; the message names the problem."""


@dataclass(frozen=True)
class ReportScope:
    first_day: date
    last_day: date
    timezone: str
    # A channel type (webchat, sms, ...): conversations whose reply channel it is, messages sent on it.
    channel: str | None = None
    # Conversations of this team (their current team).
    team_id: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> datetime:
        """Local midnight of the first day, in UTC."""
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day, in UTC (excluded)."""
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidScope(
            f"{name}: {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-09-30"
        ) from None


def make_scope(
    first_day: date | None,
    last_day: date | None,
    timezone: str,
    *,
    today: date,
    channel: str | None = None,
    team_id: int | None = None,
) -> ReportScope:
    """The scope of a request: without ``last_day`` the range ends today, without ``first_day`` it is
    the DEFAULT_DAYS days up to ``last_day``. Raises InvalidScope for a range that ends before it
    starts or spans more than MAX_DAYS days, and for an unknown time zone."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidScope(f"unknown time zone {timezone!r}") from None
    last = last_day or today
    first = first_day or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidScope(f"the range ends ({last.isoformat()}) before it starts ({first.isoformat()})")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidScope(f"the range spans {days} days; reports cover at most {MAX_DAYS}")
    return ReportScope(first, last, timezone, channel=channel or None, team_id=team_id)
