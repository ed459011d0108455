"""One leader: the lock that decides which process runs due jobs.

- **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
  connection. The server releases it when that session ends — the process exits or dies, or its
  connection breaks — and another candidate takes it on its next try. TCP keepalives on the session
  make the server notice a vanished host within about half a minute instead of hours. The connection
  must reach PostgreSQL directly or through a session-mode pooler: a transaction-mode PgBouncer
  would hand the lock to whichever client shares the server connection.
- **SQLite** (one machine): ``flock`` on a lock file next to the database file. The kernel releases
  it when the process exits or dies. The path follows the database, not HUB_DATA_DIR, so every
  process that opens the same database file contends for the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# One lock per database: the hub owns its database, so a fixed key derived from a name is enough.
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"omnihub.scheduler.leader").digest()[:8], "big", signed=True
)
HEALTH_CHECK_TIMEOUT = 5.0
_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "application_name": "omnihub-scheduler-leader",
}


class LeaderLock(Protocol):
    async def try_acquire(self) -> bool:
        """Take the lock if free; False (not an error) when another process holds it."""
        ...

    async def still_held(self) -> bool:
        """Whether this process still holds the lock it acquired."""
        ...

    async def release(self) -> None: ...


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # flock belongs to the open file description, so two schedulers in one process (tests)
            # contend like two processes do.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: which process leads
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresLeaderLock:
    def __init__(self, dsn: str, key: int = ADVISORY_LOCK_KEY) -> None:
        self.dsn = dsn
        self.key = key
        self._connection: asyncpg.Connection | None = None
        self._held = False

    async def try_acquire(self) -> bool:
        if self._held:
            return True
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self.dsn, timeout=10, server_settings=_KEEPALIVES)
            self._held = bool(await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("scheduler leader election: cannot reach PostgreSQL: %s", exc)
            await self._close()
            return False
        return self._held

    async def still_held(self) -> bool:
        if not self._held or self._connection is None:
            return False
        try:
            await self._connection.fetchval("SELECT 1", timeout=HEALTH_CHECK_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The session is gone or unusable; if it is gone the server has released the lock.
            log.warning("scheduler leader lock connection failed: %s", exc)
            await self._close()
            return False
        return True

    async def release(self) -> None:
        if self._held and self._connection is not None and not self._connection.is_closed():
            with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._connection.fetchval("SELECT pg_advisory_unlock($1)", self.key)
        await self._close()

    async def _close(self) -> None:
        self._held = False
        connection, self._connection = self._connection, None
        if connection is not None:
            # terminate(), not close(): close() waits for the server, which may be unreachable.
            connection.terminate()


def leader_lock(database_url: str) -> LeaderLock:
    """The lock that fits the hub's database."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return PostgresLeaderLock(url.set(drivername="postgresql").render_as_string(hide_password=False))
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the scheduler needs a SQLite database file, not an in-memory database")
        return FileLeaderLock(Path(f"{url.database}.scheduler-leader.lock"))
    raise ValueError(f"unsupported database {backend!r} for the scheduler: use SQLite or PostgreSQL")
