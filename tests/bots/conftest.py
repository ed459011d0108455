"""Fixtures of the flow engine tests: a migrated database per backend shared by a test module (each
test works on its own customers), a write-transaction factory on it, a controllable clock, and
helpers to build flows from YAML text and to talk to an engine."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import hub.db  # noqa: F401  (registers the hub's tables)
from bots.flows import FlowEngine, FlowResult, FlowSet, load_flows
from bots.flows.state import FlowState
from bots.turn import BotTurn
from crm_core.customers import attach_identity
from crm_core.models import Customer, CustomerEvent, IdentityKind
from hub.db import Database
from hub.migrate import upgrade
from tests.conftest import make_pg_database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def flows_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend for a whole test module."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('flows')}/hub.db"
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
async def db(flows_database_url: str) -> AsyncIterator[Database]:
    database = Database(flows_database_url)
    yield database
    await database.dispose()


class Clock:
    """A clock tests move by hand (no sleeping)."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def write_flow(folder: Path, text: str, name: str = "flow.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def flows_from(folder: Path, *texts: str) -> FlowSet:
    for index, text in enumerate(texts):
        write_flow(folder, text, f"flow{index}.yaml")
    return load_flows(folder)


@dataclass
class Talk:
    """One customer talking to an engine, one committed transaction per message, like the hub."""

    db: Database
    engine: FlowEngine
    customer_id: int
    channel: str = "webchat"
    conversation_id: int = 1
    bot_active: bool = True
    opened: bool = True

    async def say(
        self,
        text: str = "",
        *,
        payload: str | None = None,
        start: str | None = None,
        shared_phone: str | None = None,
    ) -> FlowResult:
        """The customer writes (or presses, or starts, or shares their contact: the hub has then put
        the phone on their record, verified, before the bot sees the message)."""
        async with self.db.transaction() as session:
            customer = await session.get(Customer, self.customer_id)
            assert customer is not None
            if shared_phone is not None:
                await attach_identity(
                    session, customer, IdentityKind.PHONE, shared_phone, verified=True, source="test"
                )
            turn = BotTurn(
                customer=customer,
                conversation_id=self.conversation_id,
                opened=self.opened,
                bot_active=self.bot_active,
                channel_type=self.channel,
                text=text,
                button_payload=payload,
                start_payload=start,
                shared_phone=shared_phone,
            )
            self.opened = False
            return await self.engine.handle_turn(session, turn)

    async def expire(self, now: datetime) -> list[FlowResult]:
        """One round of due timeouts at ``now``: what this customer's flow said (the database is
        shared by the module, so other tests' customers may be due as well)."""
        async with self.db.transaction() as session:
            fired = await self.engine.expire_timeouts(session, now)
        return [t.result for t in fired if t.customer_id == self.customer_id]

    async def event(self, kind: str, payload: dict[str, Any] | None = None) -> FlowResult:
        async with self.db.transaction() as session:
            customer = await session.get(Customer, self.customer_id)
            assert customer is not None
            return await self.engine.handle_event(
                session,
                customer=customer,
                conversation_id=self.conversation_id,
                channel_type=self.channel,
                kind=kind,
                payload=payload,
            )

    async def state(self) -> FlowState | None:
        async with self.db.session() as session:
            statement = select(FlowState).where(FlowState.customer_id == self.customer_id)
            return (await session.execute(statement)).scalars().first()

    async def customer(self) -> Customer:
        async with self.db.session() as session:
            customer = await session.get(Customer, self.customer_id)
            assert customer is not None
            return customer

    async def events(self, kind: str | None = None) -> list[CustomerEvent]:
        async with self.db.session() as session:
            statement = select(CustomerEvent).where(CustomerEvent.customer_id == self.customer_id)
            if kind is not None:
                statement = statement.where(CustomerEvent.kind == kind)
            return list((await session.execute(statement.order_by(CustomerEvent.id))).scalars())


async def new_customer(db: Database, **fields: Any) -> int:
    async with db.transaction() as session:
        customer = Customer(**fields)
        session.add(customer)
        await session.flush()
        assert customer.id is not None
        return customer.id


def texts(result: FlowResult) -> list[str]:
    return [reply.text for reply in result.replies]
