"""Writing many rows of one table at once, the fastest safe way on each backend.

Planning a campaign writes two rows per customer (its send and its outbox row), a million of each
for a big audience. Through SQLAlchemy's Core ``executemany`` most of that time went into per-row
parameter handling in Python; here a batch is handed to the driver as plain tuples:

- SQLite: one prepared ``INSERT .. ON CONFLICT DO NOTHING`` stepped over every row by sqlite3's
  ``executemany`` (the loop runs in C);
- PostgreSQL: one ``INSERT .. SELECT FROM unnest(<one array per column>) ON CONFLICT DO NOTHING``:
  a single statement and round trip per batch, the arrays in asyncpg's binary format. (COPY would be
  faster still but cannot skip conflicting rows, and a replayed batch must write nothing twice.)

Both run in the caller's transaction. Values go in as the database stores them: ``Encoder`` applies
SQLAlchemy's own bind processors for each column's type (the SQLite datetime text, JSON text, enum
values), so a row written here reads back exactly like one written through the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator, TypeEngine

from crm_core.columns import UTCDateTime


class Encoder:
    """A column's values as the driver takes them, with SQLAlchemy's bind processor for its type.
    ``cached`` remembers the encoding of repeated values (the run's time, a channel's tried list)."""

    def __init__(self, table: Table, column: str, dialect: Dialect) -> None:
        processor = table.c[column].type._cached_bind_processor(dialect)
        self.process: Callable[[Any], Any] = processor if processor is not None else _same
        self._seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        return self.process(value)

    def cached(self, value: Any, key: Any = None) -> Any:
        """The encoding of ``value``, remembered under ``key`` (the value itself when hashable)."""
        key = value if key is None else key
        if key not in self._seen:
            self._seen[key] = self.process(value)
        return self._seen[key]


def _same(value: Any) -> Any:
    return value


class BulkInsert:
    """``INSERT INTO table (columns) .. ON CONFLICT (conflict) DO NOTHING`` for many rows."""

    def __init__(
        self, table: Table, columns: Sequence[str], conflict: Sequence[str], dialect: Dialect
    ) -> None:
        self.columns = tuple(columns)
        names = ", ".join(self.columns)
        target = ", ".join(conflict)
        self.postgres = dialect.name == "postgresql"
        if self.postgres:
            arrays = ", ".join(f"${i}::{_pg_array(table, c)}" for i, c in enumerate(self.columns, 1))
            picked = ", ".join(f"{c}::jsonb" if _is_json(table.c[c].type) else c for c in self.columns)
            self.sql = (
                f"INSERT INTO {table.name} ({names}) SELECT {picked} FROM unnest({arrays}) AS rows({names}) "
                f"ON CONFLICT ({target}) DO NOTHING"
            )
        else:
            marks = ", ".join("?" for _ in self.columns)
            self.sql = (
                f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT ({target}) DO NOTHING"
            )

    async def run(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        connection = await session.connection()
        if self.postgres:
            # One array per column: zip(*rows) transposes in C.
            await connection.exec_driver_sql(
                self.sql, tuple(list(values) for values in zip(*rows, strict=True))
            )
        else:
            await connection.exec_driver_sql(self.sql, list(rows))


def _base(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind  # type: ignore[return-value]


def _is_json(kind: TypeEngine[Any]) -> bool:
    return isinstance(_base(kind), JSON)


def _pg_array(table: Table, column: str) -> str:
    """The array type a column's values travel in (JSON as text, cast back in the SELECT)."""
    kind = table.c[column].type
    if isinstance(kind, UTCDateTime):
        return "timestamptz[]"
    base = _base(kind)
    if isinstance(base, JSON | String):
        return "text[]"
    if isinstance(base, BigInteger):
        return "int8[]"
    if isinstance(base, Integer):
        return "int4[]"
    if isinstance(base, Float):
        return "float8[]"
    if isinstance(base, Boolean):
        return "bool[]"
    raise TypeError(f"{table.name}.{column}: no array type for {kind!r}")
