"""Keyword and fuzzy phrase matching."""

from __future__ import annotations

import pytest

from bots.flows.matching import contains_keyword, normalize, phrase_score


class TestMatching:
    @pytest.mark.parametrize(
        ("message", "keyword"),
        [
            ("Menu!", "menu"),
            ("show me the MENÚ please", "menu"),
            ("menu", "menú"),
            ("hablar con un agente", "con un"),
        ],
    )
    def test_keywords_are_whole_words(self, message: str, keyword: str) -> None:
        assert contains_keyword(message, keyword)

    @pytest.mark.parametrize(("message", "keyword"), [("menus", "menu"), ("helpful", "help"), ("", "menu")])
    def test_keywords_inside_other_words_do_not_count(self, message: str, keyword: str) -> None:
        assert not contains_keyword(message, keyword)

    def test_a_phrase_inside_a_longer_message_scores_full(self) -> None:
        assert (
            phrase_score("hi, can I talk to a person please?", "talk to a person", processor=normalize) == 100
        )

    def test_short_fragments_do_not_match_long_phrases(self) -> None:
        assert phrase_score("to", "talk to a person", processor=normalize) < 50
        assert phrase_score("a", "talk to a person", processor=normalize) < 50

    def test_typos_still_match(self) -> None:
        assert phrase_score("wher is my ordr", "where is my order", processor=normalize) > 85

    def test_rapidfuzz_cutoff_is_honoured(self) -> None:
        assert phrase_score("banana", "talk to a person", processor=normalize, score_cutoff=50) == 0
