"""The supervisors' reports page in a real browser against a live `hub serve`: a database filled by
`hub seed`, web chat visitors who talk to the shipped support flow (handed to people) and rate the
help through the shipped feedback flow, and CSAT ratings posted as business events. The supervisor
sees the headline figures equal to the API's, the charts drawn as SVG with one bar per day, 168
heatmap cells and five CSAT bars, changes the range and filters, downloads a table as CSV and reads
it all in Spanish. An agent gets the 403 page.

Screenshots land in tests/artifacts/screenshots/reports-*.png for reviewers.
"""

from __future__ import annotations

import csv
import io
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import pages, running_hub
from tests.browser.test_demo_story import conversation_id, log_in

if TYPE_CHECKING:
    from tests.browser.conftest import HubServer

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], None]
OpenPage = Callable[..., Page]
SUPERVISOR = "sam@example.com"
NEWSLETTER = {"name": "Newsletter", "conditions": [{"tag": "newsletter"}]}
WINTER = {
    "name": "Winter blend",
    "audience": "newsletter",
    "channels": ["webchat"],
    "content": {"default": {"en": "Hi {{ name }}! Our winter blend is here."}},
    "variants": [
        {"id": "a", "weight": 50},
        {"id": "b", "weight": 50, "content": {"default": {"en": "Winter blend: 10% off this week."}}},
    ],
}


class ChatVisitor:
    """A web chat visitor who writes, each time waiting until the bot has answered."""

    def __init__(self, server: HubServer, name: str) -> None:
        self.client = httpx.Client(base_url=server.url, timeout=10)
        self.name = name
        session = self.client.post("/webchat/site/session", json={}).raise_for_status().json()
        self.headers = {"X-Webchat-Visitor": session["visitor_id"], "X-Webchat-Token": session["token"]}

    def replies(self) -> list[str]:
        history = self.client.get("/webchat/site/messages", headers=self.headers).raise_for_status().json()
        return [message["text"] for message in history if message["direction"] == "outbound"]

    def says(self, text: str, *, answered_by: str) -> None:
        self.client.post(
            "/webhooks/webchat/site",
            headers=self.headers,
            json={"type": "message", "id": uuid.uuid4().hex, "text": text, "name": self.name},
        ).raise_for_status()
        self.waits_for(answered_by)

    def waits_for(self, text: str) -> None:
        deadline = time.monotonic() + 15
        while not any(text in reply for reply in self.replies()):
            assert time.monotonic() < deadline, f"no reply with {text!r}: {self.replies()}"
            time.sleep(0.2)


def sent(marketer: httpx.Client) -> int:
    variants = marketer.get("/api/v1/campaigns/winter/results").raise_for_status().json()["variants"]
    return int(variants.get("total", {}).get("sent", 0))


@pytest.fixture(scope="module")
def reports_hub(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with running_hub(tmp_path_factory.mktemp("reports")) as server:
        server.create_agent(SUPERVISOR, "Sam Supervisor", "supervisor")
        server.cli("seed", "--customers", "400", "--messages", "4000", "--agents", "6")
        # Visitors ask the support bot for a person (the shipped support flow hands them over);
        # the supervisor answers and resolves; the shipped feedback flow asks for a rating.
        with server.api_client(SUPERVISOR) as supervisor:
            for name, rating in (("Lucia Reyes", "5"), ("Marco Silva", "4"), ("Ines Duarte", "2")):
                visitor = ChatVisitor(server, name)
                visitor.says("talk to a person", answered_by="In a few words")
                visitor.says("My order 1042 has not arrived", answered_by="passing you to our team")
                conversation = conversation_id(supervisor, name)
                supervisor.post(
                    f"/api/v1/conversations/{conversation}/messages", json={"text": "Sorted, sorry!"}
                ).raise_for_status()
                supervisor.post(
                    f"/api/v1/conversations/{conversation}/status", json={"status": "resolved"}
                ).raise_for_status()
                visitor.waits_for("How would you rate our help")
                visitor.says(rating, answered_by="Anything you'd like to tell us")
                visitor.says("no", answered_by="for your feedback" if int(rating) >= 4 else "for telling us")
                visitor.client.close()
            # Ratings from customers of the seeded history, as a survey tool would post them.
            rng = random.Random(3)
            for customer_id in rng.sample(range(1, 401), 60):
                rated = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
                supervisor.post(
                    "/api/v1/events",
                    json={"kind": "csat.submitted", "customer_id": customer_id, "payload": {"rating": rated}},
                ).raise_for_status()
            # A campaign to part of them on the website chat, so the funnels have something to show.
            for customer_id in range(1, 41):
                supervisor.patch(
                    f"/api/v1/customers/{customer_id}", json={"add_tags": ["newsletter"]}
                ).raise_for_status()
                if customer_id % 5:
                    supervisor.post(
                        f"/api/v1/customers/{customer_id}/consents",
                        json={
                            "channel": "webchat",
                            "purpose": "marketing",
                            "granted": True,
                            "source": "web form",
                        },
                    ).raise_for_status()
        server.create_agent("mia@example.com", "Mia Marketer", "marketer")
        with server.api_client("mia@example.com") as marketer:
            marketer.put("/api/v1/segments/newsletter", json=NEWSLETTER).raise_for_status()
            marketer.put("/api/v1/campaigns/winter", json=WINTER).raise_for_status()
            marketer.post("/api/v1/campaigns/winter/launch").raise_for_status()
            deadline = time.monotonic() + 30
            # The server's campaign round plans and sends it in the background.
            while sent(marketer) < 32:
                assert time.monotonic() < deadline, marketer.get("/api/v1/campaigns/winter/results").text
                time.sleep(0.5)
        yield server


@pytest.fixture
def page(browser: Browser, reports_hub: HubServer) -> Iterator[OpenPage]:
    with pages(browser, reports_hub.url) as open_page:
        yield open_page


def api(server: HubServer, name: str, **params: str) -> dict[str, Any]:
    with server.api_client(SUPERVISOR) as client:
        return client.get(f"/api/v1/reports/{name}", params=params).raise_for_status().json()


def loaded(page: Page) -> None:
    expect(page.locator("#report")).to_have_attribute("aria-busy", "false")


def values(page: Page, selector: str) -> list[int]:
    return [int(v) for v in page.locator(selector).evaluate_all("nodes => nodes.map(n => n.dataset.value)")]


def test_a_supervisor_reads_the_reports(
    reports_hub: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    sam = page(viewport={"width": 1360, "height": 900})
    log_in(sam, SUPERVISOR, reports_hub.password)
    expect(sam).to_have_url(f"{reports_hub.url}/inbox")
    sam.goto("/reports")
    loaded(sam)

    times = api(reports_hub, "response-times")
    conversations = times["summary"]["conversations"]
    assert conversations > 0
    tile = sam.locator('[data-kpi="conversations"]')
    expect(tile.locator(".rp-kpi-value")).to_have_text(f"{conversations:,}")
    expect(tile).to_have_attribute("data-value", str(conversations))
    expect(sam.locator('[data-kpi="fcr"] .rp-kpi-value')).to_have_text(
        f"{times['summary']['first_contact_resolution'] * 100:.1f}%".replace(".0%", "%")
    )

    daily = api(reports_hub, "volume-daily")
    assert values(sam, "#chart-conversations rect.rp-bar") == [row["conversations"] for row in daily["rows"]]
    assert len(daily["rows"]) == 30
    expect(sam.locator("#chart-messages polyline")).to_have_count(3)
    heatmap = api(reports_hub, "volume-heatmap")
    assert values(sam, "#chart-volume-heatmap rect.rp-cell") == [
        row["customer_messages"] for row in heatmap["rows"]
    ]
    csat = api(reports_hub, "csat")
    assert csat["summary"]["responses"] >= 63  # the posted ones and the three from the feedback flow
    assert values(sam, "#chart-csat rect.rp-bar") == [row["responses"] for row in reversed(csat["rows"])]
    bot = api(reports_hub, "bot-handoffs")
    assert bot["summary"]["handed_off"] == 3
    expect(sam.locator("#table-bot-handoffs tbody tr")).to_have_count(len(bot["rows"]))
    expect(sam.locator("#table-agents tbody tr")).to_have_count(len(api(reports_hub, "agents")["rows"]))
    funnels = api(reports_hub, "campaigns")
    assert [row["variant"] for row in funnels["rows"]] == ["a", "b", "total"]
    expect(sam.locator("#chart-campaigns g.rp-funnel")).to_have_count(3)
    planned = values(sam, '#chart-campaigns rect[data-step="planned"]')
    assert planned == [row["planned"] for row in funnels["rows"]] and planned[-1] == 40
    assert values(sam, '#chart-campaigns rect[data-step="sent"]') == [row["sent"] for row in funnels["rows"]]
    screenshots(sam, "reports-30-days")
    sam.screenshot(path=str(_artifact("reports-30-days-full")), full_page=True)

    # Seven days: seven bars, the same figures as the API's for those days.
    sam.get_by_role("button", name="7 days").click()
    loaded(sam)
    today = date.fromisoformat(daily["to"])
    week = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}
    expect(sam.locator("#chart-conversations rect.rp-bar")).to_have_count(7)
    assert values(sam, "#chart-conversations rect.rp-bar") == [
        r["conversations"] for r in api(reports_hub, "volume-daily", **week)["rows"]
    ]

    # A custom range and a team.
    sam.get_by_role("button", name="Custom").click()
    sam.locator("#range-from").fill((today - timedelta(days=13)).isoformat())
    sam.locator("#range-to").fill(today.isoformat())
    sam.get_by_role("button", name="Apply").click()
    expect(sam.locator("#chart-conversations rect.rp-bar")).to_have_count(14)
    teams = {
        option.strip(): value
        for option, value in zip(
            sam.locator("#filter-team option").all_inner_texts(),
            sam.locator("#filter-team option").evaluate_all("o => o.map(x => x.value)"),
            strict=True,
        )
    }
    sam.locator("#filter-team").select_option(teams["Support"])
    loaded(sam)
    scoped = api(
        reports_hub,
        "response-times",
        **{
            "from": (today - timedelta(days=13)).isoformat(),
            "to": today.isoformat(),
            "team_id": teams["Support"],
        },
    )
    expect(sam.locator('[data-kpi="conversations"]')).to_have_attribute(
        "data-value", str(scoped["summary"]["conversations"])
    )
    screenshots(sam, "reports-custom-range-team")

    # Each table downloads as CSV with the page's filters.
    with sam.expect_download() as download:
        sam.locator("#card-agents .rp-csv").click()
    file = download.value
    assert (
        file.suggested_filename
        == f"omnihub-agents-{(today - timedelta(days=13)).isoformat()}-to-{today.isoformat()}.csv"
    )
    with open(file.path(), encoding="utf-8") as downloaded:
        header, *rows = list(csv.reader(io.StringIO(downloaded.read())))
    scoped_agents = api(
        reports_hub,
        "agents",
        **{
            "from": (today - timedelta(days=13)).isoformat(),
            "to": today.isoformat(),
            "team_id": teams["Support"],
        },
    )
    assert header == [column["key"] for column in scoped_agents["columns"]]
    assert len(rows) == len(scoped_agents["rows"])

    # In Spanish.
    sam.locator("#language").select_option("es")
    expect(sam.locator('[data-kpi="conversations"] .rp-kpi-label')).to_have_text("Conversaciones")
    expect(sam.locator("#h-csat")).to_have_text("Satisfacción del cliente")
    screenshots(sam, "reports-es")
    sam.locator("#language").select_option("en")
    expect(sam.locator("#h-csat")).to_have_text("Customer satisfaction")


def test_phone_width(reports_hub: HubServer, page: OpenPage, screenshots: Screenshot) -> None:
    sam = page(viewport={"width": 390, "height": 844})
    log_in(sam, SUPERVISOR, reports_hub.password)
    expect(sam).to_have_url(f"{reports_hub.url}/inbox")
    sam.goto("/reports")
    loaded(sam)
    expect(sam.locator("#chart-volume-heatmap rect.rp-cell")).to_have_count(168)
    screenshots(sam, "reports-phone")


def test_an_agent_gets_the_403_page(reports_hub: HubServer, page: OpenPage, screenshots: Screenshot) -> None:
    ana = page()
    log_in(ana, "agent@example.com", reports_hub.password)
    expect(ana).to_have_url(f"{reports_hub.url}/inbox")
    response = ana.goto("/reports")
    assert response is not None and response.status == 403
    expect(ana.locator("h1")).to_have_text("Reports is not for your role")
    screenshots(ana, "reports-403-agent")


def _artifact(name: str) -> Any:
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
