"""Texts of flows: per-locale variants, templated with a sandboxed Jinja2 environment.

Templates are compiled when the flow is loaded (a syntax error is a validation problem with its
line) and rendered with the names of the turn: ``name``, ``var``, ``attribute``, ``tags``,
``channel``, ``locale``, ``business_hours``. The environment is Jinja's immutable sandbox: no access
to underscored attributes (``__class__`` and friends) and no mutating calls on the values it is given.
What customers type is only ever *data* passed to a template, never compiled as one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bots.flows.conditions import ConditionSyntaxError, Name, parse_condition

DEFAULT_LANGUAGE = "en"
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)

# Missing names and keys render as empty text, and chained lookups on them stay empty, so a template
# over an attribute the customer does not have yet reads naturally instead of failing the turn.
_ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False
)


class TemplateProblem(ValueError):
    """A template that does not compile; ``line`` is relative to the template text (1-based)."""

    def __init__(self, message: str, line: int = 1) -> None:
        self.line = line
        super().__init__(message)


class RenderError(RuntimeError):
    """A template failed at render time (for instance it tried to reach a Python internal)."""


def language_of(locale: str | None) -> str:
    """``es-AR`` / ``es_AR`` -> ``es``; no locale -> the default language."""
    return (locale or DEFAULT_LANGUAGE).lower().replace("_", "-").split("-")[0]


def is_locale_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_LOCALE.match(key))


@dataclass(frozen=True)
class Template:
    source: str
    compiled: jinja2.Template = field(compare=False, repr=False)

    def render(self, names: Mapping[str, Any]) -> str:
        try:
            return self.compiled.render(names).strip()
        except SecurityError as exc:
            raise RenderError(f"template {self.source!r} is not allowed: {exc}") from None
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {self.source!r} failed: {exc}") from None


def compile_template(source: str) -> Template:
    """Compile ``source``; raises TemplateProblem with a sentence and the line inside the text."""
    try:
        return Template(source, _ENVIRONMENT.from_string(source))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"the template does not compile: {exc.message}", exc.lineno or 1) from None


@dataclass(frozen=True)
class LocalText:
    """A text with one variant per language (``{"en": ..., "es": ...}``) or one for all (``"*"``)."""

    variants: Mapping[str, Template]

    def pick(self, language: str) -> Template:
        """The customer's language, else English, else the first variant written."""
        for key in (language, "*", DEFAULT_LANGUAGE):
            if key in self.variants:
                return self.variants[key]
        return next(iter(self.variants.values()))

    def render(self, language: str, names: Mapping[str, Any]) -> str:
        return self.pick(language).render(names)

    def plain_variants(self) -> list[str]:
        return [t.source for t in self.variants.values()]


@dataclass(frozen=True)
class Value:
    """A value written in a ``set`` or ``record_event`` step.

    A text that is exactly one ``{{ name }}`` copies that value with its type (a rating stays a
    number); other texts with ``{{ }}`` render to text; anything else is taken literally.
    """

    literal: Any = None
    template: Template | None = None
    copy_of: Name | None = None


def compile_value(raw: Any) -> Value:
    if not isinstance(raw, str) or "{" not in raw:
        return Value(literal=raw)
    single = _SINGLE_EXPRESSION.match(raw)
    if single and "{{" not in single.group(1) and "}}" not in single.group(1):
        try:
            expression = parse_condition(single.group(1).strip())
        except ConditionSyntaxError:
            expression = None
        if isinstance(expression, Name):
            return Value(copy_of=expression)
    return Value(template=compile_template(raw))
