"""``column IN (many ids)`` with the ids in one bound parameter.

Planning asks about thousands of customers per query. A plain ``IN (:id_1, …, :id_5000)`` is
rendered into the SQL text anew on every execution (SQLAlchemy's expanding parameters), which cost
more than the queries themselves. One parameter instead: an array on PostgreSQL (``= ANY($1)``), a
JSON list read with ``json_each`` on SQLite. Both still probe the index per id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement


def among(session: AsyncSession, column: ColumnElement[Any], ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids`` for the session's database."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
    listed = select(literal_column("value")).select_from(func.json_each(json.dumps(list(ids))))
    return column.in_(listed.scalar_subquery())
