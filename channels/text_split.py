"""Splitting a long text into parts a channel accepts, on paragraph, line or word boundaries.

Telegram and Twilio measure length in UTF-16 code units (an emoji outside the Basic Multilingual
Plane costs two); Viber counts characters. ``split_text`` takes the measure.
"""

from __future__ import annotations

from collections.abc import Callable

# Preferred cut points, best first. A cut is only taken in the second half of a part so one short
# paragraph at the start does not produce a tiny message.
_SEPARATORS = ("\n\n", "\n", " ")


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, as Telegram and Twilio count it."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, length: Callable[[str], int] = utf16_length) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` units of ``length``, on a paragraph, line or word
    boundary when there is one. The separator at a cut is dropped; everything else is kept."""
    parts: list[str] = []
    rest = text
    while length(rest) > limit:
        fits = _fitting_prefix(rest, limit, length)
        cut, skip = _best_cut(rest[:fits])
        parts.append(rest[:cut])
        rest = rest[cut + skip :]
    if rest or not parts:
        parts.append(rest)
    return parts


def _fitting_prefix(text: str, limit: int, length: Callable[[str], int]) -> int:
    """How many characters of ``text`` fit in ``limit`` units of ``length``."""
    used = 0
    for index, char in enumerate(text):
        used += length(char)
        if used > limit:
            return index
    return len(text)


def _best_cut(window: str) -> tuple[int, int]:
    """Where to cut ``window`` and how many separator characters to drop there."""
    for separator in _SEPARATORS:
        at = window.rfind(separator)
        if at >= len(window) // 2 and at > 0:
            return at, len(separator)
    return len(window), 0
