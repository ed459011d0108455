"""Respecting people: quiet hours and send windows in the customer's own time, and a cap on how
many marketing messages one customer gets per day and per week across all campaigns.

Transactional messages (order updates) are exempt from both and marked as such on their send row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Window = tuple[int, int]  # minutes from midnight; start > end wraps midnight ("21:00-09:00")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_window(value: Any) -> Window | None:
    """``"09:00-20:00"`` -> (540, 1200); None when it is not a window."""
    match = _WINDOW.match(str(value).replace(" ", "")) if isinstance(value, str) else None
    if not match:
        return None
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    return (start, end) if start != end else None


@dataclass(frozen=True)
class FrequencyCap:
    per_day: int | None = None
    per_week: int | None = None


@dataclass(frozen=True)
class MarketingRules:
    """hub.yaml ``marketing:``: quiet hours (None: none) and the frequency cap."""

    quiet_hours: Window | None = (21 * 60, 9 * 60)
    frequency_cap: FrequencyCap = FrequencyCap(per_day=2, per_week=5)
    # The zone of customers whose record has none (else UTC).
    default_timezone: str = "UTC"


def in_window(minute: int, window: Window) -> bool:
    start, end = window
    return start <= minute < end if start < end else minute >= start or minute < end


def zone_of(timezone: str | None, default: str) -> ZoneInfo:
    for name in (timezone, default, "UTC"):
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def next_allowed(now: datetime, zone: ZoneInfo, *, quiet: Window | None, window: Window | None) -> datetime:
    """The earliest moment from ``now`` that is outside quiet hours and inside the send window, in
    the customer's zone (``now`` itself when it already is)."""

    def allowed(moment: datetime) -> bool:
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        if quiet is not None and in_window(minute, quiet):
            return False
        return window is None or in_window(minute, window)

    if allowed(now):
        return now
    # The answer is one of the boundaries where a window opens or quiet hours end, within two days.
    local_now = now.astimezone(zone)
    boundaries = [
        m for m in ((quiet[1] if quiet else None), (window[0] if window else None)) if m is not None
    ]
    candidates = []
    for day in range(3):
        midnight = (local_now + timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        for minute in boundaries:
            moment = (midnight + timedelta(minutes=minute)).astimezone(now.tzinfo)
            if moment > now and allowed(moment):
                candidates.append(moment)
    if not candidates:
        raise ValueError("quiet hours and the send window leave no time to send at all")
    return min(candidates)
