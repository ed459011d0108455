"""Business time: open or not, N business minutes after a moment, business minutes between two
moments — across nights, weekends, holidays, split days and daylight-saving changes — and the API's
document with the field named in every problem."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.business_time import InvalidHours, OpeningHours, parse_hours, parse_span

KYIV = ZoneInfo("Europe/Kyiv")
NEW_YORK = ZoneInfo("America/New_York")
NINE_TO_SIX = (9 * 60, 18 * 60)
WEEKDAYS = {day: (NINE_TO_SIX,) for day in ("mon", "tue", "wed", "thu", "fri")}


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def office(timezone: str = "Europe/Kyiv", holidays: frozenset[date] = frozenset()) -> OpeningHours:
    return OpeningHours(timezone=timezone, weekly=WEEKDAYS, holidays=holidays)


class TestOpen:
    def test_inside_and_outside_the_day(self) -> None:
        hours = office()
        # 2026-03-02 is a Monday.
        assert hours.is_open(at(KYIV, 2026, 3, 2, 9, 0))
        assert hours.is_open(at(KYIV, 2026, 3, 2, 17, 59))
        assert not hours.is_open(at(KYIV, 2026, 3, 2, 18, 0))  # the end is exclusive
        assert not hours.is_open(at(KYIV, 2026, 3, 2, 8, 59))
        assert not hours.is_open(at(KYIV, 2026, 3, 7, 12, 0))  # Saturday

    def test_the_moment_is_read_in_the_business_time_zone(self) -> None:
        # 07:30 UTC is 09:30 in Kyiv in winter (UTC+2).
        assert office().is_open(datetime(2026, 3, 2, 7, 30, tzinfo=UTC))
        assert not office("America/New_York").is_open(datetime(2026, 3, 2, 7, 30, tzinfo=UTC))

    def test_holidays_are_closed_all_day(self) -> None:
        hours = office(holidays=frozenset({date(2026, 3, 2)}))
        assert not hours.is_open(at(KYIV, 2026, 3, 2, 12, 0))
        assert hours.is_open(at(KYIV, 2026, 3, 3, 12, 0))

    def test_no_hours_set_means_always_open(self) -> None:
        hours = OpeningHours(timezone="Europe/Kyiv", holidays=frozenset({date(2026, 3, 7)}))
        assert hours.always_open
        assert hours.is_open(at(KYIV, 2026, 3, 7, 3, 0))
        start = at(KYIV, 2026, 3, 7, 3, 0)
        assert hours.add_minutes(start, 90) == start + timedelta(minutes=90)
        assert hours.minutes_between(start, start + timedelta(hours=5)) == 300

    def test_naive_moments_are_refused(self) -> None:
        with pytest.raises(ValueError, match="naive datetime"):
            office().is_open(datetime(2026, 3, 2, 12, 0))


class TestAdd:
    def test_within_the_same_day(self) -> None:
        assert office().add_minutes(at(KYIV, 2026, 3, 2, 10, 0), 30) == at(KYIV, 2026, 3, 2, 10, 30)

    def test_carries_over_the_night(self) -> None:
        # 17:30 + 60 business minutes: 30 today, 30 tomorrow from 09:00.
        assert office().add_minutes(at(KYIV, 2026, 3, 2, 17, 30), 60) == at(KYIV, 2026, 3, 3, 9, 30)

    def test_carries_over_the_weekend(self) -> None:
        assert office().add_minutes(at(KYIV, 2026, 3, 6, 17, 0), 120) == at(KYIV, 2026, 3, 9, 10, 0)

    def test_starting_in_closed_time_starts_at_the_next_opening(self) -> None:
        assert office().add_minutes(at(KYIV, 2026, 3, 7, 23, 0), 15) == at(KYIV, 2026, 3, 9, 9, 15)
        assert office().add_minutes(at(KYIV, 2026, 3, 2, 6, 0), 60) == at(KYIV, 2026, 3, 2, 10, 0)

    def test_ending_exactly_at_closing_time_is_that_day(self) -> None:
        assert office().add_minutes(at(KYIV, 2026, 3, 2, 9, 0), 9 * 60) == at(KYIV, 2026, 3, 2, 18, 0)

    def test_skips_holidays(self) -> None:
        hours = office(holidays=frozenset({date(2026, 3, 3), date(2026, 3, 4)}))
        assert hours.add_minutes(at(KYIV, 2026, 3, 2, 17, 0), 120) == at(KYIV, 2026, 3, 5, 10, 0)

    def test_several_days_of_business_time(self) -> None:
        # Three full business days from Monday 09:00 end Wednesday 18:00.
        assert office().add_minutes(at(KYIV, 2026, 3, 2, 9, 0), 27 * 60) == at(KYIV, 2026, 3, 4, 18, 0)

    def test_split_days_and_overlapping_spans(self) -> None:
        hours = OpeningHours(
            timezone="Europe/Kyiv",
            weekly={
                "mon": ((9 * 60, 13 * 60), (14 * 60, 18 * 60)),
                "tue": ((9 * 60, 13 * 60), (12 * 60, 15 * 60)),
            },
        )
        # The lunch hour does not count.
        assert hours.add_minutes(at(KYIV, 2026, 3, 2, 12, 30), 60) == at(KYIV, 2026, 3, 2, 14, 30)
        # Overlapping spans are one: Tuesday is 09:00-15:00.
        assert hours.weekly["tue"] == ((9 * 60, 15 * 60),)
        assert hours.add_minutes(at(KYIV, 2026, 3, 3, 14, 0), 90) == at(KYIV, 2026, 3, 9, 9, 30)

    def test_a_day_open_until_midnight(self) -> None:
        hours = OpeningHours(
            timezone="Europe/Kyiv", weekly={"mon": ((20 * 60, 24 * 60),), "tue": ((0, 2 * 60),)}
        )
        assert hours.is_open(at(KYIV, 2026, 3, 2, 23, 59))
        assert hours.is_open(at(KYIV, 2026, 3, 3, 1, 0))
        assert hours.add_minutes(at(KYIV, 2026, 3, 2, 23, 0), 120) == at(KYIV, 2026, 3, 3, 1, 0)

    def test_zero_minutes_is_the_start(self) -> None:
        start = at(KYIV, 2026, 3, 7, 23, 0)
        assert office().add_minutes(start, 0) == start

    def test_a_business_day_across_spring_forward_is_still_nine_hours(self) -> None:
        # New York moves to UTC-4 on Sunday 2026-03-08. Friday 17:00 (UTC-5) + 2 business hours is
        # Monday 10:00 local, which is 14:00 UTC (not 15:00).
        hours = office("America/New_York")
        due = hours.add_minutes(at(NEW_YORK, 2026, 3, 6, 17, 0), 120)
        assert due == at(NEW_YORK, 2026, 3, 9, 10, 0)
        assert due.astimezone(UTC) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)

    def test_a_round_the_clock_day_on_a_dst_change_counts_real_time(self) -> None:
        # Kyiv skips 03:00-04:00 on Sunday 2026-03-29: that day has 23 hours.
        always = {day: ((0, 24 * 60),) for day in ("sat", "sun", "mon")}
        hours = OpeningHours(timezone="Europe/Kyiv", weekly=always)
        start = at(KYIV, 2026, 3, 29, 0, 0)
        assert hours.add_minutes(start, 24 * 60) == at(KYIV, 2026, 3, 30, 1, 0)
        assert hours.minutes_between(start, at(KYIV, 2026, 3, 30, 0, 0)) == 23 * 60
        # ... and the autumn change on 2026-10-25 gives a 25-hour day.
        autumn = OpeningHours(timezone="Europe/Kyiv", weekly={"sun": ((0, 24 * 60),)})
        assert autumn.minutes_between(at(KYIV, 2026, 10, 25, 0, 0), at(KYIV, 2026, 10, 26, 0, 0)) == 25 * 60

    def test_no_open_time_for_years_is_an_error(self) -> None:
        hours = OpeningHours(
            timezone="UTC",
            weekly={"mon": ((0, 60),)},
            holidays=frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(200)),
        )
        with pytest.raises(ValueError, match="no open time"):
            hours.add_minutes(datetime(2026, 1, 1, tzinfo=UTC), 120)


class TestBetween:
    def test_counts_only_open_time(self) -> None:
        hours = office()
        # Friday 17:00 to Monday 10:00: one hour Friday, one hour Monday.
        assert hours.minutes_between(at(KYIV, 2026, 3, 6, 17, 0), at(KYIV, 2026, 3, 9, 10, 0)) == 120
        assert hours.minutes_between(at(KYIV, 2026, 3, 7, 10, 0), at(KYIV, 2026, 3, 8, 10, 0)) == 0

    def test_is_the_inverse_of_add(self) -> None:
        hours = office(holidays=frozenset({date(2026, 3, 10)}))
        start = at(KYIV, 2026, 3, 6, 16, 20)
        for minutes in (1, 45, 100, 541, 2000, 5000):
            assert hours.minutes_between(start, hours.add_minutes(start, minutes)) == pytest.approx(minutes)

    def test_backwards_is_negative(self) -> None:
        hours = office()
        assert hours.minutes_between(at(KYIV, 2026, 3, 2, 11, 0), at(KYIV, 2026, 3, 2, 10, 0)) == -60

    def test_holidays_do_not_count(self) -> None:
        hours = office(holidays=frozenset({date(2026, 3, 3)}))
        assert hours.minutes_between(at(KYIV, 2026, 3, 2, 9, 0), at(KYIV, 2026, 3, 5, 9, 0)) == 18 * 60


class TestDocument:
    def test_round_trip(self) -> None:
        document = {
            "timezone": "Europe/Kyiv",
            "weekly": {"mon": ["09:00-13:00", "14:00-18:00"], "sat": ["10:00-24:00"]},
            "holidays": ["2026-12-25", "2026-01-01"],
        }
        hours = parse_hours(document)
        assert hours.weekly["mon"] == ((540, 780), (840, 1080))
        assert hours.weekly["sun"] == ()
        assert hours.holidays == frozenset({date(2026, 12, 25), date(2026, 1, 1)})
        assert hours.to_document() == {
            "timezone": "Europe/Kyiv",
            "weekly": {"mon": ["09:00-13:00", "14:00-18:00"], "sat": ["10:00-24:00"]},
            "holidays": ["2026-01-01", "2026-12-25"],
        }

    def test_every_problem_names_its_field(self) -> None:
        with pytest.raises(InvalidHours) as caught:
            parse_hours(
                {
                    "timezone": "Mars/Olympus",
                    "weekly": {"mon": ["18:00-09:00"], "funday": ["09:00-10:00"], "tue": "09:00-18:00"},
                    "holidays": ["2026-02-30", 5],
                    "colour": "blue",
                }
            )
        assert caught.value.problems == [
            "colour: unknown field",
            "timezone: unknown time zone 'Mars/Olympus'",
            "weekly.mon[0]: '18:00-09:00' is not a span HH:MM-HH:MM that ends after it starts",
            "weekly.funday: unknown day; use mon, tue, wed, thu, fri, sat, sun",
            'weekly.tue: expected a list of spans such as ["09:00-18:00"]',
            "holidays[0]: '2026-02-30' is not a date YYYY-MM-DD",
            "holidays[1]: 5 is not a date YYYY-MM-DD",
        ]

    def test_a_missing_time_zone_is_named(self) -> None:
        with pytest.raises(InvalidHours, match="timezone: required"):
            parse_hours({"weekly": {}})

    @pytest.mark.parametrize(
        ("text", "span"),
        [
            ("09:00-18:00", (540, 1080)),
            ("00:00-24:00", (0, 1440)),
            ("9:00-18:00", None),
            ("10:00-10:00", None),
            ("23:00-24:30", None),
            ("25:00-26:00", None),
        ],
    )
    def test_spans(self, text: str, span: tuple[int, int] | None) -> None:
        assert parse_span(text) == span
