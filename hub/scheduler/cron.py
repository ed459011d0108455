"""Crontab expressions ("minute hour day month day-of-week") as APScheduler cron triggers.

Two things APScheduler's ``CronTrigger.from_crontab`` gets wrong for us: its error does not say
which field is bad, and in APScheduler 3 day-of-week numbers start at Monday (0 = Monday) while every
crontab means 0 (or 7) = Sunday, so ``0 9 * * 1-5`` would run Tuesday to Saturday. Numeric
day-of-week fields are therefore rewritten into day names with crontab's meaning before APScheduler
sees them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_TRIGGER_ARGS = ("minute", "hour", "day", "month", "day_of_week")
# Crontab numbering: 0 and 7 are Sunday.
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_TICK = timedelta(microseconds=1)


class InvalidSchedule(ValueError):
    """A schedule the hub cannot run (bad cron field, unknown time zone, naive time, …)."""


def zone(name: str | tzinfo) -> tzinfo:
    """An IANA time zone by name (or a tzinfo, returned as is)."""
    if isinstance(name, tzinfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r}: use an IANA name like 'Europe/Kyiv'") from None


def cron_trigger(expression: str, timezone: str | tzinfo) -> CronTrigger:
    """The trigger for a five-field crontab expression in ``timezone``; InvalidSchedule names the bad
    field. Day names (MON, mon-fri) and crontab day numbers (0/7 = Sunday) both work."""
    tz = zone(timezone)
    values = expression.split()
    if len(values) != len(FIELDS):
        raise InvalidSchedule(
            f"cron {expression!r}: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(values)}"
        )
    try:
        values[4] = _crontab_weekdays(values[4])
    except ValueError as exc:
        raise InvalidSchedule(f"cron {expression!r}: day of week field {values[4]!r}: {exc}") from None
    for label, arg, value, original in zip(FIELDS, _TRIGGER_ARGS, values, expression.split(), strict=True):
        try:
            CronTrigger(**{arg: value}, timezone=tz)
        except ValueError as exc:
            raise InvalidSchedule(f"cron {expression!r}: {label} field {original!r}: {exc}") from None
    return CronTrigger(**dict(zip(_TRIGGER_ARGS, values, strict=True)), timezone=tz)


def next_fire_times(
    expression: str, timezone: str | tzinfo, after: datetime, count: int = 1
) -> list[datetime]:
    """The next ``count`` times the expression fires strictly after ``after`` (timezone-aware), in
    ``timezone``. What the scheduler will do, computed without it (previews, tests)."""
    if after.tzinfo is None:
        raise InvalidSchedule(f"naive datetime {after!r}: give a timezone-aware time")
    trigger = cron_trigger(expression, timezone)
    times: list[datetime] = []
    # The trigger answers "the first fire at or after now"; one microsecond later makes it "after".
    fire: datetime | None = after
    while len(times) < count and fire is not None:
        fire = trigger.get_next_fire_time(None, fire + _TICK)
        if fire is not None:
            times.append(fire)
    return times


def _crontab_weekdays(field: str) -> str:
    """Rewrite a day-of-week field that uses numbers into day names, with crontab's numbering."""
    if not any(char.isdigit() for char in field):
        return field  # names and "*" mean the same to APScheduler as to crontab
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, "step") if step_text else 1
        if step < 1:
            raise ValueError(f"step {step_text!r} must be at least 1")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            first, last = _day(start_text), _day(end_text)
            if last == 0 and first > 0:
                last = 7  # "5-7" and "fri-sun" run to Sunday
            if first > last:
                raise ValueError(f"range {base!r} runs backwards")
        else:
            first = _day(base)
            last = 6 if step_text else first  # "1/2" = from Monday every other day, as in crontab
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def _day(text: str) -> int:
    if text in _DAY_NAMES:
        return _DAY_NAMES.index(text)
    day = _number(text, "day")
    if not 0 <= day <= 7:
        raise ValueError(f"day {text!r} is not 0-7 (0 and 7 are Sunday) or a name like mon")
    return day


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} {text!r} is not a number")
    return int(text)
