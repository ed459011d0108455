"""The baseline for bench/ingest.py: the cheapest possible correct web chat ingest.

A bare FastAPI app with the endpoints the load generator uses, speaking the hub's wire format:

- ``POST /webchat/{account}/session`` hands out a visitor id and its token (the hub's derivation:
  HMAC-SHA256 under a per-account key derived from ``HUB_SECRET_KEY``);
- ``POST /webhooks/webchat/{account}`` checks the token and the JSON, inserts the same ``raw_events``
  row the hub stores (same columns, same header JSON minus credentials, same dedupe on
  ``(account, event_key)``) into a migrated database, and answers the hub's ``{"ok":true}``.

Nothing else: no middleware, no logging per request, no processing. It deliberately does not import
the hub, so a slowdown in the hub's code cannot slow the baseline down with it. It runs under uvicorn
with the settings ``hub serve`` uses (one process, uvloop/httptools when installed, no access log).

Run: ``DATABASE_URL=... HUB_SECRET_KEY=... python bench/baseline_app.py --port 8001``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ACK = b'{"ok":true}'
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-telegram-bot-api-secret-token",
        "x-webchat-token",
        "x-viber-auth-token",
    }
)
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

RAW_EVENTS = Table(
    "raw_events",
    MetaData(),
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("account", String(100)),
    Column("channel_type", String(32)),
    Column("event_key", String(300)),
    Column("method", String(16)),
    Column("url", String),
    Column("headers", JSON().with_variant(postgresql.JSONB(), "postgresql")),
    Column("body", LargeBinary),
    Column("received_at", DateTime(timezone=True)),
    Column("status", String(16)),
    Column("attempts", Integer),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The pragmas hub.db sets on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    """An engine configured like hub.db.Database's for the same URL. (hub.db starts SQLite write
    transactions with BEGIN IMMEDIATE; a transaction of one INSERT takes the same lock at once.)"""
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def signing_key(secret_key: bytes, account: str) -> bytes:
    """The per-account key the hub derives (hub.accounts) for web chat visitor tokens."""
    return hmac.new(secret_key, f"channel:{account}".encode(), hashlib.sha256).digest()


def visitor_token(key: bytes, account: str, visitor_id: str) -> str:
    """The token the hub issues for one visitor (channels.webchat.visitor_token)."""
    return hmac.new(key, f"{account}\x00{visitor_id}".encode(), hashlib.sha256).hexdigest()


def valid_message(body: Any) -> bool:
    """The checks the hub's web chat adapter makes before storing a message."""
    return (
        isinstance(body, dict)
        and body.get("type", "message") == "message"
        and isinstance(body.get("id"), str)
        and bool(_ID.match(body["id"]))
        and isinstance(body.get("text"), str)
        and bool(body["text"].strip())
    )


class RawEventStore:
    """Inserts raw_events rows, configured like hub.db.Database for the same URL."""

    def __init__(self, database_url: str) -> None:
        self.is_sqlite = database_url.startswith("sqlite")
        self.engine = make_engine(database_url)
        self._insert = sqlite.insert if self.is_sqlite else postgresql.insert
        # One SQLite writer at a time, queued in-process as hub.db does.
        self._write_lock = asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()

    async def store(self, values: dict[str, Any]) -> None:
        """Insert one row; a duplicate (account, event_key) is ignored, as in the hub."""
        if self.is_sqlite:  # hub's UTCDateTime stores naive UTC on SQLite, timestamptz on PostgreSQL
            values["received_at"] = values["received_at"].replace(tzinfo=None)
        statement = (
            self._insert(RAW_EVENTS)
            .values(values)
            .on_conflict_do_nothing(index_elements=["account", "event_key"])
            .returning(RAW_EVENTS.c.id)
        )
        async with self._write_lock, self.engine.begin() as connection:
            await connection.execute(statement)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(select(1))


def raw_event(
    account: str, visitor: str, payload: dict[str, Any], request: Request, body: bytes, public_url: str
) -> dict[str, Any]:
    """The row hub.inbound.receive.store_raw writes for this request."""
    return {
        "account": account,
        "channel_type": "webchat",
        "event_key": f"{visitor}:{payload['id']}"[:300],
        "method": request.method,
        "url": public_url + request.url.path,
        "headers": {k.lower(): v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS},
        "body": body,
        "received_at": datetime.now(UTC),
        "status": "pending",
        "attempts": 0,
    }


def parse_message(body: bytes) -> dict[str, Any] | None:
    """The message JSON, or None when it is not one the hub would accept."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if valid_message(payload) else None


def create_app(database_url: str, secret_key: bytes, public_url: str) -> FastAPI:
    """The baseline app writing to ``database_url``."""
    store = RawEventStore(database_url)
    keys: dict[str, bytes] = {}

    def token_for(account: str, visitor_id: str) -> str:
        if account not in keys:
            keys[account] = signing_key(secret_key, account)
        return visitor_token(keys[account], account, visitor_id)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        await store.ping()
        return {"status": "ready"}

    @app.post("/webchat/{account}/session")
    async def session(account: str) -> dict[str, str]:
        visitor_id = secrets.token_urlsafe(18)
        return {"visitor_id": visitor_id, "token": token_for(account, visitor_id)}

    @app.post("/webhooks/webchat/{account}")
    async def webhook(account: str, request: Request) -> Response:
        visitor = request.headers.get("x-webchat-visitor") or ""
        token = request.headers.get("x-webchat-token") or ""
        if not (_ID.match(visitor) and hmac.compare_digest(token_for(account, visitor), token)):
            return Response(b'{"error":"forged"}', status_code=401, media_type="application/json")
        body = await request.body()
        payload = parse_message(body)
        if payload is None:
            return Response(b'{"error":"malformed"}', status_code=400, media_type="application/json")
        await store.store(raw_event(account, visitor, payload, request, body, public_url))
        return Response(ACK, media_type="application/json")

    return app


def main() -> None:
    """Serve the baseline with uvicorn, configured like ``hub serve``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = create_app(
        os.environ["DATABASE_URL"],
        os.environ["HUB_SECRET_KEY"].encode(),
        os.environ.get("HUB_PUBLIC_URL", f"http://{args.host}:{args.port}").rstrip("/"),
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False, proxy_headers=True)


if __name__ == "__main__":
    main()
