"""The database: an async SQLAlchemy engine on SQLite (WAL, the embedded default) or PostgreSQL.

``Database.transaction()`` is the one way to write. SQLite allows one writer at a time; rather than
let concurrent transactions of this process fail with "database is locked" when a read lock
upgrades, writes of one process queue on an asyncio lock (other processes wait on busy_timeout).
PostgreSQL needs no such lock: row locks and unique constraints do the job across processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the driver: by default it only issues BEGIN before a write
    # statement, so a SELECT-then-UPDATE "transaction" would read outside any snapshot or lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(url, echo=echo)
            # Writes take the database write lock up front (BEGIN IMMEDIATE): another process's
            # writer then waits on busy_timeout instead of failing when a read lock would upgrade.
            self._write_engine = create_async_engine(url, echo=echo)
            for engine, begin in ((self.engine, "BEGIN"), (self._write_engine, "BEGIN IMMEDIATE")):
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
                event.listen(engine.sync_engine, "begin", lambda conn, sql=begin: conn.exec_driver_sql(sql))
        elif self.dialect == "postgresql":
            self.engine = create_async_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self._write_engine = self.engine
        else:
            raise ValueError(
                f"unsupported database {self.dialect!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        self._write_sessions = async_sessionmaker(
            self._write_engine, expire_on_commit=False, class_=AsyncSession
        )
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read session (rolled back at the end)."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction, committed on success and rolled back on error."""
        if self._write_lock is not None:
            async with self._write_lock, self._write_sessions() as session, session.begin():
                yield session
        else:
            async with self._write_sessions() as session, session.begin():
                yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._write_engine is not self.engine:
            await self._write_engine.dispose()
