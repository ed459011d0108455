"""Campaigns sent by real `hub worker` processes on PostgreSQL, with one of them killed.

- A broadcast to a few hundred customers, two workers planning and sending it; one is SIGKILLed
  while it has messages on the wire (the provider holds them unanswered, as a slow provider would)
  and started again. Every customer gets exactly one message and the campaign's results add up.
- A scheduled campaign survives a restart: the process that would have run it is killed before its
  time, and with two processes running afterwards it fires once.

The provider is the fake Twilio Messages API, spoken to by the real twilio SDK. A message counts as
delivered when the provider answered it to a worker that was still there to hear the answer: a
request whose worker died before the answer was never acted on (the one case that does repeat a
message — the provider acting, then the worker dying before its commit — is documented in
docs/architecture.md and not played here).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select

from crm_core.customers import resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.campaigns import jobs
from hub.campaigns.models import CampaignRun, CampaignSend, SendStatus
from hub.migrate import upgrade
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.runtime import Hub
from hub.scheduler.tables import FireState, fires_table
from inbox.models import Role
from tests.conftest import client_for, hub_config, make_pg_database, settings_for, token_headers
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.processes import HubProcesses

pytestmark = pytest.mark.postgres

SEGMENT = {"name": "Order updates", "conditions": [{"tag": "orders"}]}


class HeldTwilio(FakeTwilioApi):
    """The Twilio fake, answering the first ``answer_first`` message requests at once and holding
    the next ones until ``release()``. ``delivered`` lists the To number of every message answered
    to a worker that was still connected."""

    def __init__(self) -> None:
        super().__init__()
        self.answer_first: int | None = None
        self.arrived = 0
        self.delivered: list[str] = []
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def _create_message(self, request: web.Request) -> web.Response:
        self.arrived += 1
        if self.answer_first is not None and self.arrived > self.answer_first:
            await self._released.wait()
        response = await super()._create_message(request)
        if response.status == 201 and request.transport is not None and not request.transport.is_closing():
            self.delivered.append(self.requests[-1].param("To") or "")
        return response


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, drop = make_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop()


@pytest.fixture
async def twilio() -> AsyncIterator[HeldTwilio]:
    fake = HeldTwilio()
    async with fake:
        yield fake


def sms_channels(twilio: HeldTwilio) -> dict[str, Any]:
    return {
        "sms-main": {
            "type": "sms",
            "provider": "twilio",
            "from": "+15005550006",
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "api_base": twilio.base_url,
            # What a Twilio short code sends; the number's default (1 per second) would make the
            # test minutes long.
            "rate_per_second": 200,
        }
    }


async def setup_campaign(hub: Hub, customers: int, campaign: dict[str, Any]) -> list[str]:
    """Customers tagged for order updates with a phone each, the segment and the campaign, launched
    through the API. Returns the customers' phone numbers."""
    phones = [f"+1415555{n:04d}" for n in range(customers)]
    async with hub.db.transaction() as session:
        for n, phone in enumerate(phones):
            found = await resolve_identity(session, IdentityKind.PHONE, phone, verified=True, source="test")
            found.customer.display_name = f"Customer {n}"
            session.add(found.customer)
            await set_tags(session, found.customer, ["orders"])
    marketer = await token_headers(hub, Role.MARKETER)
    async with client_for(hub) as http:
        response = await http.put("/api/v1/segments/orders", json=SEGMENT, headers=marketer)
        assert response.status_code == 200, response.text
        response = await http.put("/api/v1/campaigns/shipping", json=campaign, headers=marketer)
        assert response.status_code == 200, response.text
        response = await http.post("/api/v1/campaigns/shipping/launch", headers=marketer)
        assert response.status_code == 200, response.text
    return phones


async def results(hub: Hub) -> dict[str, Any]:
    marketer = await token_headers(hub, Role.MARKETER, name="results")
    async with client_for(hub) as http:
        response = await http.get("/api/v1/campaigns/shipping/results", headers=marketer)
        assert response.status_code == 200, response.text
        return dict(response.json()["variants"]["total"])


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def count(hub: Hub, statement: Any) -> int:
    async with hub.db.session() as session:
        return int((await session.execute(statement)).scalar_one())


def start_worker(processes: HubProcesses, name: str) -> subprocess.Popen[bytes]:
    # A short lease, so the dead worker's claims are taken over soon. The live worker keeps
    # extending its own while the provider holds its requests.
    lease = {"HUB_WORKER_ID": name, "HUB_OUTBOX_LEASE_SECONDS": "4"}
    return processes.start("worker", name=name, env=lease)


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


async def test_a_worker_killed_mid_campaign_loses_nothing_and_sends_nothing_twice(
    pg_url: str, tmp_path: Path, twilio: HeldTwilio
) -> None:
    customers = 300
    campaign = {
        "name": "Shipping notice",
        "purpose": "transactional",
        "audience": "orders",
        "channels": ["sms"],
        "content": {"default": {"en": "Hi {{ name }}, your order ships today."}},
    }
    hub = Hub.build(settings_for(pg_url, tmp_path / "var"), hub_config(sms_channels(twilio)))
    await hub.start(workers=False)
    processes = HubProcesses(tmp_path, pg_url, sms_channels(twilio))
    try:
        phones = await setup_campaign(hub, customers, campaign)
        twilio.answer_first = 60
        worker_a = start_worker(processes, "worker-a")
        start_worker(processes, "worker-b")
        sent = select(func.count()).select_from(OutboxItem).where(OutboxItem.status == OutboxStatus.SENT)
        a_holds = (
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.status == OutboxStatus.SENDING, OutboxItem.claimed_by == "worker-a")
        )

        async def mid_campaign() -> bool:
            # 60 answered and recorded; more on the wire, some of them worker-a's.
            return (
                len(twilio.delivered) == 60
                and twilio.arrived >= 70
                and await count(hub, sent) == 60
                and await count(hub, a_holds) > 0
            )

        await wait_for(mid_campaign, 90, "the workers to be mid-campaign with worker-a holding messages")
        on_the_wire = twilio.arrived - 60
        kill(worker_a)
        # Let the provider's event loop see the dead worker's connections close before it answers
        # what it held: those requests were never acted on.
        await asyncio.sleep(0.5)
        twilio.release()
        start_worker(processes, "worker-a")

        async def all_sent() -> bool:
            return await count(hub, sent) == customers

        await wait_for(all_sent, 120, "every campaign message to be sent")
        assert on_the_wire >= 10
        repeated = sorted({phone for phone in twilio.delivered if twilio.delivered.count(phone) > 1})
        assert repeated == [], f"sent twice: {repeated}"
        missing = sorted(set(phones) - set(twilio.delivered))
        assert missing == [], f"{len(missing)} customers got nothing, e.g. {missing[:3]}"
        assert sorted(twilio.delivered) == sorted(phones), f"{len(twilio.delivered)} deliveries"
        funnel = await results(hub)
        assert funnel["planned"] == funnel["sent"] == customers
        assert funnel["skipped"] == {} and funnel["failed"] == {} and funnel["queued"] == 0
    finally:
        processes.stop()
        await hub.stop()


async def test_a_scheduled_campaign_survives_a_restart_and_fires_once_with_two_processes(
    pg_url: str, tmp_path: Path, twilio: HeldTwilio
) -> None:
    customers = 20
    at = datetime.now(UTC) + timedelta(seconds=15)
    campaign = {
        "name": "Shipping notice",
        "purpose": "transactional",
        "audience": "orders",
        "schedule": {"at": at.isoformat()},
        "channels": ["sms"],
        "content": {"default": {"en": "Hi {{ name }}, your order ships today."}},
    }
    hub = Hub.build(settings_for(pg_url, tmp_path / "var"), hub_config(sms_channels(twilio)))
    await hub.start(workers=False)
    processes = HubProcesses(tmp_path, pg_url, sms_channels(twilio))
    try:
        phones = await setup_campaign(hub, customers, campaign)
        first = start_worker(processes, "worker-a")

        async def running() -> bool:
            return " running" in (tmp_path / "worker-a.log").read_text(errors="replace")

        await wait_for(running, 60, "the first worker to run")
        kill(first)  # the restart: before the campaign's time, the only process dies
        assert datetime.now(UTC) < at
        start_worker(processes, "worker-a")
        start_worker(processes, "worker-b")
        sent = select(func.count()).select_from(CampaignSend).where(CampaignSend.status == SendStatus.SENT)

        async def all_sent() -> bool:
            return await count(hub, sent) == customers

        await wait_for(all_sent, 90, "the scheduled campaign to be sent")
        assert sorted(twilio.delivered) == sorted(phones), "each customer exactly one message"
        async with hub.db.session() as session:
            runs = (await session.execute(select(CampaignRun.key))).scalars().all()
            fires = (
                await session.execute(
                    select(fires_table.c.state).where(fires_table.c.job_id == jobs.job_id("shipping"))
                )
            ).scalars()
        assert len(runs) == 1, runs
        assert list(fires) == [FireState.DONE], "the campaign's time fired once"
        funnel = await results(hub)
        assert funnel["planned"] == funnel["sent"] == customers
    finally:
        processes.stop()
        await hub.stop()
