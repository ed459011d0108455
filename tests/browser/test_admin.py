"""The admin screens in a real browser against a live `hub serve`: an admin sees each channel's health
and webhook URL, a flow's diagram, creates a supervisor, revokes a token (which then stops working),
edits business hours and an SLA policy, reads the audit log of all that, and exports and erases a
customer; an agent and a marketer get the 403 page at /admin, an agent at /campaigns too.

Screenshots of every tab land in tests/artifacts/screenshots/admin-*.png for reviewers.
"""

from __future__ import annotations

import json
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

API_SECRET = "api-channel-secret-for-the-admin-test"
TELEGRAM_TOKEN = "123456789:TEST-token_for-the-admin-test"
# A custom API channel, and a Telegram bot whose API (port 9: nothing listens) cannot be reached.
CHANNELS = (
    "  app:\n"
    "    type: api\n"
    f"    secret: {API_SECRET}\n"
    "    callback_url: https://app.example.com/omnihub\n"
    "  main:\n"
    "    type: telegram\n"
    f'    token: "{TELEGRAM_TOKEN}"\n'
    "    webhook_secret: tg-webhook-secret\n"
    "    api_base: http://127.0.0.1:9\n"
)


@pytest.fixture(scope="module")
def admin_hub(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with running_hub(tmp_path_factory.mktemp("admin"), CHANNELS) as server:
        server.create_agent("admin@example.com", "Ada Admin", "admin")
        server.create_agent("marketer@example.com", "Mark Marketer", "marketer")
        server.visitor_writes("Hello, is my order on its way?", "Lena Fischer", "lena-fischer-0001")
        yield server


@pytest.fixture
def page(browser: Browser, admin_hub: HubServer) -> Iterator[OpenPage]:
    with pages(browser, admin_hub.url) as open_page:
        yield open_page


def shot(page: Page, screenshots: Screenshot, name: str) -> None:
    """A picture of the whole tab from its top, without the transient notices over it."""
    page.evaluate(
        "document.querySelectorAll('.toast').forEach((toast) => toast.remove()); window.scrollTo(0, 0)"
    )
    screenshots(page, name)


def signed_in(page: OpenPage, email: str, password: str) -> Page:
    opened = page()
    log_in(opened, email, password)
    opened.wait_for_url(re.compile(r"/(inbox|campaigns)"))
    return opened


def test_agents_and_marketers_get_the_403_page(
    admin_hub: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    agent = signed_in(page, "agent@example.com", admin_hub.password)
    for path in ("/admin", "/campaigns"):
        response = agent.goto(path)
        assert response is not None and response.status == 403, path
        expect(agent.locator("h1")).to_contain_text("is not for your role")
    screenshots(agent, "admin-403-agent")
    marketer = signed_in(page, "marketer@example.com", admin_hub.password)
    response = marketer.goto("/admin")
    assert response is not None and response.status == 403
    expect(marketer.locator("main")).to_contain_text("settings:manage")


def test_an_admin_goes_through_every_tab(
    admin_hub: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    with admin_hub.api_client("admin@example.com") as api:
        old_token = (
            api.post("/api/v1/tokens", json={"name": "old crm sync", "role": "agent"})
            .raise_for_status()
            .json()
        )
        api.post("/api/v1/teams", json={"name": "Support"}).raise_for_status()
        weekdays = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
        hours = {"timezone": "Europe/Kyiv", "weekly": weekdays, "holidays": []}
        api.put("/api/v1/business-hours", json=hours).raise_for_status()
    admin = signed_in(page, "admin@example.com", admin_hub.password)
    admin.goto("/admin")

    # Channels: the webhook URL to paste, and the Telegram account that cannot reach its API.
    site = admin.locator('.adm-channel[data-account="site"]')
    expect(site.locator(".adm-code")).to_have_text(f"{admin_hub.url}/webhooks/webchat/site")
    expect(site).to_contain_text("Events (24 h)")
    expect(admin.locator('.adm-channel[data-account="app"] .adm-code')).to_have_text(
        f"{admin_hub.url}/webhooks/api/app"
    )
    telegram = admin.locator('.adm-channel[data-account="main"]')
    expect(telegram).to_have_attribute("data-status", "problem")
    expect(telegram.locator(".adm-problems")).to_contain_text("Telegram")
    expect(admin.locator(".adm-notice[data-kind=bad]").first).to_contain_text("public_url")
    expect(admin.get_by_role("button", name="Check with providers")).to_be_enabled()
    assert API_SECRET not in admin.content() and TELEGRAM_TOKEN not in admin.content()
    shot(admin, screenshots, "admin-channels")

    # Flows: valid, with the support flow's diagram drawn.
    admin.locator('.adm-tab[data-tab="flows"]').click()
    expect(admin.locator(".adm-notice[data-kind=ok]")).to_contain_text("valid")
    admin.locator('.adm-flow[data-flow="support"]').click()
    diagram = admin.locator("img.adm-diagram")
    expect(diagram).to_be_visible()
    admin.wait_for_function("document.querySelector('img.adm-diagram').naturalWidth > 0")
    shot(admin, screenshots, "admin-flows")

    admin.locator('.adm-tab[data-tab="campaigns"]').click()
    expect(admin.locator(".adm-title")).to_have_text("Campaigns")
    shot(admin, screenshots, "admin-campaigns")

    # Agents & teams: invite a supervisor into the support team.
    admin.locator('.adm-tab[data-tab="people"]').click()
    invite = admin.get_by_role("form", name="Invite someone")
    invite.get_by_label("Name").fill("Sam Supervisor")
    invite.get_by_label("Email").fill("sam@example.com")
    invite.get_by_label("Role").select_option("supervisor")
    invite.get_by_label("Team").select_option(label="Support")
    invite.get_by_role("button", name="Create account").click()
    sam = admin.locator('tr[data-agent="sam@example.com"]')
    expect(sam.get_by_label("Role of Sam Supervisor")).to_have_value("supervisor")
    expect(admin.locator('.adm-team[data-team="Support"]')).to_contain_text("1 active member")
    shot(admin, screenshots, "admin-people")

    # API tokens: revoke the old one; it stops working. A new one shows its secret once.
    admin.locator('.adm-tab[data-tab="tokens"]').click()
    row = admin.locator('tr[data-token="old crm sync"]')
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke old crm sync").click()
    expect(row).to_contain_text("Revoked")
    refused = httpx.get(
        f"{admin_hub.url}/api/v1/customers", headers={"Authorization": f"Bearer {old_token['token']}"}
    )
    assert refused.status_code == 401
    create = admin.get_by_role("form", name="New token")
    create.get_by_label("Name").fill("reports export")
    create.get_by_role("button", name="Create token").click()
    expect(admin.locator(".adm-secret")).to_have_text(re.compile(r"^oh_"))
    shot(admin, screenshots, "admin-tokens")

    # Business hours: open on Saturday mornings too, closed on Christmas.
    admin.locator('.adm-tab[data-tab="hours"]').click()
    saturday = admin.locator('.adm-day[data-day="sat"]')
    saturday.get_by_role("button", name="+ Hours").click()
    saturday.get_by_label("Opens").fill("10:00")
    saturday.get_by_label("Closes").fill("14:00")
    admin.get_by_label("Holiday date").fill("2026-12-25")
    admin.get_by_role("button", name="Add holiday").click()
    admin.get_by_role("button", name="Save business hours").click()
    expect(admin.locator(".toast").filter(has_text="Saved")).to_be_visible()
    with admin_hub.api_client("admin@example.com") as api:
        hours = api.get("/api/v1/business-hours").raise_for_status().json()
    assert hours["weekly"]["sat"] == ["10:00-14:00"] and hours["weekly"]["mon"] == ["09:00-18:00"]
    assert hours["timezone"] == "Europe/Kyiv" and hours["holidays"] == ["2026-12-25"]
    shot(admin, screenshots, "admin-hours")

    # SLA policies: urgent chats answered within 15 minutes.
    admin.locator('.adm-tab[data-tab="sla"]').click()
    form = admin.get_by_role("form", name="New policy")
    form.get_by_label("Name").fill("Urgent chats")
    form.get_by_label("Priority").select_option("urgent")
    form.get_by_label("First response").fill("15")
    form.get_by_label("Resolution").fill("240")
    form.get_by_role("button", name="Create policy").click()
    policy = admin.locator('tr[data-policy="Urgent chats"]')
    expect(policy).to_contain_text("15 min")
    expect(policy).to_contain_text("4 h")
    shot(admin, screenshots, "admin-sla")

    # The audit log has all of it, newest first; filtered to token changes.
    admin.locator('.adm-tab[data-tab="audit"]').click()
    log = admin.locator(".adm-table tbody")
    for action in ("agent.create", "token.revoke", "token.create", "team.create"):
        expect(log.locator(f'tr[data-action="{action}"]').first).to_be_visible()
    expect(log.locator("tr").first).to_contain_text("Ada Admin")
    admin.get_by_label("Action").select_option("token.revoke")
    expect(log.locator("tr")).to_have_count(1)
    expect(log).to_contain_text("API token revoked")
    admin.get_by_label("Action").select_option("")
    expect(log.locator('tr[data-action="agent.create"]')).to_be_visible()
    shot(admin, screenshots, "admin-audit")

    # Privacy: Lena's data as a file, then erased.
    admin.locator('.adm-tab[data-tab="privacy"]').click()
    admin.get_by_role("searchbox").fill("Lena")
    admin.get_by_role("button", name="Find").click()
    admin.locator(".adm-result").first.click()
    expect(admin.locator(".adm-customer h2")).to_contain_text("Lena Fischer")
    with admin.expect_download() as download:
        admin.get_by_role("link", name="Download JSON").click()
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert exported["customer"]["name"] == "Lena Fischer"
    assert "Hello, is my order on its way?" in [
        m["text"] for c in exported["conversations"] for m in c["messages"]
    ]
    erase = admin.get_by_role("button", name="Erase for good")
    expect(erase).to_be_disabled()
    admin.get_by_label("Type the customer's id or name to confirm").fill("lena fischer")
    expect(erase).to_be_enabled()
    shot(admin, screenshots, "admin-privacy")
    erase.click()
    expect(admin.locator(".adm-notice[data-kind=ok]")).to_contain_text("Erased.")
    expect(admin.locator(".adm-customer h2")).to_contain_text("Erased customer #")
    shot(admin, screenshots, "admin-privacy-erased")

    admin.locator('.adm-tab[data-tab="audit"]').click()
    expect(admin.locator('tr[data-action="customer.erase"]')).to_have_count(1)
    expect(admin.locator('tr[data-action="customer.export"]')).to_have_count(1)


def test_the_admin_screens_in_spanish(admin_hub: HubServer, page: OpenPage, screenshots: Screenshot) -> None:
    admin = signed_in(page, "admin@example.com", admin_hub.password)
    admin.goto("/admin#/people")
    expect(admin.locator(".adm-title")).to_have_text("Agents & teams")
    admin.locator("#language").select_option("es")
    expect(admin.locator(".adm-title")).to_have_text("Agentes y equipos")
    expect(admin.locator('.adm-tab[data-tab="audit"]')).to_have_text("Registro de auditoría")
    shot(admin, screenshots, "admin-people-es")
    admin.locator("#language").select_option("en")
    expect(admin.locator(".adm-title")).to_have_text("Agents & teams")
