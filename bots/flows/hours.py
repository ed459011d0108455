"""Business hours as the ``business_hours`` name of conditions and templates sees them.

The hub passes its configured hours (hub.yaml ``business_hours``: a time zone and, per weekday,
spans of minutes since midnight). No hours configured means always open: a missing configuration
should not make the bot tell every customer that nobody is there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekly_hours(
    timezone: str, weekly: Mapping[str, Sequence[tuple[int, int]]]
) -> Callable[[datetime], bool]:
    """``is_open(moment)``: whether ``moment`` (timezone-aware) falls in one of the day's spans,
    ``(start_minute, end_minute)`` in local time, end exclusive."""
    zone = ZoneInfo(timezone)
    spans = {day: tuple(weekly.get(day, ())) for day in _DAYS}
    always = not any(spans.values())

    def is_open(moment: datetime) -> bool:
        if always:
            return True
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in spans[_DAYS[local.weekday()]])

    return is_open
