"""Checking and converting a customer's answer to an ``ask`` step of a given type.

Each parser returns the value to store (JSON-friendly: text, number, true/false, ISO date) or raises
InvalidAnswer. Choices are matched in the ask step itself, since they need the step's options.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any

import phonenumbers

from bots.flows.matching import fold_accents, normalize
from crm_core.addresses import InvalidAddress, normalize_email, normalize_phone


class AnswerType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    CHOICE = "choice"
    YES_NO = "yes_no"
    REGEX = "regex"


class InvalidAnswer(ValueError):
    """The answer does not fit the question's type (the step then re-prompts)."""


YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "sure", "ok", "okay", "si", "s", "claro", "vale", "true"})
NO_WORDS = frozenset({"no", "n", "nope", "nah", "false"})
_THUMBS = {"👍": True, "👎": False}
_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})[./-](\d{1,2})[./-](\d{1,2})$")


def parse_text(text: str) -> str:
    value = text.strip()
    if not value:
        raise InvalidAnswer("an empty answer")
    return value


def parse_number(text: str, minimum: float | None = None, maximum: float | None = None) -> int | float:
    """``"4"`` -> 4, ``"4,5"`` -> 4.5; outside ``minimum``..``maximum`` is invalid."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        raise InvalidAnswer(f"{text!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidAnswer(f"{text!r} is not a number")
    if minimum is not None and number < minimum:
        raise InvalidAnswer(f"{number} is below {minimum}")
    if maximum is not None and number > maximum:
        raise InvalidAnswer(f"{number} is above {maximum}")
    return int(number) if number.is_integer() else number


def parse_email(text: str) -> str:
    try:
        return normalize_email(text)
    except InvalidAddress as exc:
        raise InvalidAnswer(str(exc)) from None


def parse_phone(text: str, default_region: str | None) -> str:
    """E.164; a number typed without ``+`` is read in ``default_region``. It must be a number that
    can really be dialled, not just one of a plausible length."""
    try:
        e164 = normalize_phone(text, default_region)
    except InvalidAddress as exc:
        raise InvalidAnswer(str(exc)) from None
    if not phonenumbers.is_valid_number(phonenumbers.parse(e164)):
        raise InvalidAnswer(f"{text!r} is not a valid phone number")
    return e164


def parse_date(text: str) -> str:
    """An ISO date (``2024-03-31``). Accepts ``2024-03-31``, ``2024/03/31`` and, day first,
    ``31/03/2024``, ``31.03.2024``, ``31-03-2024``."""
    cleaned = text.strip()
    if match := _YEAR_FIRST.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DAY_FIRST.match(cleaned):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise InvalidAnswer(f"{text!r} is not a date")
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        raise InvalidAnswer(f"{text!r} is not a real date") from None


def parse_yes_no(text: str, payload: str | None = None) -> bool:
    if payload in ("yes", "no"):
        return payload == "yes"
    stripped = text.strip()
    if stripped in _THUMBS:
        return _THUMBS[stripped]
    words = fold_accents(normalize(stripped)).split()
    for candidate in (" ".join(words), words[0] if words else ""):
        if candidate in YES_WORDS:
            return True
        if candidate in NO_WORDS:
            return False
    raise InvalidAnswer(f"{text!r} is neither yes nor no")


def parse_regex(text: str, pattern: re.Pattern[str]) -> str:
    value = text.strip()
    if not pattern.fullmatch(value):
        raise InvalidAnswer(f"{text!r} does not match {pattern.pattern!r}")
    return value


def parse_scalar(
    kind: AnswerType,
    text: str,
    payload: str | None = None,
    *,
    pattern: re.Pattern[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    default_region: str | None = None,
) -> Any:
    """The stored value of an answer of any type but ``choice``."""
    if kind is AnswerType.TEXT:
        return parse_text(text)
    if kind is AnswerType.NUMBER:
        return parse_number(text, minimum, maximum)
    if kind is AnswerType.EMAIL:
        return parse_email(text)
    if kind is AnswerType.PHONE:
        return parse_phone(text, default_region)
    if kind is AnswerType.DATE:
        return parse_date(text)
    if kind is AnswerType.YES_NO:
        return parse_yes_no(text, payload)
    if kind is AnswerType.REGEX:
        assert pattern is not None
        return parse_regex(text, pattern)
    raise ValueError(f"{kind} answers are matched against the step's choices")
