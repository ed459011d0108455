"""The frequency cap holds when two worker processes send to the same customer at the same moment:
each send-time check locks the customer's contact row before counting, so the second check waits
for the first one's transaction and then sees its message. Two hubs on one database play the two
processes (separate engines, separate connections)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from crm_core.consent import set_consent
from crm_core.customers import resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.campaigns.models import CampaignSend, SendStatus
from hub.outbound.hooks import Drop, Send
from hub.outbound.models import OutboxItem
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import client_for, hub_config, settings_for, token_headers
from tests.fakes.viber_api import FakeViberApi

VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
OFFER = {
    "name": "Offer",
    "audience": {"conditions": [{"tag": "club"}]},
    "channels": ["viber"],
    "content": {"default": "An offer for {{ name }}."},
}


@pytest.fixture
async def viber() -> AsyncIterator[FakeViberApi]:
    async with FakeViberApi(VIBER_TOKEN) as fake:
        yield fake


@pytest.fixture
async def two_workers(
    database_url: str, tmp_path: Path, viber: FakeViberApi
) -> AsyncIterator[tuple[Hub, Hub]]:
    """Two hubs on one database, a cap of one marketing message a day, two campaigns planned for
    the same customer (their outbox rows wait)."""
    channels = {"viber-main": {"type": "viber", "auth_token": VIBER_TOKEN, "api_base": viber.api_base}}
    config = hub_config(channels, marketing={"quiet_hours": "off", "frequency_cap": {"per_day": 1}})
    hubs = [Hub.build(settings_for(database_url, tmp_path / f"var{i}"), config) for i in range(2)]
    for hub in hubs:
        await hub.start(workers=False)
    first = hubs[0]
    async with first.db.transaction() as session:
        ana = (
            await resolve_identity(session, IdentityKind.VIBER, "viber-ana", verified=True, source="t")
        ).customer
        ana.display_name = "Ana"
        await set_tags(session, ana, ["club"])
        await set_consent(session, ana.id, "viber", "marketing", True, source="t")
    marketer = await token_headers(first, Role.MARKETER)
    async with client_for(first) as http:
        for campaign_id in ("one", "two"):
            response = await http.put(f"/api/v1/campaigns/{campaign_id}", json=OFFER, headers=marketer)
            assert response.status_code == 200, response.text
            response = await http.post(f"/api/v1/campaigns/{campaign_id}/launch", headers=marketer)
            assert response.status_code == 200, response.text
    assert first.campaigns is not None
    await first.campaigns.tick()
    try:
        yield hubs[0], hubs[1]
    finally:
        for hub in hubs:
            await hub.stop()


async def payloads(hub: Hub) -> list[dict[str, Any]]:
    async with hub.db.session() as session:
        rows = (await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars().all()
    return [row.payload for row in rows]


async def lock_waiters(hub: Hub) -> int:
    """Sessions of this database waiting for a row lock right now (PostgreSQL)."""
    async with hub.db.session() as session:
        statement = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int((await session.execute(statement)).scalar_one())


async def test_a_second_check_for_the_same_customer_waits_for_the_first_and_is_capped(
    two_workers: tuple[Hub, Hub], database_url: str
) -> None:
    first, second = two_workers
    assert first.campaigns is not None and second.campaigns is not None
    one, two = await payloads(first)
    postgres = database_url.startswith("postgresql")
    waited = False
    async with first.db.transaction() as session:
        assert isinstance(await first.campaigns.delivery.check(session, one), Send)

        async def check_in_the_other_worker() -> Any:
            async with second.db.transaction() as other:
                return await second.campaigns.delivery.check(other, two)  # type: ignore[union-attr]

        checking = asyncio.create_task(check_in_the_other_worker())
        # Until the other worker is seen waiting for our lock (or has finished, which the old
        # count-then-send check did at once), then our transaction commits.
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if checking.done():
                break
            if postgres and await lock_waiters(first) > 0:
                waited = True
                break
            if not postgres:
                break  # SQLite: the other transaction cannot begin before ours ends
        assert not checking.done(), "the second check did not wait for the first"
    verdict = await checking
    assert verdict == Drop("frequency_cap")
    if postgres:
        assert waited


async def test_two_dispatchers_sending_at_once_send_one_message(
    two_workers: tuple[Hub, Hub], viber: FakeViberApi
) -> None:
    first, second = two_workers
    for hub in (first, second):
        hub.dispatcher.batch_size = 1  # each worker claims one of the two rows
    await asyncio.gather(first.dispatcher.dispatch_due(), second.dispatcher.dispatch_due())
    assert [r["text"] for r in viber.accepted] == ["An offer for Ana."]
    async with first.db.session() as session:
        sends = (await session.execute(select(CampaignSend))).scalars().all()
    assert sorted((s.status, s.reason) for s in sends) == sorted(
        [(SendStatus.SENT, None), (SendStatus.SKIPPED, "frequency_cap")]
    )
