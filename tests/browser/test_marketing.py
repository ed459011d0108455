"""The marketers' workspace in a real browser against a live `hub serve` whose Telegram and SMS
accounts talk to the fake providers: a marketer signs in and lands on campaigns, builds a segment
with the builder (the live count follows each condition and equals the API's), creates a campaign
to it with two channels, previews the SMS (its segment count) and the Telegram button, test-sends
to her own phone, schedules it for a time and sees it scheduled in the list; pauses, resumes and
cancels it. She launches a "now" A/B campaign and watches its counters and funnel follow the
deliveries, failures and skips. A segment using every kind of condition, and a journey campaign,
go through the builder and the editor unchanged. An agent gets the 403 page for campaigns and admin.

Screenshots land in tests/artifacts/screenshots/ (marketing-*.png) for reviewers.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PASSWORD, pages, running_hub
from tests.browser.test_demo_story import log_in
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI, blocked
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, message_status, signed_request

if TYPE_CHECKING:
    from tests.browser.conftest import HubServer

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], None]
OpenPage = Callable[..., Page]
T = TypeVar("T")

MARKETER = "mark@example.com"
MY_PHONE = "+34600999000"
SMS_FROM = "+15005550006"


class Providers:
    """The fake Twilio and Telegram servers, on their own event loop in a thread: the browser test
    itself is synchronous, and the hub under test is another process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-providers", daemon=True)
        self.twilio = FakeTwilioApi()
        self.telegram = FakeTelegramAPI(TELEGRAM_TOKEN)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def __enter__(self) -> Providers:
        self.thread.start()
        self.run(self.twilio.__aenter__())
        self.run(self.telegram.__aenter__())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.run(self.telegram.__aexit__(None, None, None))
        self.run(self.twilio.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def channels_yaml(self) -> str:
        """hub.yaml channel accounts pointed at the fakes, and no quiet hours (the test may run at
        night in the customers' time zone)."""
        return (
            "  main:\n"
            "    type: telegram\n"
            f'    token: "{TELEGRAM_TOKEN}"\n'
            "    webhook_secret: test-secret\n"
            f"    api_base: {self.telegram.base_url}\n"
            "  sms-main:\n"
            "    type: sms\n"
            f'    from: "{SMS_FROM}"\n'
            "    provider: twilio\n"
            f"    account_sid: {ACCOUNT_SID}\n"
            f"    auth_token: {AUTH_TOKEN}\n"
            f"    api_base: {self.twilio.base_url}\n"
            "marketing:\n"
            '  quiet_hours: "off"\n'
        )

    def sms_to(self, phone: str, timeout: float = 20) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.twilio.messages if m.param("To") == phone]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no SMS to {phone}; sent: {[m.param('To') for m in self.twilio.messages]}")


def _customer(admin: httpx.Client, identity: str, name: str, tags: list[str], consent: str | None) -> int:
    event = admin.post("/api/v1/events", json={"kind": "customer.imported", "identity": identity})
    customer_id = int(event.raise_for_status().json()["customer_id"])
    admin.patch(
        f"/api/v1/customers/{customer_id}", json={"display_name": name, "add_tags": tags, "locale": "en"}
    ).raise_for_status()
    if consent:
        admin.post(
            f"/api/v1/customers/{customer_id}/consents",
            json={"channel": consent, "purpose": "marketing", "granted": True, "source": "signup form"},
        ).raise_for_status()
    return customer_id


@pytest.fixture(scope="module")
def providers(browser: Browser) -> Iterator[Providers]:
    with Providers() as running:
        yield running


@pytest.fixture(scope="module")
def marketing(
    browser: Browser, providers: Providers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubServer]:
    with running_hub(tmp_path_factory.mktemp("marketing"), providers.channels_yaml()) as server:
        server.create_agent("admin@example.com", "Ada Admin", "admin")
        server.create_agent(MARKETER, "Mara Marketer", "marketer")
        with server.api_client("admin@example.com") as admin:
            _customer(admin, "phone:+34600000001", "Ana Alvarez", ["vip", "newsletter"], "sms")
            _customer(admin, "telegram:1001", "Ben Brown", ["vip"], "telegram")
            _customer(admin, "phone:+34600000003", "Cy Castro", ["newsletter"], "sms")
            _customer(admin, "phone:+34600000004", "Dee Diaz", ["vip"], None)
            _customer(admin, "phone:+34600000005", "Fay Flores", ["vip"], "sms")
            _customer(admin, "email:eve@example.com", "Eve Evans", [], None)
            # The marketer's own record: her sign-in email, merged with her phone.
            mine = _customer(admin, f"email:{MARKETER}", "Mara Marketer", ["staff"], None)
            phone = _customer(admin, f"phone:{MY_PHONE}", "Mara (phone)", [], None)
            admin.post(f"/api/v1/customers/{mine}/merge", json={"merged_id": phone}).raise_for_status()
        yield server


@pytest.fixture
def page(browser: Browser, marketing: HubServer) -> Iterator[OpenPage]:
    with pages(browser, marketing.url) as open_page:
        yield open_page


def signed_in_marketer(page: OpenPage) -> Page:
    opened = page()
    log_in(opened, MARKETER, PASSWORD)
    expect(opened).to_have_url(re.compile(r"/campaigns$"))
    expect(opened.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    return opened


def api_count(server: HubServer, conditions: list[dict[str, Any]]) -> int:
    with server.api_client(MARKETER) as client:
        response = client.post(
            "/api/v1/segments/preview?sample=0", json={"name": "x", "conditions": conditions}
        )
        return int(response.raise_for_status().json()["count"])


def last_row(mark: Page):  # type: ignore[no-untyped-def]
    return mark.locator(".cond-row").last


def test_build_a_segment_and_schedule_a_campaign(
    marketing: HubServer, providers: Providers, page: OpenPage, screenshots: Screenshot
) -> None:
    mark = signed_in_marketer(page)
    screenshots(mark, "marketing-01-landing")

    # -- the segment builder ------------------------------------------------------------------------
    mark.get_by_role("link", name="Segments").click()
    mark.get_by_role("link", name="New segment").first.click()
    count = mark.locator("#segment-count")
    everyone = api_count(marketing, [])
    expect(count).to_have_attribute("data-count", str(everyone))
    mark.get_by_label("Name").fill("VIP customers")
    expect(mark.get_by_label("Id")).to_have_value("vip-customers")

    mark.get_by_role("button", name="+ Add condition").click()
    expect(last_row(mark).get_by_label("Field")).to_have_value("tag")
    last_row(mark).get_by_label("Value").fill("vip")
    vips = api_count(marketing, [{"tag": "vip"}])
    assert vips == 4 and vips != everyone
    expect(count).to_have_attribute("data-count", str(vips))
    expect(mark.locator("#segment-sample li")).to_have_count(4)

    # A group: VIPs who agreed to SMS or to Telegram.
    mark.get_by_role("button", name="+ Add group").click()
    group = mark.locator(".cond-group:not(.cond-group--root)")
    group.get_by_role("button", name="+ Add condition").click()
    group.locator(".cond-row").last.get_by_label("Field").select_option("consent")
    group.get_by_role("button", name="+ Add condition").click()
    group.locator(".cond-row").last.get_by_label("Field").select_option("consent")
    group.locator(".cond-row").last.get_by_label("Channel").select_option("telegram")
    either = [
        {"tag": "vip"},
        {
            "any": [
                {"consent": {"channel": "sms", "purpose": "marketing"}},
                {"consent": {"channel": "telegram", "purpose": "marketing"}},
            ]
        },
    ]
    reachable = api_count(marketing, either)
    assert reachable == 3
    expect(count).to_have_attribute("data-count", str(reachable))
    expect(mark.locator("#segment-count-note")).to_have_text(f"of {everyone} customers")
    screenshots(mark, "marketing-02-segment-builder")
    # Back to every VIP: the campaign should meet someone without consent too.
    group.get_by_role("button", name="Remove").first.click()
    expect(count).to_have_attribute("data-count", str(vips))
    mark.get_by_role("button", name="Save segment").click()
    expect(mark).to_have_url(re.compile(r"#/segments$"))
    saved_row = mark.locator("tr[data-segment='vip-customers']")
    expect(saved_row).to_contain_text("VIP customers")
    expect(saved_row.locator("[data-count]")).to_have_text("4")
    with marketing.api_client(MARKETER) as client:
        saved = client.get("/api/v1/segments/vip-customers").raise_for_status().json()
    assert saved["conditions"] == [{"tag": "vip"}]

    # -- the campaign editor ------------------------------------------------------------------------
    mark.get_by_role("navigation", name="Marketing").get_by_role("link", name="Campaigns").click()
    mark.get_by_role("link", name="New campaign").first.click()
    mark.get_by_label("Name", exact=True).fill("VIP spring sale")
    expect(mark.get_by_label("Id", exact=True)).to_have_value("vip-spring-sale")
    mark.get_by_label("Segment").select_option("vip-customers")
    order = mark.locator("#channel-order li")
    expect(order).to_have_count(2)
    expect(order.nth(0)).to_have_attribute("data-channel", "telegram")
    mark.get_by_role("button", name="Move SMS up").click()
    expect(order.nth(0)).to_have_attribute("data-channel", "sms")
    expect(order.nth(1)).to_have_attribute("data-channel", "telegram")

    message = mark.get_by_label("Text for All channels in English")
    message.fill("Hi {{ name }}! 20% off everything for our VIPs this week.")
    mark.locator("[data-language='es']").click()
    mark.get_by_label("Text for All channels in Español").fill(
        "¡Hola {{ name }}! 20% de descuento para VIP esta semana."
    )
    mark.locator("[data-content-channel='telegram']").click()
    mark.get_by_role("button", name="+ Add button").click()
    mark.get_by_label("Title of button 1").fill("Comprar")
    mark.locator("[data-language='en']").click()
    mark.get_by_label("Title of button 1").fill("Shop now")
    mark.get_by_label("Link of button 1").fill("https://shop.example/spring")

    # The preview: a real customer of the audience, on each channel.
    expect(mark.locator("#check-verdict")).to_have_text("Ready to launch")
    sms = mark.locator(".pv-card[data-channel='sms']")
    expect(sms.locator(".pv-bubble")).to_contain_text("20% off everything for our VIPs")
    expect(sms.locator(".pv-meta")).to_have_text(re.compile(r"^\d+ characters · 1 SMS · GSM-7$"))
    telegram = mark.locator(".pv-card[data-channel='telegram']")
    expect(telegram.locator(".pv-button")).to_have_text("Shop now ↗")
    mark.get_by_label("Preview language").select_option("es")
    expect(sms.locator(".pv-bubble")).to_contain_text("¡Hola")
    expect(telegram.locator(".pv-button")).to_have_text("Comprar ↗")
    long_sms = "Hi {{ name }}! " + "Our biggest VIP sale ever starts now. " * 5
    mark.locator("[data-content-channel='sms']").click()
    mark.get_by_label("Text for SMS in English").fill(long_sms)
    mark.get_by_label("Preview language").select_option("en")
    expect(sms.locator(".pv-meta")).to_have_text(re.compile(r"^\d+ characters · 2 SMS · GSM-7$"))

    # When: once, tomorrow at 10:00 Madrid time.
    tomorrow = date.today() + timedelta(days=1)
    mark.get_by_text("At a time", exact=True).click()
    mark.get_by_label("Date and time").fill(f"{tomorrow.isoformat()}T10:00")
    mark.get_by_label("Time zone").fill("Europe/Madrid")
    expect(mark.locator("#next-sends li")).to_have_count(1)
    yaml_text = mark.locator("#campaign-yaml")
    expect(yaml_text).to_contain_text("audience: vip-customers")
    expect(yaml_text).to_contain_text("timezone: Europe/Madrid")
    expect(yaml_text).to_contain_text("- sms\n    - telegram")

    # A test send to my own phone (the record with my sign-in email): saves the draft first.
    identity = mark.get_by_label("Send a test to")
    expect(identity).to_have_value(f"phone:{MY_PHONE}")
    mark.get_by_role("button", name="Send test").click()
    expect(mark.locator("#test-result")).to_have_text(re.compile(r"^Sent on SMS \(sms-main\)"))
    (test_sms,) = providers.sms_to(MY_PHONE)
    assert test_sms.param("Body").startswith("Hi Mara Marketer! Our biggest VIP sale")
    mark.evaluate("window.scrollTo(0, 0)")
    screenshots(mark, "marketing-03-campaign-editor")
    mark.locator("[data-content-channel='telegram']").scroll_into_view_if_needed()
    screenshots(mark, "marketing-04-campaign-editor-content")

    # A problem is shown next to its field, named by the server.
    mark.get_by_role("button", name="Remove SMS").click()
    mark.get_by_role("button", name="Remove Telegram").click()
    mark.get_by_role("button", name="Save draft").click()
    problem = mark.locator("[data-path='channels'] > .mk-problem")
    expect(problem).to_contain_text("a preference order such as [viber, sms]")
    mark.get_by_role("button", name="+ SMS").click()
    mark.get_by_role("button", name="+ Telegram").click()
    expect(problem).to_be_hidden()

    mark.get_by_role("button", name="Launch").click()
    dialog = mark.get_by_role("dialog")
    expect(dialog).to_contain_text("Launch VIP spring sale?")
    expect(dialog).to_contain_text("4 customers are in the audience now.")
    dialog.get_by_role("button", name="Launch").click()
    expect(mark).to_have_url(re.compile(r"#/campaigns/vip-spring-sale$"))
    expect(mark.locator("h1 .badge")).to_have_text("Scheduled")

    mark.get_by_role("link", name="← Campaigns").click()
    row = mark.locator("tr[data-campaign='vip-spring-sale']")
    expect(row.locator(".badge")).to_have_text("Scheduled")
    expect(row).to_contain_text("Once,")
    screenshots(mark, "marketing-05-campaign-list-scheduled")
    with marketing.api_client(MARKETER) as client:
        stored = client.get("/api/v1/campaigns/vip-spring-sale").raise_for_status().json()
    assert stored["definition"]["channels"] == ["sms", "telegram"]
    assert stored["definition"]["schedule"] == {
        "at": f"{tomorrow.isoformat()}T10:00",
        "timezone": "Europe/Madrid",
    }
    assert stored["definition"]["content"]["telegram"]["buttons"] == [
        {"title": {"es": "Comprar", "en": "Shop now"}, "url": "https://shop.example/spring"}
    ]

    # Pause, resume and cancel it from its page.
    row.get_by_role("link", name="VIP spring sale").click()
    mark.get_by_role("button", name="Pause").click()
    expect(mark.locator("h1 .badge")).to_have_text("Paused")
    mark.get_by_role("button", name="Resume").click()
    expect(mark.locator("h1 .badge")).to_have_text("Scheduled")
    mark.get_by_role("button", name="Cancel campaign").click()
    mark.get_by_role("dialog").get_by_role("button", name="Cancel campaign").click()
    expect(mark.locator("h1 .badge")).to_have_text("Cancelled")
    expect(mark.locator("#campaign-actions button")).to_have_count(0)


def test_a_now_campaign_shows_its_funnel_as_messages_go(
    marketing: HubServer, providers: Providers, page: OpenPage, screenshots: Screenshot
) -> None:
    with marketing.api_client(MARKETER) as client:
        if client.get("/api/v1/segments/vip-customers").status_code == 404:
            client.put(
                "/api/v1/segments/vip-customers",
                json={"name": "VIP customers", "conditions": [{"tag": "vip"}]},
            ).raise_for_status()
    # Ben's Telegram has blocked the bot: his message fails for good.
    providers.telegram.script(blocked())
    mark = signed_in_marketer(page)
    mark.get_by_role("link", name="New campaign").first.click()
    mark.get_by_label("Name", exact=True).fill("VIP flash sale")
    mark.get_by_label("Segment").select_option("vip-customers")
    mark.get_by_role("button", name="Move SMS up").click()
    mark.get_by_label("Text for All channels in English").fill("Flash sale for {{ name }}: 2 hours only!")
    # An A/B test: half of them get another text.
    mark.get_by_role("button", name="Add a variant B").click()
    mark.get_by_label("Text of variant b in English").fill("{{ name }}, 2 hours only: the flash sale is on!")
    expect(mark.locator("#variant-total")).to_have_text("Split: 100% of 100%")
    expect(mark.locator("#check-verdict")).to_have_text("Ready to launch")
    mark.get_by_label("Variant", exact=True).select_option("b")
    expect(mark.locator(".pv-card[data-channel='sms'] .pv-bubble")).to_contain_text(
        "2 hours only: the flash sale is on!"
    )
    mark.get_by_role("button", name="Launch").click()
    mark.get_by_role("dialog").get_by_role("button", name="Launch").click()
    expect(mark).to_have_url(re.compile(r"#/campaigns/vip-flash-sale$"))

    stats = mark.locator("#campaign-stats")
    expect(stats.locator("[data-stat='planned'] .mk-stat-value")).to_have_text("4")
    ana = providers.sms_to("+34600000001")[0]
    fay = providers.sms_to("+34600000005")[0]
    expect(stats.locator("[data-stat='sent'] .mk-stat-value")).to_have_text("2")
    # The carrier reports: delivered to Ana, undeliverable to Fay (a landline).
    for sent, status, code in ((ana, "delivered", None), (fay, "undelivered", 30006)):
        url = sent.param("StatusCallback")
        assert url is not None
        to = sent.param("To") or ""
        params = message_status(provider_id(marketing, "vip-flash-sale", to), status, error_code=code, to=to)
        request = signed_request(url, params)
        httpx.post(url, content=request.body, headers=dict(request.headers), timeout=10).raise_for_status()
    expect(stats.locator("[data-stat='delivered'] .mk-stat-value")).to_have_text("1")
    expect(stats.locator("[data-stat='failed'] .mk-stat-value")).to_have_text("2")
    funnel = mark.locator("figure[data-variant='total'] svg")
    expect(funnel.locator("[data-stage='planned']")).to_have_attribute("data-value", "4")
    expect(funnel.locator("[data-stage='sent']")).to_have_attribute("data-value", "1")
    expect(funnel.locator("[data-stage='delivered']")).to_have_attribute("data-value", "1")
    reasons = mark.locator("#failure-reasons")
    expect(reasons.locator("tr[data-kind='skipped'][data-reason='no_consent']")).to_contain_text(
        "No marketing consent"
    )
    expect(reasons.locator("tr[data-kind='failed']")).to_have_count(2)
    expect(reasons).to_contain_text("blocked")
    expect(mark.locator("h1 .badge")).to_have_text("Completed")
    with marketing.api_client(MARKETER) as client:
        results = client.get("/api/v1/campaigns/vip-flash-sale/results").raise_for_status().json()
    variants = sorted(set(results["variants"]) - {"total"})
    # The total, and each variant's own funnel when both got customers.
    expect(mark.locator("figure.mk-funnel")).to_have_count(1 + len(variants) if len(variants) > 1 else 1)
    screenshots(mark, "marketing-06-campaign-detail-funnel")

    mark.get_by_role("link", name="← Campaigns").click()
    row = mark.locator("tr[data-campaign='vip-flash-sale']")
    expect(row.locator("[data-counter='planned']")).to_have_text("4")
    expect(row.locator("[data-counter='delivered']")).to_have_text("1")
    expect(row.locator("[data-counter='failed']")).to_have_text("2")
    screenshots(mark, "marketing-07-campaign-list")

    # The marketer's language is the workspace's.
    mark.locator("#language").select_option("es")
    expect(mark.get_by_role("heading", name="Campañas", level=1)).to_be_visible()
    expect(row.locator(".badge")).to_have_text("Terminada")
    expect(row).to_contain_text("Al lanzarla")
    screenshots(mark, "marketing-08-campaign-list-spanish")
    mark.locator("#language").select_option("en")
    expect(mark.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()


def provider_id(server: HubServer, campaign_id: str, address: str) -> str:
    """The Twilio message SID the hub stored for a campaign's message (the fake answers each send
    with a fresh SID and keeps no record of its answers)."""
    with sqlite3.connect(server.workdir / "hub.db") as database:
        row = database.execute(
            "SELECT provider_message_id FROM campaign_sends WHERE campaign_id = ? AND address = ?",
            (campaign_id, address),
        ).fetchone()
    assert row is not None and row[0], (campaign_id, address)
    return str(row[0])


EVERY_KIND = [
    {"tag": "vip"},
    {"no_tag": "blocked"},
    {"locale": "en"},
    {"created": {"after": "30 days ago"}},
    {"channel": "phone"},
    {"no_channel": "viber"},
    {"no_consent": {"channel": "email"}},
    {"attribute": "birthday", "exists": False},
    {"event": "order.created", "within": "90 days", "count": {"lte": 3}},
    {"no_event": "cart.abandoned", "within": "2 weeks"},
    {"ltv": {"lt": 1000}},
    {"open_conversation": False},
    # Beyond the rows: kept as written.
    {"not": {"tag": "staff"}},
    {"event": "order.created", "sum": {"amount": {"lt": 5000}}},
    {
        "any": [
            {"attribute": "city", "in": ["Madrid", "Sevilla"]},
            {"attribute": "age", "gte": 18},
            {"days_since_last_order": {"gte": 0}},
            {"tag": "vip"},
        ]
    },
]


def test_the_builder_keeps_every_kind_of_condition(
    marketing: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    """A segment written with every kind of condition (some the rows cannot show) opens in the
    builder with the API's count, and saving it changes nothing."""
    segment = {"name": "Every kind", "description": "All the grammar", "conditions": EVERY_KIND}
    with marketing.api_client(MARKETER) as client:
        client.put("/api/v1/segments/every-kind", json=segment).raise_for_status()
    expected = api_count(marketing, EVERY_KIND)
    assert expected == 3  # Ana, Dee and Fay: the VIPs with a phone
    mark = signed_in_marketer(page)
    mark.goto("/campaigns#/segments/every-kind")
    expect(mark.locator("#segment-count")).to_have_attribute("data-count", str(expected))
    rows = mark.locator(".cond-group--root > .cond-rows > li")
    expect(rows).to_have_count(len(EVERY_KIND))
    expect(mark.locator(".cond-row[data-field='raw']")).to_have_count(2)
    expect(rows.nth(8).get_by_label("Comparison").first).to_have_value("count")
    expect(rows.nth(10).get_by_label("Field")).to_have_value("figure:ltv")
    expect(rows.nth(14).locator(".cond-row")).to_have_count(4)
    rows.nth(7).scroll_into_view_if_needed()
    mark.evaluate("window.scrollBy(0, 330)")
    screenshots(mark, "marketing-11-segment-builder-every-kind")
    mark.get_by_role("button", name="Save segment").click()
    expect(mark).to_have_url(re.compile(r"#/segments$"))
    with marketing.api_client(MARKETER) as client:
        saved = client.get("/api/v1/segments/every-kind").raise_for_status().json()
    assert saved["conditions"] == EVERY_KIND
    assert saved["description"] == "All the grammar"

    # A new segment never replaces a saved one by taking its id.
    mark.get_by_role("link", name="New segment").first.click()
    mark.get_by_label("Name").fill("Every kind")
    mark.get_by_role("button", name="Save segment").click()
    expect(mark.get_by_role("alert").filter(has_text="already exists")).to_have_text(
        "A segment with the id every-kind already exists: choose another id."
    )
    with marketing.api_client(MARKETER) as client:
        assert client.get("/api/v1/segments/every-kind").json()["conditions"] == EVERY_KIND


JOURNEY = {
    "name": "Onboarding",
    "audience": "vip-customers",
    "schedule": "flow",
    "channels": ["sms"],
    "steps": [
        {
            "send": "hello",
            "content": {"default": {"en": "Welcome, {{ name }}!", "es": "¡Bienvenida, {{ name }}!"}},
        },
        {"wait": "1d"},
        {
            "branch": {
                "read": [{"send": "tips", "content": {"default": "Three tips for you, {{ name }}."}}],
                "otherwise": "end",
            }
        },
    ],
}


def test_a_journey_keeps_its_steps_through_the_editor(
    marketing: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    with marketing.api_client(MARKETER) as client:
        if client.get("/api/v1/segments/vip-customers").status_code == 404:
            client.put(
                "/api/v1/segments/vip-customers",
                json={"name": "VIP customers", "conditions": [{"tag": "vip"}]},
            ).raise_for_status()
        client.put("/api/v1/campaigns/onboarding", json=JOURNEY).raise_for_status()
    mark = signed_in_marketer(page)
    mark.goto("/campaigns#/campaigns/onboarding/edit")
    steps = mark.locator("#journey-steps")
    expect(steps.locator(".mk-step--send")).to_have_count(2)
    expect(steps).to_contain_text("Send “hello”")
    expect(steps).to_contain_text("Wait 1 day")
    expect(steps).to_contain_text("Three tips for you")
    expect(mark.locator("[data-content-channel]")).to_have_count(0)  # a journey's messages are its steps
    expect(mark.get_by_role("radio", name="From a flow")).to_be_checked()
    expect(mark.locator("#check-verdict")).to_have_text("Ready to launch")
    preview_step = mark.get_by_label("Message step")
    expect(preview_step.locator("option")).to_have_count(2)
    preview_step.select_option("tips")
    expect(mark.locator(".pv-card[data-channel='sms'] .pv-bubble")).to_contain_text("Three tips for you")
    mark.get_by_label("Name", exact=True).fill("Onboarding journey")
    mark.get_by_role("button", name="Save draft").click()
    expect(mark.locator("h1")).to_contain_text("Onboarding journey")
    mark.evaluate("document.querySelector('#journey-steps').scrollIntoView()")
    screenshots(mark, "marketing-10-journey-editor")
    with marketing.api_client(MARKETER) as client:
        stored = client.get("/api/v1/campaigns/onboarding").raise_for_status().json()["definition"]
    assert stored == {**JOURNEY, "id": "onboarding", "name": "Onboarding journey"}


def test_an_agent_cannot_open_campaigns_or_admin(
    marketing: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    agent = page()
    log_in(agent, "agent@example.com", marketing.password)
    expect(agent).to_have_url(re.compile(r"/inbox"))
    for path, title in (("/admin", "Admin"), ("/campaigns", "Campaigns")):
        response = agent.goto(path)
        assert response is not None and response.status == 403
        expect(agent.get_by_role("heading", level=1)).to_have_text(f"{title} is not for your role")
    screenshots(agent, "marketing-09-agent-refused")
