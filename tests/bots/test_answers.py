"""Checking and converting answers to ask steps."""

from __future__ import annotations

import re

import pytest

from bots.flows.answers import (
    AnswerType,
    InvalidAnswer,
    parse_date,
    parse_number,
    parse_phone,
    parse_scalar,
    parse_yes_no,
)


class TestAnswers:
    @pytest.mark.parametrize(("text", "value"), [("4", 4), (" 4,5 ", 4.5), ("-3", -3), ("1 000", 1000)])
    def test_numbers(self, text: str, value: float) -> None:
        assert parse_number(text) == value

    @pytest.mark.parametrize("text", ["four", "", "nan", "inf", "6"])
    def test_not_numbers_or_out_of_range(self, text: str) -> None:
        with pytest.raises(InvalidAnswer):
            parse_number(text, 1, 5)

    def test_email_is_normalised(self) -> None:
        assert parse_scalar(AnswerType.EMAIL, " Ana@Example.COM ") == "ana@example.com"
        with pytest.raises(InvalidAnswer):
            parse_scalar(AnswerType.EMAIL, "ana at example")

    def test_phone_is_e164_and_must_be_valid(self) -> None:
        assert parse_phone("+380 50 123 4567", None) == "+380501234567"
        assert parse_phone("050 123 45 67", "UA") == "+380501234567"
        assert parse_phone("(202) 555-0143", "US") == "+12025550143"
        for bad in ("12345", "+999 123", "call me"):
            with pytest.raises(InvalidAnswer):
                parse_phone(bad, "UA")

    @pytest.mark.parametrize(
        ("text", "iso"),
        [
            ("2024-03-31", "2024-03-31"),
            ("31/03/2024", "2024-03-31"),
            ("1.4.2024", "2024-04-01"),
            ("2024/3/9", "2024-03-09"),
        ],
    )
    def test_dates(self, text: str, iso: str) -> None:
        assert parse_date(text) == iso

    @pytest.mark.parametrize("text", ["31/02/2024", "tomorrow", "2024-13-01", "03/31"])
    def test_not_dates(self, text: str) -> None:
        with pytest.raises(InvalidAnswer):
            parse_date(text)

    @pytest.mark.parametrize(
        ("text", "payload", "value"),
        [
            ("Sí", None, True),
            ("yes please", None, True),
            ("No, gracias", None, False),
            ("👍", None, True),
            ("whatever", "no", False),
            ("claro", None, True),
        ],
    )
    def test_yes_no(self, text: str, payload: str | None, value: bool) -> None:
        assert parse_yes_no(text, payload) is value

    def test_neither_yes_nor_no(self) -> None:
        with pytest.raises(InvalidAnswer):
            parse_yes_no("maybe")

    def test_regex_must_match_the_whole_answer(self) -> None:
        pattern = re.compile(r"[A-Z]{3}-\d{3}")
        assert parse_scalar(AnswerType.REGEX, " ABC-123 ", pattern=pattern) == "ABC-123"
        with pytest.raises(InvalidAnswer):
            parse_scalar(AnswerType.REGEX, "ABC-1234", pattern=pattern)

    def test_text_must_not_be_empty(self) -> None:
        assert parse_scalar(AnswerType.TEXT, "  hi ") == "hi"
        with pytest.raises(InvalidAnswer):
            parse_scalar(AnswerType.TEXT, "   ")
