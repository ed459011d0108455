"""Durations as flow authors write them: ``30s``, ``10m``, ``24h``, ``2d`` (or combined, ``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhd])")
_WHOLE = re.compile(r"^\s*(\d+\s*[smhd]\s*)+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidDuration(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """``"10m"`` -> 10 minutes. Raises InvalidDuration with a sentence a flow author understands."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise InvalidDuration(
            f"{text!r} is not a duration; write a number and a unit: 30s, 10m, 24h, 2d (or 1h30m)"
        )
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _PART.findall(text))
    if seconds == 0:
        raise InvalidDuration(f"{text!r} is zero; a timeout must be longer than that")
    return timedelta(seconds=seconds)
