"""The branch condition language: parsed by hand, evaluated over names, never eval'd."""

from __future__ import annotations

from typing import Any

import pytest

from bots.flows.conditions import ConditionSyntaxError, Name, holds, names_in, parse_condition

NAMES: dict[str, Any] = {
    "var": {"rating": 5, "answer": "4", "order": {"total": 120.5, "items": ["a", "b"]}, "empty": ""},
    "attribute": {"city": "Lviv", "birthday": "1990-03-31"},
    "tags": ["vip", "newsletter"],
    "channel": "telegram",
    "locale": "es",
    "name": "Olena",
    "business_hours": False,
}


def resolve(root: str, keys: tuple[str, ...]) -> Any:
    value = NAMES[root]
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def check(text: str) -> bool:
    return holds(parse_condition(text), resolve)


class TestEvaluation:
    @pytest.mark.parametrize(
        "condition",
        [
            'attribute.city == "Lviv"',
            "attribute.city == 'Lviv'",
            'var.rating >= 4 and "vip" in tags',
            "var.answer >= 4",  # a numeric answer compares as a number
            "var.answer == 4",
            "var.order.total > 100",
            '"a" in var.order.items',
            "not business_hours",
            'channel in ["telegram", "viber"]',
            'channel != "sms"',
            "var.missing == null",
            "not var.empty",
            'attribute.birthday < "2000-01-01"',  # ISO dates compare as text
            'locale == "es" or name == "Nobody"',
            '(var.rating < 3 or "vip" in tags) and not business_hours',
            '"spam" not in tags',
            "var.rating",
            "-1 < var.rating",
            "var.order.total == 120.5",
        ],
    )
    def test_holds(self, condition: str) -> None:
        assert check(condition), condition

    @pytest.mark.parametrize(
        "condition",
        [
            'attribute.city == "lviv"',  # exact text
            "var.missing > 3",  # nothing is ordered against a missing value
            'var.rating > "abc"',
            '"vip" not in tags',
            "business_hours",
            "var.missing",
            "var.rating >= 4 and false",
            "var.order.total.deeper == 1",
            '"x" in var.rating',
        ],
    )
    def test_does_not_hold(self, condition: str) -> None:
        assert not check(condition), condition

    def test_names_in_lists_what_a_condition_reads(self) -> None:
        expression = parse_condition('var.rating >= 4 and ("vip" in tags or attribute.city == "Lviv")')
        assert [str(n) for n in names_in(expression)] == ["var.rating", "tags", "attribute.city"]
        assert all(isinstance(n, Name) for n in names_in(expression))


class TestSyntaxErrors:
    @pytest.mark.parametrize(
        ("condition", "message"),
        [
            ('attribute.city = "Lviv"', "'=' is not a comparison; write '==' to compare (at column 16)"),
            ("var.rating >=", "expected a value after '>=' (at column 14)"),
            (
                "city == 1",
                "unknown name 'city' (use var., attribute., tags, channel, locale, name, "
                'business_hours, segments); text must be in quotes: "city" (at column 1)',
            ),
            ('attribute.city == "Lviv', "a text in quotes is not closed (at column 19)"),
            ("(var.rating > 3", "expected ')' to close the '(' (at column 16)"),
            ("var.rating > 3 var.x", "unexpected 'var'; join conditions with 'and' / 'or' (at column 16)"),
            ("var == 1", "'var' needs a key, e.g. var.city (at column 1)"),
            ("tags.first == 1", "'tags' has no keys; write just tags (at column 1)"),
            ("", "the condition is empty (at column 1)"),
            ("var.x == 1 and", "the condition ends too early (at column 15)"),
            ("var.x @ 2", "unexpected character '@' (at column 7)"),
            ("and var.x", "expected a value, found the word 'and' (at column 1)"),
        ],
    )
    def test_reports_a_sentence_and_a_column(self, condition: str, message: str) -> None:
        with pytest.raises(ConditionSyntaxError) as error:
            parse_condition(condition)
        assert str(error.value) == message

    @pytest.mark.parametrize(
        "attack",
        [
            "__import__('os').system('true')",
            "().__class__",
            "open('x')",
            "lambda: 1",
        ],
    )
    def test_python_is_not_a_condition(self, attack: str) -> None:
        with pytest.raises(ConditionSyntaxError):
            parse_condition(attack)

    def test_underscored_keys_only_read_data(self) -> None:
        # Keys are looked up in plain dicts, never as Python attributes.
        expression = parse_condition("var.__class__ == null")
        assert holds(expression, resolve)
