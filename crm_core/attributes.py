"""Typed custom attributes: a value is checked and converted against its AttributeDefinition."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from crm_core.models import AttributeDefinition, AttributeType


class InvalidAttribute(ValueError):
    """An attribute value that does not fit its declared type; the message names key and problem."""


def coerce_attribute(key: str, value: Any, definition: AttributeDefinition | None) -> Any:
    """The JSON-storable form of ``value``. Undeclared attributes keep their JSON type; declared
    ones must fit theirs. ``None`` clears an attribute."""
    if value is None:
        return None
    if definition is None:
        if isinstance(value, str | int | float | bool):
            return value
        raise InvalidAttribute(
            f"attribute {key!r}: only text, numbers and true/false can be stored, got {value!r}"
        )
    kind = definition.type
    if kind is AttributeType.TEXT:
        if not isinstance(value, str):
            raise InvalidAttribute(f"attribute {key!r} is text, got {value!r}")
        return value
    if kind is AttributeType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidAttribute(f"attribute {key!r} is a number, got {value!r}")
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            raise InvalidAttribute(f"attribute {key!r} is a number, got {value!r}") from None
        return int(number) if float(number).is_integer() else number
    if kind is AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "yes", "1", "false", "no", "0"}:
            return value.lower() in {"true", "yes", "1"}
        raise InvalidAttribute(f"attribute {key!r} is true/false, got {value!r}")
    if kind is AttributeType.DATE:
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise InvalidAttribute(f"attribute {key!r} is a date (YYYY-MM-DD), got {value!r}") from None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidAttribute(f"attribute {key!r} is a date and time (ISO 8601), got {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidAttribute(f"attribute {key!r} needs a time zone offset, got {value!r}")
    # Stored in UTC, so the text order of stored values is their time order (segments compare them
    # in SQL as text).
    return parsed.astimezone(UTC).isoformat()
