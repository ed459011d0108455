"""Splitting a long text into parts Telegram accepts.

Telegram measures message length in UTF-16 code units (its entity offsets count that way), so an
emoji outside the Basic Multilingual Plane costs two of the 4096 a message may hold.
"""

from __future__ import annotations

# Preferred cut points, best first. A cut is only taken in the second half of a part so one short
# paragraph at the start does not produce a tiny message.
_SEPARATORS = ("\n\n", "\n", " ")


def utf16_length(text: str) -> int:
    """The length of ``text`` as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` UTF-16 units, on a paragraph, line or word
    boundary when there is one. The separator at a cut is dropped; everything else is kept."""
    parts: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        fits = _fitting_prefix(rest, limit)
        cut, skip = _best_cut(rest[:fits])
        parts.append(rest[:cut])
        rest = rest[cut + skip :]
    if rest or not parts:
        parts.append(rest)
    return parts


def _fitting_prefix(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
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
