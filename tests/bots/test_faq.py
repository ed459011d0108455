"""Knowledge bases for faq steps, in YAML and CSV."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bots.flows.faq import load_knowledge_base
from tests.conftest import REPO


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


class TestShippedKnowledgeBase:
    def test_loads_and_matches_whole_phrases(self) -> None:
        knowledge, problems = load_knowledge_base(REPO / "flows" / "faq" / "support.yaml")
        assert problems == []
        assert knowledge is not None
        best = knowledge.match("hi! where is my order??")[0]
        assert (best.entry.id, best.score) == ("order-status", 100)
        assert knowledge.match("¿a qué hora abren?")[0].entry.id == "hours"

    def test_a_vague_question_ranks_the_close_entries(self) -> None:
        knowledge, _ = load_knowledge_base(REPO / "flows" / "faq" / "support.yaml")
        assert knowledge is not None
        ranked = knowledge.match("pedido")
        assert [m.entry.id for m in ranked] == ["order-status", "delivery", "returns"]
        assert all(50 <= m.score < 80 for m in ranked)

    def test_suggestion_titles_follow_the_language(self) -> None:
        knowledge, _ = load_knowledge_base(REPO / "flows" / "faq" / "support.yaml")
        assert knowledge is not None
        entry = knowledge.entry("hours")
        assert entry is not None
        assert entry.title("es") == "¿Cuál es su horario?"
        assert entry.title("uk") == "What are your opening hours?"


class TestCsv:
    def test_one_variant_a_row_answers_per_locale(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "kb.csv",
            """
            id,locale,question,answer
            hours,en,When are you open?,We open at 9.
            hours,en,opening hours,
            hours,es,¿Cuándo abren?,Abrimos a las 9.
            wifi,,"wifi password, please",The password is on your receipt.
            """,
        )
        knowledge, problems = load_knowledge_base(path)
        assert problems == []
        assert knowledge is not None
        hours = knowledge.entry("hours")
        assert hours is not None
        assert hours.questions == {"en": ("When are you open?", "opening hours"), "es": ("¿Cuándo abren?",)}
        assert hours.answer.render("es", {}) == "Abrimos a las 9."
        assert knowledge.match("what's the wifi password")[0].entry.id == "wifi"

    def test_a_wrong_header_is_reported(self, tmp_path: Path) -> None:
        path = write(tmp_path, "kb.csv", "question,answer\nWhen?,Now\n")
        _, problems = load_knowledge_base(path)
        assert [(p.line, p.message) for p in problems] == [
            (1, "the first row must be the header id,locale,question,answer")
        ]

    def test_a_second_answer_for_one_locale_is_reported(self, tmp_path: Path) -> None:
        path = write(tmp_path, "kb.csv", "id,locale,question,answer\na,en,Q1,A1\na,en,Q2,A2\nb,en,Q3\n")
        knowledge, problems = load_knowledge_base(path)
        assert knowledge is None
        assert [(p.line, p.message) for p in problems] == [
            (3, "entry 'a' already has a 'en' answer"),
            (4, "expected 4 columns (id,locale,question,answer), got 3"),
        ]


class TestYamlProblems:
    def test_every_problem_with_its_line(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "kb.yaml",
            """
            - id: hours
              questions: ["When are you open?"]
              answer: "We open at {{ 9 "
            - questions: ["Who?"]
              answer: Us.
            - id: hours
              questions: "When?"
              answer: {en: Now}
              colour: red
            - id: empty
              questions: {en: []}
              answer: {english: Now}
            """,
        )
        knowledge, problems = load_knowledge_base(path)
        assert knowledge is None
        assert [(p.line, p.message) for p in problems] == [
            (
                3,
                "the template does not compile: "
                "unexpected end of template, expected 'end of print statement'.",
            ),
            (4, "the entry needs an id (a short name, e.g. hours)"),
            (7, "questions must be a list, or a list per language (en: [...])"),
            (9, "unknown entry setting 'colour'"),
            (11, "questions for 'en' must be a list of texts"),
            (12, "'english' is not a language code"),
        ]

    def test_duplicate_ids_and_empty_files(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "kb.yaml",
            "- {id: a, questions: [Q], answer: A}\n- {id: a, questions: [R], answer: B}\n",
        )
        _, problems = load_knowledge_base(path)
        assert [(p.line, p.message) for p in problems] == [(2, "entry id 'a' is used twice")]
        empty = write(tmp_path, "empty.yaml", "[]\n")
        assert [p.message for p in load_knowledge_base(empty)[1]] == ["the knowledge base has no entries"]

    def test_other_file_types_are_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "kb.json", "[]")
        assert [p.message for p in load_knowledge_base(path)[1]] == [
            "a knowledge base is a .yaml, .yml or .csv file"
        ]
