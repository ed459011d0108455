"""A bot flow enrols the customer in a campaign (its ``campaign:`` step) through the real pipeline on
SQLite and PostgreSQL: the customer writes on Viber, the flow records their consent and enrols
them, and the journey's first message reaches the fake Viber server; a campaign that is not
launched, or that the customer already got, refuses with the reason on their timeline."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm_core.models import CustomerEvent
from hub.campaigns.models import CampaignJourney
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import client_for, drain, hub_config, settings_for, token_headers
from tests.fakes.viber_api import FakeViberApi

VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
_TOKENS = itertools.count(9_000_000_100)

FLOW = """
id: club
version: 1
description: Join the club - marketing consent, then the welcome series.
triggers:
  - keyword: join
start: opt_in
steps:
  opt_in:
    consent: {purpose: marketing, channel: current, granted: true}
    why: wrote "join"
    next: enrol
  enrol:
    campaign: welcome-series
    next: joined
    on_refused: later
  joined:
    say: "You're in, {{ name }}!"
  later:
    say: "Noted, {{ name }}."
"""

CAMPAIGNS = """
campaigns:
  - id: welcome-series
    name: Welcome series
    audience: {conditions: []}
    schedule: flow
    channels: [viber]
    steps:
      - send: welcome
        content: {default: "Welcome to the club, {{ name }}!"}
      - wait: 1d
      - send: tips
        content: {default: "Tips for you, {{ name }}."}
"""


@pytest.fixture
async def viber() -> AsyncIterator[FakeViberApi]:
    async with FakeViberApi(VIBER_TOKEN) as fake:
        yield fake


@pytest.fixture
async def hub(database_url: str, tmp_path: Path, viber: FakeViberApi) -> AsyncIterator[Hub]:
    flows = tmp_path / "flows"
    (flows / "campaigns").mkdir(parents=True)
    (flows / "club.yaml").write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
    (flows / "campaigns" / "welcome.yaml").write_text(textwrap.dedent(CAMPAIGNS).lstrip(), encoding="utf-8")
    channels = {"viber-main": {"type": "viber", "auth_token": VIBER_TOKEN, "api_base": viber.api_base}}
    config = hub_config(channels, flows_dir=str(flows), marketing={"quiet_hours": "off"})
    built = Hub.build(settings_for(database_url, tmp_path / "var"), config)
    await built.start(workers=False)
    await built.sync_definition_files()  # the file campaign, saved as a draft
    try:
        yield built
    finally:
        await built.stop()


async def writes(hub: Hub, text: str) -> None:
    """Ana writes on Viber (a signed callback through the real webhook), and it is processed."""
    payload: dict[str, Any] = {
        "event": "message",
        "timestamp": 1714557600456,
        "message_token": next(_TOKENS),
        "sender": {"id": "viber-ana", "name": "Ana", "language": "en", "country": "ES", "api_version": 8},
        "message": {"type": "text", "text": text},
    }
    body = json.dumps(payload).encode()
    signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Viber-Content-Signature": signature}
    async with client_for(hub) as http:
        response = await http.post("/webhooks/viber/viber-main", content=body, headers=headers)
        assert response.status_code == 200, response.text
    await drain(hub)


async def timeline(hub: Hub, kind: str) -> list[dict[str, Any]]:
    async with hub.db.session() as session:
        statement = select(CustomerEvent).where(CustomerEvent.kind == kind).order_by(CustomerEvent.id)
        return [e.payload for e in (await session.execute(statement)).scalars()]


async def test_a_flow_enrols_the_customer_and_the_first_message_arrives(
    hub: Hub, viber: FakeViberApi
) -> None:
    assert hub.campaigns is not None
    # Not launched yet: the flow is told why and takes its on_refused path.
    await writes(hub, "join")
    assert [r["text"] for r in viber.accepted] == ["Noted, Ana."]
    [refused] = await timeline(hub, "campaign.not_enrolled")
    assert refused["reason"] == "the campaign 'welcome-series' is draft: it takes customers once launched"

    marketer = await token_headers(hub, Role.MARKETER)
    async with client_for(hub) as http:
        response = await http.post("/api/v1/campaigns/welcome-series/launch", headers=marketer)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "scheduled"
    await writes(hub, "join")
    assert [r["text"] for r in viber.accepted][1:] == ["You're in, Ana!"]
    [enrolled] = await timeline(hub, "campaign.enrolled")
    assert enrolled == {"campaign": "welcome-series", "flow": "club", "step": "enrol"}

    # The campaigns round starts the journey: the welcome goes out as a campaign message.
    await hub.campaigns.tick()
    await drain(hub)
    assert [r["text"] for r in viber.accepted][2:] == ["Welcome to the club, Ana!"]
    async with hub.db.session() as session:
        [journey] = (await session.execute(select(CampaignJourney))).scalars().all()
    assert (journey.campaign_id, journey.step, journey.last_send) == ("welcome-series", "steps[1]", "welcome")

    # Entry once: joining again is refused, and the journey is not started twice.
    await writes(hub, "join")
    assert [r["text"] for r in viber.accepted][3:] == ["Noted, Ana."]
    reasons = [r["reason"] for r in await timeline(hub, "campaign.not_enrolled")]
    assert reasons[-1] == "the customer already got the campaign 'welcome-series' (entry rule)"
    async with client_for(hub) as http:
        funnel = (await http.get("/api/v1/campaigns/welcome-series/results", headers=marketer)).json()
    assert funnel["journeys"]["entered"] == 1 and funnel["steps"]["welcome"]["total"]["sent"] == 1
