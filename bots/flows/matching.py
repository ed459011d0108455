"""Matching what a customer typed against phrases: keywords, fuzzy intents, FAQ questions, choices.

Everything is compared after rapidfuzz's ``utils.default_process`` (lowercase, punctuation to
spaces, trimmed), so "Menu!" finds the keyword ``menu``.

Fuzzy scoring (``phrase_score``): when the message is at least as long as the phrase, the best
alignment of the phrase inside the message counts ("hi, I want to talk to a person please" contains
"talk to a person": 100). When the message is shorter, the better of two counts: the whole of both
compared with word order ignored, or the message's alignment inside the phrase weighted by how much
of the phrase it covers. Unweighted partial alignment (as in WRatio) would let "to" match "talk to a
person" at 90 or more; weighted, "to" scores 48 while "hours" still suggests "opening hours" (63).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rapidfuzz import fuzz, utils

normalize = utils.default_process


def fold_accents(text: str) -> str:
    """``menú`` -> ``menu``: customers often skip accents on phone keyboards."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def phrase_score(
    message: str, phrase: str, *, processor: Any = None, score_cutoff: float | None = None
) -> float:
    """0-100 similarity of a customer's message to a phrase (a rapidfuzz-compatible scorer)."""
    if processor is not None:
        message, phrase = processor(message), processor(phrase)
    if not message or not phrase:
        return 0.0
    if len(message) >= len(phrase):
        score = fuzz.partial_ratio(phrase, message)
    else:
        # A short message found inside the phrase counts in proportion to how much of the phrase it
        # covers: "hours" suggests "opening hours" (63) while "to" stays far from "talk to a person".
        coverage = len(message) / len(phrase)
        score = max(
            fuzz.token_sort_ratio(message, phrase),
            fuzz.partial_ratio(message, phrase) * (0.4 + 0.6 * coverage),
        )
    return score if score_cutoff is None or score >= score_cutoff else 0.0


def contains_keyword(message: str, keyword: str) -> bool:
    """True when ``keyword`` (a word or a few words) appears as whole words in ``message``,
    ignoring case, punctuation and accents."""
    words = fold_accents(normalize(keyword))
    if not words:
        return False
    return re.search(rf"(?:^|\s){re.escape(words)}(?:\s|$)", fold_accents(normalize(message))) is not None


def same_text(a: str, b: str) -> bool:
    """Equal after normalisation and accent folding ("Sí" == "si")."""
    return fold_accents(normalize(a)) == fold_accents(normalize(b))
