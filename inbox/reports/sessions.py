"""How report queries get their database sessions.

A report is a few independent queries (the cohort's durations, the replies' waits, the ratings...).
Each runs in its own read session and they run side by side: both databases answer concurrent
readers (SQLite in WAL mode, its driver thread releasing the GIL while the query runs), so on two
cores a report takes about as long as its slowest query rather than the sum. The queries of one
report may see snapshots a moment apart; each figure is consistent in itself.

On PostgreSQL a report's window queries are estimated expensive enough to be JIT-compiled, and
compiling them took longer than running them (seconds, at 1,000,000 messages: bench/reports.py);
their sorts (percentiles) also outgrow the default 4 MB of work memory and spill to disk. Both are
set for the report query's transaction only (SET LOCAL), so nothing else in the hub changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.reports.cohort import dialect_of

# hub.db.Database.session: a read session, rolled back when done.
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Query = Callable[[AsyncSession], Awaitable[Any]]

WORK_MEM = "64MB"


async def tune_for_reports(session: AsyncSession) -> None:
    if dialect_of(session) == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


async def _run(sessions: Sessions, query: Query) -> Any:
    async with sessions() as session:
        await tune_for_reports(session)
        return await query(session)


async def side_by_side(sessions: Sessions, *queries: Query) -> list[Any]:
    """The answers of ``queries``, each run in a session of its own, all at once, in order."""
    return list(await asyncio.gather(*(_run(sessions, query) for query in queries)))
