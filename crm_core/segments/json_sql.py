"""Reading JSON document columns in SQL the same way on SQLite and PostgreSQL.

Attributes and event payloads are JSON (JSONB on PostgreSQL). A segment compares their values in
SQL, so these constructs give one meaning per value type on both backends:

- ``JsonNumber``: the value when it is a JSON number, else NULL. A text such as "n/a" in a number
  field must not abort the whole query (PostgreSQL's cast would) nor compare as 0 (SQLite's would).
- ``JsonText``: the value as text (NULL when absent or JSON null).
- ``JsonFlag``: 'true' / 'false' for JSON booleans, else NULL.
- ``TagsContain``: whether a JSON array of strings holds a value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class _JsonValue(FunctionElement[Any]):
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], key: str) -> None:
        # The key is a bound parameter, never spliced into the SQL text.
        super().__init__(column, literal(key, String()))


class JsonNumber(_JsonValue):
    type = Float()
    name = "json_number"
    inherit_cache = True


class JsonText(_JsonValue):
    type = String()
    name = "json_text"
    inherit_cache = True


class JsonFlag(_JsonValue):
    type = String()
    name = "json_flag"
    inherit_cache = True


class TagsContain(FunctionElement[bool]):
    type = Boolean()
    name = "tags_contain"
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], tag: str) -> None:
        super().__init__(column, literal(tag, String()))


def _parts(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, key = list(element.clauses)
    return compiler.process(column, **kw), compiler.process(key, **kw)


def _sqlite_path(key: str) -> str:
    # '$."key"': quoting keeps a key with odd characters a single path step.
    return f"""('$."' || {key} || '"')"""


@compiles(JsonNumber, "sqlite")
def _number_sqlite(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    path = _sqlite_path(key)
    return (
        f"(CASE WHEN json_type({column}, {path}) IN ('integer', 'real') "
        f"THEN json_extract({column}, {path}) END)"
    )


@compiles(JsonNumber, "postgresql")
def _number_pg(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN jsonb_typeof({column} -> {key}) = 'number' "
        f"THEN CAST({column} ->> {key} AS DOUBLE PRECISION) END)"
    )


@compiles(JsonText, "sqlite")
def _text_sqlite(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    path = _sqlite_path(key)
    return (
        f"(CASE WHEN json_type({column}, {path}) IN ('text', 'integer', 'real') "
        f"THEN CAST(json_extract({column}, {path}) AS TEXT) END)"
    )


@compiles(JsonText, "postgresql")
def _text_pg(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"(CASE WHEN jsonb_typeof({column} -> {key}) IN ('string', 'number') THEN {column} ->> {key} END)"


@compiles(JsonFlag, "sqlite")
def _flag_sqlite(element: JsonFlag, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    path = _sqlite_path(key)
    return (
        f"(CASE WHEN json_type({column}, {path}) IN ('true', 'false') THEN json_type({column}, {path}) END)"
    )


@compiles(JsonFlag, "postgresql")
def _flag_pg(element: JsonFlag, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"(CASE WHEN jsonb_typeof({column} -> {key}) = 'boolean' THEN {column} ->> {key} END)"


@compiles(TagsContain, "sqlite")
def _tags_sqlite(element: TagsContain, compiler: SQLCompiler, **kw: Any) -> str:
    column, tag = _parts(element, compiler, **kw)
    return f"EXISTS (SELECT 1 FROM json_each({column}) AS tag WHERE tag.value = {tag})"


@compiles(TagsContain, "postgresql")
def _tags_pg(element: TagsContain, compiler: SQLCompiler, **kw: Any) -> str:
    column, tag = _parts(element, compiler, **kw)
    return f"({column} @> jsonb_build_array(CAST({tag} AS TEXT)))"
