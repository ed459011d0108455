"""Business hours as conditions see them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bots.flows import weekly_hours
from bots.flows.validate import validate
from tests.bots.conftest import write_flow

KYIV_OFFICE = {"mon": [(9 * 60, 18 * 60)], "sat": [(10 * 60, 12 * 60), (13 * 60, 14 * 60)]}


class TestWeeklyHours:
    def test_spans_are_local_time_end_exclusive(self) -> None:
        is_open = weekly_hours("Europe/Kyiv", KYIV_OFFICE)
        # Monday 2026-01-05; Kyiv is UTC+2 in winter.
        assert not is_open(datetime(2026, 1, 5, 6, 59, tzinfo=UTC))
        assert is_open(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
        assert is_open(datetime(2026, 1, 5, 15, 59, tzinfo=UTC))
        assert not is_open(datetime(2026, 1, 5, 16, 0, tzinfo=UTC))
        assert not is_open(datetime(2026, 1, 6, 10, 0, tzinfo=UTC))  # Tuesday: closed
        assert is_open(datetime(2026, 1, 10, 11, 30, tzinfo=UTC))  # Saturday 13:30 local
        assert not is_open(datetime(2026, 1, 10, 10, 30, tzinfo=UTC))  # Saturday 12:30 local

    def test_no_hours_configured_means_always_open(self) -> None:
        assert weekly_hours("UTC", {})(datetime(2026, 1, 4, 3, 0, tzinfo=UTC))


class TestValuesThatJsonCannotHold:
    def test_unquoted_dates_are_refused(self, tmp_path: Path) -> None:
        write_flow(
            tmp_path,
            """
            id: dates
            version: 1
            start: pick
            steps:
              pick:
                ask: When?
                type: choice
                choices: [2026-01-05, "2026-01-06"]
                next: keep
              keep:
                set: {var.when: 2026-01-05}
            """,
        )
        assert [(p.line, p.message) for p in validate(tmp_path)] == [
            (8, "step 'pick': each choice needs a value: a text or a number (quote dates)"),
            (11, "step 'keep': the value of 'var.when': write dates in quotes (\"2026-01-05\")"),
        ]
