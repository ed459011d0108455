"""Knowledge bases for ``faq`` steps: question variants -> an answer, in YAML or CSV.

YAML, a list of entries::

    - id: hours
      questions:
        en: [What are your opening hours?, When are you open?]
        es: [¿Cuál es su horario?, ¿A qué hora abren?]
      answer:
        en: We are open Monday to Friday, 9:00 to 18:00.
        es: Abrimos de lunes a viernes, de 9:00 a 18:00.

``questions`` may also be a plain list (any language). CSV, one question variant a row, with the
header ``id,locale,question,answer``; the answer needs to be on one row of each id and locale.

Matching scores the customer's text against every variant with rapidfuzz (``phrase_score`` over
``utils.default_process``); an entry scores its best variant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import process, utils

from bots.flows.matching import phrase_score
from bots.flows.problems import Problem
from bots.flows.templating import LocalText, Template, TemplateProblem, compile_template, is_locale_key
from bots.flows.yamlsource import LineList, LineMap, YamlSyntaxError, parse_yaml

_CSV_HEADER = ["id", "locale", "question", "answer"]


@dataclass(frozen=True)
class FaqEntry:
    id: str
    # language ("*" for any) -> question variants, in the order written
    questions: Mapping[str, tuple[str, ...]]
    answer: LocalText
    line: int | None = field(default=None, compare=False)

    def title(self, language: str) -> str:
        """The question shown on a suggestion button: the first variant in the customer's language."""
        for key in (language, "*", "en"):
            if self.questions.get(key):
                return self.questions[key][0]
        return next(q for qs in self.questions.values() for q in qs)


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float


@dataclass(frozen=True)
class KnowledgeBase:
    path: str
    entries: tuple[FaqEntry, ...]
    # (entry, question variant) pairs, flattened once for matching
    variants: tuple[tuple[FaqEntry, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        variants = tuple((e, q) for e in self.entries for qs in e.questions.values() for q in qs)
        object.__setattr__(self, "variants", variants)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def match(self, text: str, limit: int = 3) -> list[FaqMatch]:
        """The best ``limit`` entries for ``text``, best first (ties keep the file's order)."""
        scored = process.extract(
            text,
            [q for _, q in self.variants],
            scorer=phrase_score,
            processor=utils.default_process,
            limit=None,
        )
        best: dict[str, FaqMatch] = {}
        for _, score, index in scored:
            entry = self.variants[index][0]
            if entry.id not in best or score > best[entry.id].score:
                best[entry.id] = FaqMatch(entry, float(score))
        order = {entry.id: i for i, entry in enumerate(self.entries)}
        ranked = sorted(best.values(), key=lambda m: (-m.score, order[m.entry.id]))
        return ranked[:limit]


def load_knowledge_base(path: Path) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Read a knowledge base; every problem is reported with its line. None when unusable."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(name, None, "the knowledge base file does not exist")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, None, f"the knowledge base cannot be read ({exc})")]
    if path.suffix.lower() == ".csv":
        entries, problems = _from_csv(name, text)
    elif path.suffix.lower() in (".yaml", ".yml"):
        entries, problems = _from_yaml(name, text)
    else:
        return None, [Problem(name, None, "a knowledge base is a .yaml, .yml or .csv file")]
    if not entries and not problems:
        problems.append(Problem(name, None, "the knowledge base has no entries"))
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            problems.append(Problem(name, entry.line, f"entry id {entry.id!r} is used twice"))
        seen.add(entry.id)
    problems.sort(key=lambda p: p.line or 0)
    return (None if problems else KnowledgeBase(name, tuple(entries))), problems


def _template(name: str, line: int, source: Any, problems: list[Problem]) -> Template | None:
    if not isinstance(source, str) or not source.strip():
        problems.append(Problem(name, line, "an answer must be a non-empty text"))
        return None
    try:
        return compile_template(source)
    except TemplateProblem as exc:
        problems.append(Problem(name, line + exc.line - 1, str(exc)))
        return None


def _from_yaml(name: str, text: str) -> tuple[list[FaqEntry], list[Problem]]:
    try:
        document = parse_yaml(text)
    except YamlSyntaxError as exc:
        return [], [Problem(name, exc.line, str(exc))]
    problems = [Problem(name, line, message) for line, message in document.problems]
    data = document.data
    if not isinstance(data, LineList):
        return [], [*problems, Problem(name, 1, "a YAML knowledge base is a list of entries (- id: ...)")]
    entries = []
    for index, raw in enumerate(data):
        line = data.line_of(index)
        if not isinstance(raw, LineMap):
            problems.append(Problem(name, line, "each entry needs id, questions and answer"))
            continue
        unknown = [k for k in raw if k not in ("id", "questions", "answer")]
        for key in unknown:
            problems.append(Problem(name, raw.key_lines[key], f"unknown entry setting {key!r}"))
        entry_id = raw.get("id")
        if not isinstance(entry_id, str | int) or isinstance(entry_id, bool) or str(entry_id) == "":
            problems.append(Problem(name, raw.line, "the entry needs an id (a short name, e.g. hours)"))
            continue
        questions = _yaml_questions(name, raw, problems)
        answer = _yaml_answer(name, raw, problems)
        if questions and answer:
            entries.append(FaqEntry(str(entry_id), questions, answer, raw.line))
    return entries, problems


def _yaml_questions(name: str, raw: LineMap, problems: list[Problem]) -> dict[str, tuple[str, ...]] | None:
    value = raw.get("questions")
    line = raw.line_of("questions")
    grouped = {"*": value} if isinstance(value, list) else value
    if not isinstance(grouped, dict) or not grouped:
        problems.append(Problem(name, line, "questions must be a list, or a list per language (en: [...])"))
        return None
    out: dict[str, tuple[str, ...]] = {}
    for language, variants in grouped.items():
        if language != "*" and not is_locale_key(language):
            problems.append(Problem(name, line, f"{language!r} is not a language code such as en or es"))
            continue
        if (
            not isinstance(variants, list)
            or not variants
            or not all(isinstance(v, str) and v.strip() for v in variants)
        ):
            problems.append(Problem(name, line, f"questions for {language!r} must be a list of texts"))
            continue
        out[language] = tuple(v.strip() for v in variants)
    return out or None


def _yaml_answer(name: str, raw: LineMap, problems: list[Problem]) -> LocalText | None:
    value = raw.get("answer")
    line = raw.line_of("answer")
    if isinstance(value, str):
        template = _template(name, line, value, problems)
        return LocalText({"*": template}) if template else None
    if not isinstance(value, LineMap) or not value:
        problems.append(Problem(name, line, "the entry needs an answer (a text, or one per language)"))
        return None
    variants: dict[str, Template] = {}
    for language, source in value.items():
        if not is_locale_key(language):
            problems.append(Problem(name, value.key_lines[language], f"{language!r} is not a language code"))
            continue
        template = _template(name, value.line_of(language), source, problems)
        if template:
            variants[language] = template
    return LocalText(variants) if len(variants) == len(value) else None


def _from_csv(name: str, text: str) -> tuple[list[FaqEntry], list[Problem]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != _CSV_HEADER:
        return [], [Problem(name, 1, f"the first row must be the header {','.join(_CSV_HEADER)}")]
    problems: list[Problem] = []
    questions: dict[str, dict[str, list[str]]] = {}
    answers: dict[str, dict[str, Template]] = {}
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(_CSV_HEADER):
            problems.append(
                Problem(name, line, f"expected 4 columns (id,locale,question,answer), got {len(row)}")
            )
            continue
        entry_id, language, question, answer = (cell.strip() for cell in row)
        language = language or "*"
        if not entry_id:
            problems.append(Problem(name, line, "the id column is empty"))
            continue
        if language != "*" and not is_locale_key(language):
            problems.append(Problem(name, line, f"{language!r} is not a language code such as en or es"))
            continue
        first_line.setdefault(entry_id, line)
        if question:
            questions.setdefault(entry_id, {}).setdefault(language, []).append(question)
        if answer:
            if language in answers.get(entry_id, {}):
                problems.append(Problem(name, line, f"entry {entry_id!r} already has a {language!r} answer"))
                continue
            template = _template(name, line, answer, problems)
            if template:
                answers.setdefault(entry_id, {})[language] = template
    entries = []
    for entry_id, line in first_line.items():
        if entry_id not in questions:
            problems.append(Problem(name, line, f"entry {entry_id!r} has no question"))
        elif entry_id not in answers:
            problems.append(Problem(name, line, f"entry {entry_id!r} has no answer"))
        else:
            grouped = {lang: tuple(qs) for lang, qs in questions[entry_id].items()}
            entries.append(FaqEntry(entry_id, grouped, LocalText(answers[entry_id]), line))
    return entries, problems
