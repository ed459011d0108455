"""How wide a line of text will be, without a font renderer: Helvetica's advance widths for ASCII,
the base letter for accented ones, a full em for wide (CJK) characters and emoji, and a margin on
top, since the viewer may fall back to a wider sans-serif (DejaVu Sans, Verdana)."""

from __future__ import annotations

import unicodedata

# Helvetica advance widths in thousandths of an em, for the printable ASCII characters from space.
_ASCII = (
    # space ! " # $ % & ' ( ) * + , - . /
    (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278)
    # 0-9 : ; < = > ? @
    + (556,) * 10
    + (278, 278, 584, 584, 584, 556, 1015)
    # A-Z
    + (667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833)
    + (722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611)
    # [ \ ] ^ _ `
    + (278, 278, 278, 469, 556, 333)
    # a-z
    + (556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833)
    + (556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500)
    # { | } ~
    + (334, 260, 334, 584)
)
_BOLD = 1.08
_FALLBACK_MARGIN = 1.12
_OTHER = 600


def _char_width(char: str) -> int:
    code = ord(char)
    if 32 <= code < 127:
        return _ASCII[code - 32]
    if unicodedata.east_asian_width(char) in ("W", "F") or unicodedata.category(char) == "So":
        return 1000
    if unicodedata.combining(char):
        return 0
    base = unicodedata.normalize("NFD", char)[0]
    if base != char and 32 <= ord(base) < 127:
        return _ASCII[ord(base) - 32]
    return _OTHER


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width in pixels of ``text`` at font ``size`` (pixels), rounded up generously."""
    em = sum(_char_width(char) for char in text) / 1000
    return em * size * (_BOLD if bold else 1.0) * _FALLBACK_MARGIN
