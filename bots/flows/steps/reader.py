"""Reading one step's YAML mapping into typed values, reporting every problem with its line.

Step parsers ask the reader for what they need (``reader.text("say")``, ``reader.target("next")``);
the reader records a Problem for anything missing or malformed and returns None, so one pass finds
every mistake in a file instead of stopping at the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bots.flows.conditions import ConditionSyntaxError, Expression, parse_condition
from bots.flows.durations import InvalidDuration, parse_duration
from bots.flows.faq import KnowledgeBase, load_knowledge_base
from bots.flows.model import SaveTarget
from bots.flows.problems import Problem
from bots.flows.templating import (
    LocalText,
    Template,
    TemplateProblem,
    Value,
    compile_template,
    compile_value,
    is_locale_key,
)
from bots.flows.yamlsource import LineList, LineMap

STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass
class FileContext:
    """What the reader needs about the flow file: its name (for problems), its folder (for knowledge
    bases, which are relative to it) and the knowledge bases loaded so far."""

    file: str
    directory: Path
    problems: list[Problem] = field(default_factory=list)
    knowledge_bases: dict[Path, KnowledgeBase | None] = field(default_factory=dict)

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'say'?)`` for a near miss, or nothing."""
    close = difflib.get_close_matches(word, sorted(choices), n=2, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"


class StepReader:
    def __init__(self, context: FileContext, name: str, node: LineMap, kind: str) -> None:
        self.context = context
        self.name = name
        self.node = node
        self.kind = kind
        self.line = node.line

    # -- reporting ---------------------------------------------------------------------------------

    def problem(self, line: int | None, message: str) -> None:
        self.context.problem(line, f"step {self.name!r}: {message}")

    def line_of(self, key: str) -> int:
        return self.node.line_of(key)

    def has(self, key: str) -> bool:
        return key in self.node

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed) | {self.kind}
        for key in self.node:
            if key not in allowed:
                self.problem(
                    self.node.key_lines.get(key, self.line),
                    f"{key!r} is not a setting of {self.kind} steps{suggestion(str(key), allowed)}",
                )

    # -- values ------------------------------------------------------------------------------------

    def template(self, source: Any, line: int, what: str) -> Template | None:
        if not isinstance(source, str) or not source.strip():
            self.problem(line, f"{what} must be a non-empty text")
            return None
        try:
            return compile_template(source)
        except TemplateProblem as exc:
            self.problem(line + exc.line - 1, f"{what}: {exc}")
            return None

    def local_text(self, value: Any, line: int, what: str) -> LocalText | None:
        """A text for every locale (``"Hi"``) or one per locale (``{en: Hi, es: Hola}``)."""
        if isinstance(value, LineMap):
            if not value:
                self.problem(line, f"{what} needs at least one language (en: ..., es: ...)")
                return None
            variants: dict[str, Template] = {}
            for language, source in value.items():
                if not is_locale_key(language):
                    self.problem(
                        value.key_lines[language],
                        f"{what}: {language!r} is not a language code such as en or es",
                    )
                    continue
                template = self.template(source, value.line_of(language), f"{what} ({language})")
                if template is not None:
                    variants[language] = template
            return LocalText(variants) if len(variants) == len(value) else None
        template = self.template(value, line, what)
        return LocalText({"*": template}) if template is not None else None

    def text(self, key: str, *, required: bool = False) -> LocalText | None:
        if key not in self.node:
            if required:
                self.problem(self.line, f"{key!r} is required")
            return None
        return self.local_text(self.node[key], self.line_of(key), repr(key))

    def target(self, key: str, *, required: bool = False) -> str | None:
        if key not in self.node or self.node[key] is None:
            if required:
                self.problem(self.line, f"{key!r} is required: the step to continue at")
            return None
        return self.step_name(self.node[key], self.line_of(key), key)

    def step_name(self, value: Any, line: int, what: str) -> str | None:
        if not isinstance(value, str) or not STEP_NAME.match(value):
            self.problem(line, f"{what} must name a step, got {value!r}")
            return None
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.node.get(key)
        if value is None:
            if required:
                self.problem(self.line, f"{key!r} is required")
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.problem(self.line_of(key), f"{key!r} must be a text, got {value!r}")
            return None
        return str(value)

    def number(
        self, key: str, default: float | None = None, *, low: float | None = None, high: float | None = None
    ) -> float | None:
        value = self.node.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(self.line_of(key), f"{key!r} must be a number, got {value!r}")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"between {low:g} and {high:g}"
                if low is not None and high is not None
                else (f"at least {low:g}" if low is not None else f"at most {high:g}")
            )
            self.problem(self.line_of(key), f"{key!r} must be {bounds}, got {value!r}")
            return default
        return value

    def integer(self, key: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        value = self.node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(self.line_of(key), f"{key!r} must be a whole number, got {value!r}")
            return default
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.problem(self.line_of(key), f"{key!r} must be {limit}, got {value}")
            return default
        return value

    def duration(self, key: str) -> timedelta | None:
        if key not in self.node:
            return None
        try:
            return parse_duration(self.node[key])
        except InvalidDuration as exc:
            self.problem(self.line_of(key), f"{key!r}: {exc}")
            return None

    def timeout(self) -> tuple[timedelta | None, str | None]:
        """A waiting step's ``timeout`` and ``on_timeout``, which go together."""
        timeout = self.duration("timeout")
        on_timeout = self.target("on_timeout")
        if ("timeout" in self.node) != ("on_timeout" in self.node):
            together = "'timeout' and 'on_timeout' go together: how long to wait, and where to go"
            self.problem(self.line, together)
        return timeout, on_timeout

    def save_target(self, value: Any, line: int, what: str) -> SaveTarget | None:
        if isinstance(value, str) and value.count(".") == 1:
            scope, key = value.split(".")
            if scope in ("var", "attribute") and _KEY.match(key):
                return SaveTarget(scope, key)
        self.problem(line, f"{what} must be var.NAME or attribute.NAME, got {value!r}")
        return None

    def condition(self, source: Any, line: int) -> Expression | None:
        try:
            return parse_condition(source)
        except ConditionSyntaxError as exc:
            self.problem(line, f"bad condition {source!r}: {exc}")
            return None

    def value(self, raw: Any, line: int, what: str) -> Value | None:
        if isinstance(raw, LineMap | LineList):
            self.problem(line, f"{what} must be a single value (text, number, true/false), not a list or map")
            return None
        if isinstance(raw, date | datetime):
            # YAML reads an unquoted 2024-03-31 as a date, which JSON state and attributes cannot hold.
            self.problem(line, f'{what}: write dates in quotes ("{raw.isoformat()}")')
            return None
        try:
            return compile_value(raw)
        except TemplateProblem as exc:
            self.problem(line + exc.line - 1, f"{what}: {exc}")
            return None

    def tags(self, key: str) -> tuple[str, ...] | None:
        raw = self.node.get(key)
        values = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            self.problem(self.line_of(key), f"{key!r} takes a tag or a list of tags, got {raw!r}")
            return None
        return tuple(v.strip() for v in values)

    def knowledge_base(self, key: str) -> tuple[KnowledgeBase | None, str | None]:
        """The knowledge base file named by ``key`` (relative to the flow file), loaded once per file."""
        raw = self.node.get(key)
        if not isinstance(raw, str) or not raw.strip():
            self.problem(self.line_of(key), f"{key!r} names a knowledge base file (faq/support.yaml)")
            return None, None
        path = self.context.directory / raw
        key = path.resolve()
        if key not in self.context.knowledge_bases:
            knowledge, problems = load_knowledge_base(path)
            if problems and not path.exists():
                self.problem(self.line_of(key), f"knowledge base {raw!r} does not exist")
            else:
                self.context.problems.extend(problems)
            self.context.knowledge_bases[key] = knowledge
        return self.context.knowledge_bases[key], raw
