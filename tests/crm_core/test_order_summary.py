"""Order summaries on both backends: kept as order events are recorded, moved by a merge and its
undo, rebuilt from the events after events are deleted (an erasure does that), and filled for an
existing database by migration 0014."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from crm_core.columns import utcnow
from crm_core.customers import record_event, resolve_identity
from crm_core.merge import merge_customers, undo_merge
from crm_core.models import Customer, CustomerEvent, IdentityKind, MergeRecord
from crm_core.segments import OrderSummary, rebuild_order_summaries, rebuild_order_summary
from hub.db import Database
from hub.migrate import upgrade

NOW = utcnow().replace(microsecond=0)
Figures = tuple[int, float, datetime, datetime]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _customer(db: Database, phone: str) -> int:
    async with db.transaction() as session:
        found = await resolve_identity(session, IdentityKind.PHONE, phone, verified=True, source="t")
        return found.customer.id  # type: ignore[return-value]


async def _order(db: Database, customer_id: int, amount: Any, days_ago: float) -> None:
    async with db.transaction() as session:
        at = NOW - timedelta(days=days_ago)
        await record_event(session, customer_id, "order.created", {"amount": amount}, occurred_at=at)


async def _summaries(db: Database) -> dict[int, Figures]:
    async with db.session() as session:
        rows = (await session.execute(select(OrderSummary))).scalars().all()
    return {r.customer_id: (r.order_count, r.order_total, r.first_order_at, r.last_order_at) for r in rows}


async def test_orders_add_up_as_they_are_recorded(db: Database) -> None:
    ana = await _customer(db, "+34600000001")
    bob = await _customer(db, "+34600000002")
    await _order(db, ana, 10, days_ago=5)
    await _order(db, ana, 2.5, days_ago=30)  # recorded later, happened earlier
    await _order(db, ana, "n/a", days_ago=1)  # an order whose amount is not a number counts 0
    await _order(db, ana, True, days_ago=2)  # nor is a flag
    async with db.transaction() as session:
        await record_event(session, bob, "cart.abandoned", {"amount": 99})  # not an order
    assert await _summaries(db) == {
        ana: (4, 12.5, NOW - timedelta(days=30), NOW - timedelta(days=1)),
    }


async def test_a_rebuild_gives_what_recording_kept(db: Database) -> None:
    rng = random.Random(5)
    ids = [await _customer(db, f"+3460000{n:04d}") for n in range(12)]
    for _ in range(60):
        amount = rng.choice([round(rng.uniform(1, 300), 2), rng.randrange(1, 50), "free", None])
        await _order(db, rng.choice(ids[:9]), amount, days_ago=rng.uniform(0, 400))
    kept = await _summaries(db)
    async with db.transaction() as session:
        await session.execute(delete(OrderSummary))
        await rebuild_order_summaries(session)
    rebuilt = await _summaries(db)
    assert rebuilt.keys() == kept.keys() and len(kept) == 9
    for customer_id, (count, total, first, last) in kept.items():
        # Sums of the same amounts in another order may differ in the last bits of a float.
        assert rebuilt[customer_id] == (count, pytest.approx(total, rel=1e-12), first, last)


async def test_deleting_order_events_then_rebuilding_one_customer(db: Database) -> None:
    """What an erasure does: delete the customer's events, rebuild their summary."""
    ana = await _customer(db, "+34600000001")
    bob = await _customer(db, "+34600000002")
    await _order(db, ana, 40, days_ago=3)
    await _order(db, ana, 60, days_ago=9)
    await _order(db, bob, 5, days_ago=1)
    async with db.transaction() as session:
        latest = (
            await session.execute(
                select(CustomerEvent.id)
                .where(CustomerEvent.customer_id == ana)
                .order_by(CustomerEvent.occurred_at.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        ).scalar_one()
        await session.execute(delete(CustomerEvent).where(CustomerEvent.id == latest))  # type: ignore[arg-type]
        await rebuild_order_summary(session, ana)
    summaries = await _summaries(db)
    assert summaries[ana] == (1, 60.0, NOW - timedelta(days=9), NOW - timedelta(days=9))
    async with db.transaction() as session:
        await session.execute(delete(CustomerEvent).where(CustomerEvent.customer_id == ana))  # type: ignore[arg-type]
        await rebuild_order_summary(session, ana)
    assert await _summaries(db) == {bob: (1, 5.0, NOW - timedelta(days=1), NOW - timedelta(days=1))}


async def test_a_merge_moves_the_orders_and_its_undo_moves_them_back(db: Database) -> None:
    ana = await _customer(db, "+34600000001")
    bob = await _customer(db, "+34600000002")
    cy = await _customer(db, "+34600000003")
    await _order(db, ana, 100, days_ago=20)
    await _order(db, bob, 30, days_ago=50)
    await _order(db, bob, 20, days_ago=2)
    before = await _summaries(db)
    async with db.transaction() as session:
        merge_id = (await merge_customers(session, ana, bob, by="test")).id
    after_merge = await _summaries(db)
    assert after_merge == {ana: (3, 150.0, NOW - timedelta(days=50), NOW - timedelta(days=2))}
    # A customer without orders merged in changes nothing.
    async with db.transaction() as session:
        await merge_customers(session, ana, cy, by="test")
    assert await _summaries(db) == after_merge
    await _order(db, ana, 7, days_ago=0)  # recorded on the survivor after the merge: stays there
    async with db.transaction() as session:
        cy_merge = (
            await session.execute(select(MergeRecord.id).where(MergeRecord.merged_id == cy))
        ).scalar_one()
        await undo_merge(session, cy_merge, by="test")
        await undo_merge(session, merge_id, by="test")
    assert await _summaries(db) == {
        ana: (2, 107.0, NOW - timedelta(days=20), NOW),
        bob: before[bob],
    }


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_migration_fills_the_summaries_of_an_existing_database(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0013")

    async def existing_orders() -> dict[int, tuple[int, float]]:
        db = Database(empty_database_url)
        try:
            async with db.transaction() as session:
                customers = [Customer(display_name=name) for name in ("Ana", "Bob", "Cy")]
                session.add_all(customers)
                await session.flush()
                ana, bob, _ = (c.id for c in customers)
                # Written as rows, the way events got there before summaries existed.
                for customer_id, amount, days in ((ana, 12.5, 3), (ana, "x", 9), (bob, 40, 1)):
                    session.add(
                        CustomerEvent(
                            customer_id=customer_id,
                            kind="order.created",
                            payload={"amount": amount},
                            occurred_at=NOW - timedelta(days=days),
                        )
                    )
                session.add(CustomerEvent(customer_id=bob, kind="call.missed", payload={}))
            return {ana: (2, 12.5), bob: (1, 40.0)}  # type: ignore[dict-item]
        finally:
            await db.dispose()

    async def summaries() -> dict[int, Figures]:
        db = Database(empty_database_url)
        try:
            return await _summaries(db)
        finally:
            await db.dispose()

    expected = asyncio.run(existing_orders())
    upgrade(empty_database_url)
    found = asyncio.run(summaries())
    assert {k: v[:2] for k, v in found.items()} == expected
    ana = next(iter(expected))
    assert found[ana][2:] == (NOW - timedelta(days=9), NOW - timedelta(days=3))
