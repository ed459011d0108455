"""Live updates: a small publish/subscribe bus for agent screens, web chat visitors, and waking the
inbound processor and outbox dispatcher.

On SQLite everything runs in one process, so the bus is in-memory. On PostgreSQL, where several
`hub serve` and `hub worker` processes share the work, every publish is a NOTIFY on one channel and
every process LISTENs and fans out to its local subscribers. We chose LISTEN/NOTIFY over Redis
pub/sub because the database is already the one service every process needs and it keeps the
deployment to one moving part; notifications are sent at commit, so nobody hears of a row it can't
read yet. Payloads are small (ids, not message bodies: NOTIFY caps them at 8000 bytes); subscribers
load what they show from the database. Delivery is best effort; the database stays the truth and
screens reload from it on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "omnihub_live"
# A subscriber that falls this far behind loses the oldest updates rather than growing without bound.
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    payload: Mapping[str, Any]


class Subscription:
    def __init__(self, bus: LocalBus, topics: tuple[str, ...]) -> None:
        self._bus = bus
        self.topics = topics
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_SIZE)

    async def get(self, wait_seconds: float | None = None) -> LiveEvent | None:
        """The next event, or None after ``wait_seconds`` without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), wait_seconds)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._bus._unsubscribe(self)


class LocalBus:
    """In-process fan-out; also the local half of PostgresBus."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.deliver(LiveEvent(topic, dict(payload)))

    async def publish_all(self, events: list[LiveEvent]) -> None:
        for live_event in events:
            await self.publish(live_event.topic, live_event.payload)

    def deliver(self, live_event: LiveEvent) -> None:
        for subscription in list(self._subscribers.get(live_event.topic, ())):
            if subscription.queue.full():
                subscription.queue.get_nowait()
            subscription.queue.put_nowait(live_event)

    @contextlib.contextmanager
    def subscribe(self, *topics: str) -> Any:
        subscription = Subscription(self, topics)
        for topic in topics:
            self._subscribers[topic].add(subscription)
        try:
            yield subscription
        finally:
            subscription.close()

    def _unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            self._subscribers[topic].discard(subscription)
            if not self._subscribers[topic]:
                self._subscribers.pop(topic, None)


def asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresBus(LocalBus):
    """LISTEN/NOTIFY across processes (see the module docstring)."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self._dsn = asyncpg_dsn(database_url)
        self._listen: asyncpg.Connection | None = None
        self._notify: asyncpg.Connection | None = None
        self._notify_lock = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._watchdog = asyncio.create_task(self._keep_listening(), name="live-bus-watchdog")

    async def _connect(self) -> None:
        self._listen = await asyncpg.connect(self._dsn)
        await self._listen.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self._notify = await asyncpg.connect(self._dsn)

    async def _keep_listening(self) -> None:
        """Reconnect after a lost connection (database restart); screens resync on their own."""
        while True:
            await asyncio.sleep(2)
            if self._listen is not None and not self._listen.is_closed():
                continue
            try:
                await self._close_connections()
                await self._connect()
                log.warning("live bus reconnected to PostgreSQL")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("live bus cannot reach PostgreSQL: %s", exc)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, data: str) -> None:
        try:
            message = json.loads(data)
            self.deliver(LiveEvent(message["topic"], message["payload"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed live notification")

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Best effort, like all live updates: a lost notification costs a screen a refresh (workers
        also poll), so a broken connection is reopened once and otherwise only logged — it must
        never fail the request that stored the data."""
        data = json.dumps({"topic": topic, "payload": dict(payload)}, separators=(",", ":"))
        async with self._notify_lock:
            for attempt in (1, 2):
                try:
                    if self._notify is None or self._notify.is_closed():
                        self._notify = await asyncpg.connect(self._dsn)
                    await self._notify.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, data)
                    return
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    if self._notify is not None and not self._notify.is_closed():
                        self._notify.terminate()
                    self._notify = None
                    if attempt == 2:
                        log.warning("live update %s not sent: %s", topic, exc)

    async def _close_connections(self) -> None:
        for connection in (self._listen, self._notify):
            if connection is not None and not connection.is_closed():
                await connection.close()
        self._listen = self._notify = None

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await self._close_connections()


def make_bus(database_url: str) -> LocalBus:
    return PostgresBus(database_url) if database_url.startswith("postgresql") else LocalBus()
