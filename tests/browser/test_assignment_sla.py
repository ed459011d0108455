"""Automatic assignment and SLA countdowns in a real browser against a live `hub serve` (shipped
flows, web chat): an agent of the support team goes online from the top bar; a customer asks the
bot for a person and the conversation is assigned to her live, with a notice; its countdown badge
turns amber when the first response is at risk, and the "SLA at risk" filter lists it.

Screenshots land in tests/artifacts/screenshots/ (30-*.png) for reviewers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import pages, running_hub
from tests.browser.test_demo_story import log_in

if TYPE_CHECKING:
    from tests.browser.conftest import HubServer

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], None]
OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def support(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """The hub with Ana in the support team and a first-response policy for web chat whose
    at-risk moment comes after a few seconds (1% of five minutes)."""
    with running_hub(tmp_path_factory.mktemp("sla")) as server:
        server.create_agent("admin@example.com", "Ada Admin", "admin")
        with server.api_client("admin@example.com") as admin:
            team = admin.post("/api/v1/teams", json={"name": "support"}).raise_for_status().json()
            ana = next(
                a for a in admin.get("/api/v1/agents").raise_for_status().json() if a["name"] == "Ana Agent"
            )
            admin.patch(f"/api/v1/agents/{ana['id']}", json={"team_id": team["id"]}).raise_for_status()
            admin.post(
                "/api/v1/sla-policies",
                json={
                    "name": "Web chat",
                    "channel_type": "webchat",
                    "first_response_minutes": 5,
                    "resolution_minutes": 600,
                    "at_risk_percent": 1,
                },
            ).raise_for_status()
        yield server


@pytest.fixture
def page(browser: Browser, support: HubServer) -> Iterator[OpenPage]:
    with pages(browser, support.url) as open_page:
        yield open_page


def visitor_asks_for_a_person(server: HubServer, name: str) -> None:
    """A web chat visitor asks the support bot for a person and says what it is about."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        session = client.post("/webchat/site/session", json={}).raise_for_status().json()
        headers = {"X-Webchat-Visitor": session["visitor_id"], "X-Webchat-Token": session["token"]}
        for number, text in enumerate(("I want to talk to a person", "My grinder arrived broken")):
            client.post(
                "/webhooks/webchat/site",
                headers=headers,
                json={
                    "type": "message",
                    "id": f"sla-{session['visitor_id'][:20]}-{number}",
                    "text": text,
                    "name": name,
                },
            ).raise_for_status()


def test_online_agent_gets_the_conversation_live_with_its_countdown(
    support: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    ana = page()
    log_in(ana, "agent@example.com", support.password)
    expect(ana.locator("#live-status")).to_have_text("Live")
    presence = ana.get_by_label("Presence")
    expect(presence).to_have_value("offline")
    presence.select_option("online")
    expect(ana.locator("#presence-box")).to_have_attribute("data-presence", "online")

    visitor_asks_for_a_person(support, "Olga Petrenko")

    # Handed off by the bot and given to Ana by round robin, live: the list row, the notice, "Mine".
    row = ana.locator("#conversation-list li").filter(has_text="Olga Petrenko")
    expect(row).to_be_visible()
    expect(ana.locator(".toast").filter(has_text="Assigned to you: Olga Petrenko")).to_be_visible()
    expect(ana.locator(".filter[data-view=mine] .count")).to_have_text("1")

    # The countdown to the first response, amber once 1% of its five minutes has gone.
    badge = row.locator(".chip--sla")
    expect(badge).to_contain_text(re.compile(r"\d+m left|\d+s left"))
    expect(badge).to_have_attribute("data-sla-state", "risk")

    # The "SLA at risk" filter lists it (the server decides), with its count.
    ana.get_by_label("SLA at risk").check()
    expect(ana.locator("#conversation-list li")).to_have_count(1)
    expect(row).to_be_visible()
    expect(ana.locator("[data-count=sla_at_risk]")).to_have_text("1")

    # The conversation's header shows the same countdown, and who has it.
    row.get_by_role("button").click()
    expect(ana.locator("#thread-meta")).to_contain_text("Assigned to You")
    expect(ana.locator("#thread-meta .chip--sla")).to_have_attribute("data-sla-state", "risk")
    screenshots(ana, "30-assignment-sla-countdown")

    # Answering stops the first-response clock: the badge counts down to the resolution instead.
    composer = ana.get_by_role("textbox", name="Reply to the customer")
    composer.fill("Hi Olga, sorry about the grinder! Let's sort it out.")
    composer.press("Enter")
    expect(ana.locator("#thread-meta .chip--sla")).to_contain_text(re.compile(r"\dh \d\dm left"))
    ana.get_by_label("SLA at risk").uncheck()
    expect(row.locator(".chip--sla")).to_have_attribute("data-sla-state", "ok")

    # Away: the next customer waits in the support queue instead.
    presence.select_option("away")
    expect(ana.locator("#presence-box")).to_have_attribute("data-presence", "away")
    visitor_asks_for_a_person(support, "Pavlo Shevchuk")
    waiting = ana.locator("#conversation-list li").filter(has_text="Pavlo Shevchuk")
    expect(waiting).to_be_visible()
    with support.api_client("agent@example.com") as client:
        me = client.get("/api/v1/workspace/me").raise_for_status().json()
        queue = client.get(f"/api/v1/teams/{me['team_id']}/queue").raise_for_status().json()
    assert [c["customer_name"] for c in queue["waiting"]] == ["Pavlo Shevchuk"]
    assert [(a["name"], a["presence"], a["load"]) for a in queue["agents"]] == [("Ana Agent", "away", 1)]
    screenshots(ana, "31-assignment-away-queue")
