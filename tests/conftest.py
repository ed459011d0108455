"""Shared fixtures: the database backends (a real SQLite file and a throwaway PostgreSQL database),
a migrated hub built from a config, and an HTTP client talking to its app.

PostgreSQL tests skip with a reason when the server is unreachable on a laptop, and fail when
CI=true: in CI the PostgreSQL path must really run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.app import create_app
from hub.auth.credentials import Principal, create_agent, create_token
from hub.config import HubConfig, parse_config
from hub.migrate import upgrade
from hub.runtime import Hub
from hub.settings import Settings
from inbox.models import Role

REPO = Path(__file__).resolve().parent.parent
# Pipeline tests run with the one-line greeting bot, so they test the pipeline, not the shipped
# flows (tests/bots runs those through the same pipeline).
GREETING_ONLY = REPO / "tests" / "fixtures" / "greeting-only"
PG_ADMIN_DSN = os.environ.get("OMNIHUB_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_problem() -> str | None:
    async def probe() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_ADMIN_DSN} is unreachable: {exc}"
    return None


_pg_checked: list[str | None] = []


def require_postgres() -> None:
    if not _pg_checked:
        _pg_checked.append(_pg_problem())
    problem = _pg_checked[0]
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(problem)


def _admin(sql: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def make_pg_database() -> tuple[str, Callable[[], None]]:
    """A fresh empty database and a function that drops it."""
    require_postgres()
    name = f"omnihub_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}", lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
        upgrade(url)
        yield url
        return
    url, drop = make_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop()


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like database_url but not migrated (parametrize indirectly with 'sqlite' or 'postgres')."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        return
    url, drop = make_pg_database()
    try:
        yield url
    finally:
        drop()


DEFAULT_CHANNELS: dict[str, Any] = {"site": {"type": "webchat"}}


def hub_config(channels: dict[str, Any] | None = None, **extra: Any) -> HubConfig:
    return parse_config(
        {
            "public_url": "https://hub.example.com",
            "flows_dir": str(GREETING_ONLY),
            "channels": channels if channels is not None else DEFAULT_CHANNELS,
            **extra,
        },
        env={},
    )


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        hub_data_dir=data_dir,
        hub_secret_key="test-secret-key",  # type: ignore[arg-type]
        hub_config=Path("unused.yaml"),
        _env_file=None,  # type: ignore[call-arg]
    )


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def make_hub(database_url: str, tmp_path: Path) -> AsyncIterator[HubFactory]:
    """Build (and later stop) hubs on the test database. Workers do not run in the background:
    tests drive processing with `drain` so every step is deterministic."""
    hubs: list[Hub] = []

    async def factory(channels: dict[str, Any] | None = None, **kwargs: Any) -> Hub:
        hub = Hub.build(settings_for(database_url, tmp_path / "var"), hub_config(channels), **kwargs)
        await hub.start(workers=False)
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        await hub.stop()


@pytest.fixture
async def hub(make_hub: HubFactory) -> Hub:
    return await make_hub()


def client_for(hub: Hub) -> httpx.AsyncClient:
    app = create_app(hub.settings, hub.config, hub=hub)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as http:
        yield http


async def drain(hub: Hub, rounds: int = 20) -> None:
    """Process every stored inbound event and send every due outbox row."""
    for _ in range(rounds):
        done = await hub.processor.process_pending()
        done += await hub.dispatcher.dispatch_due()
        if done == 0:
            return
    raise AssertionError("the pipeline did not settle")


async def token_headers(hub: Hub, role: Role, name: str = "test") -> dict[str, str]:
    async with hub.db.transaction() as session:
        _, secret = await create_token(session, name=name, role=role, created_by="test")
    return {"Authorization": f"Bearer {secret}"}


async def agent_headers(
    hub: Hub, role: Role = Role.AGENT, email: str | None = None
) -> tuple[dict[str, str], Principal]:
    """Log a new agent in through the real login endpoint; returns cookie headers and who it is."""
    email = email or f"{role.value}-{uuid.uuid4().hex[:6]}@example.com"
    async with hub.db.transaction() as session:
        agent = await create_agent(
            session, email=email, name=f"Test {role.value}", role=role, password="correct horse battery"
        )
    async with client_for(hub) as http:
        response = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": "correct horse battery"}
        )
        assert response.status_code == 200, response.text
        cookie = response.cookies["hub_session"]
    return {"Cookie": f"hub_session={cookie}"}, Principal(role=role, name=agent.name, agent_id=agent.id)
