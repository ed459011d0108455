"""The condition language of ``branch`` steps, parsed here and never handed to ``eval``.

Grammar (lowest precedence first)::

    expression := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand]
    operand    := "string" | 'string' | number | true | false | null | [operand, ...]
                | name | "(" expression ")"
    name       := var.NAME(.NAME)* | attribute.NAME(.NAME)* | tags | channel | locale | name
                | business_hours | segments

Chat answers are text, so comparisons are forgiving where it is unambiguous: a number and a numeric
string compare as numbers (``var.rating >= 4`` holds when the answer was "5"); ordering between
anything else that is not two strings is simply false; a missing value is ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Names a condition can read, and whether they need a dotted key after them.
ROOTS: dict[str, bool] = {
    "var": True,
    "attribute": True,
    "tags": False,
    "channel": False,
    "locale": False,
    "name": False,
    "business_hours": False,
    # The ids of the saved segments the customer is in ('vip' in segments).
    "segments": False,
}
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<bad>=|"|'|.)
    """,
    re.VERBOSE,
)


class ConditionSyntaxError(ValueError):
    """A condition that cannot be parsed; the message is a sentence, ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        self.column = column
        super().__init__(f"{message} (at column {column})")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Name:
    root: str
    keys: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.root, *self.keys))


@dataclass(frozen=True)
class ListOf:
    items: tuple[Expression, ...]


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expression
    right: Expression


Expression = Literal | Name | ListOf | Not | BoolOp | Compare

# Looks a name up: (root, keys) -> value (None when missing).
Resolver = Callable[[str, tuple[str, ...]], Any]


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "bad"
        value = match.group()
        column = match.start() + 1
        if kind == "space":
            continue
        if kind == "bad":
            if value == "=":
                raise ConditionSyntaxError("'=' is not a comparison; write '==' to compare", column)
            if value in "\"'":
                raise ConditionSyntaxError("a text in quotes is not closed", column)
            raise ConditionSyntaxError(f"unexpected character {value!r}", column)
        tokens.append(Token(kind, value, column))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def column(self) -> int:
        token = self.peek()
        return token.column if token else len(self.text) + 1

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ConditionSyntaxError("the condition ends too early", self.column())
        self.position += 1
        return token

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text == word

    def at_punct(self, punct: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "punct" and token.text == punct

    def expect_punct(self, punct: str, why: str) -> None:
        if not self.at_punct(punct):
            raise ConditionSyntaxError(f"expected {punct!r} {why}", self.column())
        self.position += 1

    def parse(self) -> Expression:
        if not self.tokens:
            raise ConditionSyntaxError("the condition is empty", 1)
        expression = self.expression()
        token = self.peek()
        if token is not None:
            raise ConditionSyntaxError(
                f"unexpected {token.text!r}; join conditions with 'and' / 'or'", token.column
            )
        return expression

    def expression(self) -> Expression:
        operands = [self.and_expr()]
        while self.at_word("or"):
            self.position += 1
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def and_expr(self) -> Expression:
        operands = [self.not_expr()]
        while self.at_word("and"):
            self.position += 1
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def not_expr(self) -> Expression:
        if self.at_word("not"):
            self.position += 1
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.operand()
        token = self.peek()
        op: str | None = None
        if token is not None and token.kind == "op":
            op = token.text
            self.position += 1
        elif self.at_word("in"):
            op = "in"
            self.position += 1
        elif self.at_word("not") and (following := self.peek(1)) is not None and following.text == "in":
            op = "not in"
            self.position += 2
        if op is None:
            return left
        if self.peek() is None:
            raise ConditionSyntaxError(f"expected a value after {op!r}", self.column())
        return Compare(op, left, self.operand())

    def operand(self) -> Expression:
        token = self.take()
        if token.kind == "number":
            return Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "punct" and token.text == "(":
            inner = self.expression()
            self.expect_punct(")", "to close the '('")
            return inner
        if token.kind == "punct" and token.text == "[":
            items: list[Expression] = []
            while not self.at_punct("]"):
                items.append(self.operand())
                if not self.at_punct(","):
                    break
                self.position += 1
            self.expect_punct("]", "to close the list")
            return ListOf(tuple(items))
        if token.kind == "word":
            return self.name(token)
        raise ConditionSyntaxError(f"expected a value, found {token.text!r}", token.column)

    def name(self, token: Token) -> Expression:
        word = token.text
        if word in ("true", "false"):
            return Literal(word == "true")
        if word == "null":
            return Literal(None)
        if word in _KEYWORDS:
            raise ConditionSyntaxError(f"expected a value, found the word {word!r}", token.column)
        if word not in ROOTS:
            known = ", ".join(f"{r}." if needs else r for r, needs in ROOTS.items())
            hint = f'; text must be in quotes: "{word}"' if not self.at_punct(".") else ""
            raise ConditionSyntaxError(f"unknown name {word!r} (use {known}){hint}", token.column)
        keys: list[str] = []
        while self.at_punct("."):
            self.position += 1
            key = self.peek()
            if key is None or key.kind != "word":
                raise ConditionSyntaxError(f"expected a key after '{word}.'", self.column())
            keys.append(key.text)
            self.position += 1
        if ROOTS[word] and not keys:
            raise ConditionSyntaxError(f"{word!r} needs a key, e.g. {word}.city", token.column)
        if not ROOTS[word] and keys:
            raise ConditionSyntaxError(f"{word!r} has no keys; write just {word}", token.column)
        return Name(word, tuple(keys))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse_condition(text: str) -> Expression:
    """Parse a condition; raises ConditionSyntaxError with a sentence and a column."""
    if not isinstance(text, str):
        raise ConditionSyntaxError("a condition must be text, e.g. var.rating >= 4", 1)
    return _Parser(text).parse()


def names_in(expression: Expression) -> list[Name]:
    """Every name the condition reads (for validation and documentation tools)."""
    if isinstance(expression, Name):
        return [expression]
    if isinstance(expression, ListOf):
        return [n for item in expression.items for n in names_in(item)]
    if isinstance(expression, Not):
        return names_in(expression.operand)
    if isinstance(expression, BoolOp):
        return [n for item in expression.operands for n in names_in(item)]
    if isinstance(expression, Compare):
        return names_in(expression.left) + names_in(expression.right)
    return []


def evaluate(expression: Expression, resolve: Resolver) -> Any:
    """The value of ``expression``; names are looked up through ``resolve``."""
    if isinstance(expression, Literal):
        return expression.value
    if isinstance(expression, Name):
        return resolve(expression.root, expression.keys)
    if isinstance(expression, ListOf):
        return [evaluate(item, resolve) for item in expression.items]
    if isinstance(expression, Not):
        return not truthy(evaluate(expression.operand, resolve))
    if isinstance(expression, BoolOp):
        if expression.op == "and":
            return all(truthy(evaluate(item, resolve)) for item in expression.operands)
        return any(truthy(evaluate(item, resolve)) for item in expression.operands)
    left = evaluate(expression.left, resolve)
    right = evaluate(expression.right, resolve)
    return _compare(expression.op, left, right)


def roots_of(expression: Expression) -> set[str]:
    """The names an expression reads (``{"var", "segments"}``)."""
    if isinstance(expression, Name):
        return {expression.root}
    if isinstance(expression, ListOf):
        return set().union(*(roots_of(i) for i in expression.items)) if expression.items else set()
    if isinstance(expression, Not):
        return roots_of(expression.operand)
    if isinstance(expression, BoolOp):
        return set().union(*(roots_of(o) for o in expression.operands))
    if isinstance(expression, Compare):
        return roots_of(expression.left) | roots_of(expression.right)
    return set()


def holds(expression: Expression, resolve: Resolver) -> bool:
    return truthy(evaluate(expression, resolve))


def truthy(value: Any) -> bool:
    return bool(value)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _equal(left: Any, right: Any) -> bool:
    if left == right:
        return True
    if isinstance(left, int | float) != isinstance(right, int | float):
        a, b = _as_number(left), _as_number(right)
        return a is not None and a == b
    return False


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in ("in", "not in"):
        found = _contains(right, left)
        return found if op == "in" else not found
    a, b = _as_number(left), _as_number(right)
    if a is None or b is None:
        if isinstance(left, str) and isinstance(right, str):
            a, b = left, right  # type: ignore[assignment]
        else:
            return False
    assert a is not None and b is not None
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list | tuple):
        return any(_equal(element, item) for element in container)
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, dict):
        return item in container
    return False
