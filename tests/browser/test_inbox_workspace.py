"""The agents' workspace in a real browser against a live `hub serve` with web chat, SMS and WhatsApp
accounts: a conversation arrives live with its unread count; an agent assigns it, answers with a
canned response, sees a colleague type, @mentions him in a note, labels it, edits the customer,
merges a duplicate (which brings the customer's phone, so SMS with its segment count and the WhatsApp
window note), undoes the merge, snoozes, hands back to the bot and assigns to the colleague, who is
told. Then keyboard shortcuts and the help, Spanish, a marketer's view and phone width.

Screenshots of the main screens land in tests/artifacts/screenshots/ (2x-*.png) for reviewers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import pages, running_hub
from tests.browser.test_demo_story import log_in
from tests.inbox.test_reply_limits import SMS_CASES

if TYPE_CHECKING:
    from tests.browser.conftest import HubServer

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], None]
OpenPage = Callable[..., Page]

TWILIO = (
    "    provider: twilio\n"
    "    account_sid: AC0123456789abcdef0123456789abcdef\n"
    "    auth_token: f0e1d2c3b4a5968778695a4b3c2d1e0f\n"
    "    api_base: http://127.0.0.1:9\n"
)
MORE_CHANNELS = (
    '  sms-main:\n    type: sms\n    from: "+15005550006"\n'
    + TWILIO
    + '  whatsapp-main:\n    type: whatsapp\n    from: "whatsapp:+14155238886"\n'
    + TWILIO
)
PHONE = "+34600111222"
SHIPPING = "Hi {{ customer.first_name }}, we ship to Spain in 2-3 days. {{ agent.first_name }}"


@pytest.fixture(scope="module")
def workspace(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with running_hub(tmp_path_factory.mktemp("workspace"), MORE_CHANNELS) as server:
        server.create_agent("ben@example.com", "Ben Second", "agent")
        server.create_agent("admin@example.com", "Ada Admin", "admin")
        server.create_agent("marketer@example.com", "Mark Marketer", "marketer")
        with server.api_client("admin@example.com") as admin:
            admin.post(
                "/api/v1/canned-responses",
                json={"shortcut": "shipping", "title": "Shipping times", "body": SHIPPING, "shared": True},
            ).raise_for_status()
        yield server


@pytest.fixture
def page(browser: Browser, workspace: HubServer) -> Iterator[OpenPage]:
    with pages(browser, workspace.url) as open_page:
        yield open_page


def signed_in(page: OpenPage, email: str, password: str, **options: object) -> Page:
    opened = page(**options)
    log_in(opened, email, password)
    expect(opened.locator("#live-status")).to_have_text(re.compile("Live|En directo"))
    return opened


def row_of(agent: Page, name: str):  # type: ignore[no-untyped-def]
    return agent.locator("#conversation-list li").filter(has_text=name)


def test_an_agents_day_in_one_window(workspace: HubServer, page: OpenPage, screenshots: Screenshot) -> None:
    ana = signed_in(page, "agent@example.com", workspace.password)
    ben = signed_in(page, "ben@example.com", workspace.password)

    # A customer writes: the conversation arrives live for both, unread.
    workspace.visitor_writes("Hi! Do you have decaf beans?", name="Lucia Gomez", message_id="workspace-0001")
    row = row_of(ana, "Lucia Gomez")
    expect(row).to_be_visible()
    expect(row.locator(".unread-count")).to_contain_text("1")
    expect(row_of(ben, "Lucia Gomez").locator(".unread-count")).to_contain_text("1")
    expect(ana.locator(".filter[data-view=all] .count")).to_have_text("1")
    screenshots(ana, "20-workspace-list")

    # Opening it reads it (for Ana only); assigning it to herself shows in the header and counts.
    row.get_by_role("button").click()
    timeline = ana.get_by_role("log", name="Messages and notes")
    expect(timeline.locator(".msg--customer")).to_contain_text("decaf beans")
    expect(row.locator(".unread-count")).to_have_count(0)
    expect(row_of(ben, "Lucia Gomez").locator(".unread-count")).to_contain_text("1")
    ana.get_by_role("button", name="Assign to me").click()
    expect(ana.locator("#thread-meta")).to_contain_text("Assigned to You")
    expect(ana.locator(".filter[data-view=mine] .count")).to_have_text("1")

    # A canned response, found by a typo-tolerant search and filled from the record.
    composer = ana.get_by_role("textbox", name="Reply to the customer")
    composer.fill("/shiping")
    option = ana.get_by_role("option").filter(has_text="/shipping")
    expect(option).to_be_visible()
    screenshots(ana, "21-workspace-canned")
    composer.press("Enter")
    expect(composer).to_have_value("Hi Lucia, we ship to Spain in 2-3 days. Ana")
    composer.press("Enter")
    expect(timeline.locator(".msg--agent")).to_contain_text("we ship to Spain")
    expect(timeline.locator(".msg--agent .delivery")).to_contain_text(re.compile("Sent|Read"))

    # Ben opens it too and sees Ana typing.
    row_of(ben, "Lucia Gomez").get_by_role("button").click()
    composer.press_sequentially("Let me check the decaf")
    expect(ben.locator("#typing")).to_have_text("Ana Agent is writing a reply…")
    composer.fill("")

    # A private note @mentioning Ben: highlighted for Ana, announced to Ben.
    ana.get_by_role("button", name="Private note").click()
    note = ana.get_by_role("textbox", name="Private note for your team")
    note.press_sequentially("@Be")
    expect(ana.get_by_role("option").filter(has_text="@Ben Second")).to_be_visible()
    note.press("Enter")
    note.press_sequentially("can you check the decaf stock?")
    note.press("Enter")
    expect(timeline.locator(".note .mention")).to_have_text("@Ben Second")
    expect(ben.locator(".toast").filter(has_text="Ana Agent mentioned you in a note")).to_be_visible()
    expect(ben.get_by_role("log").locator(".note--mine")).to_contain_text("decaf stock")

    # Labels and priority, and the list filtered by the label.
    ana.get_by_role("combobox", name="Add label").fill("decaf")
    ana.get_by_role("combobox", name="Add label").press("Enter")
    expect(ana.locator("#labels")).to_contain_text("decaf")
    ana.locator("#priority").select_option("urgent")
    expect(row).to_contain_text("Urgent")
    ana.locator("#filter-label").select_option("decaf")
    expect(row).to_be_visible()
    ana.locator("#filter-label").select_option("")

    # The customer record: a phone typed into the attributes is another record's identity, so the
    # panel suggests a merge, with the reason.
    with workspace.api_client("admin@example.com") as admin:
        admin.post(
            "/api/v1/events",
            json={"kind": "order.created", "identity": f"phone:{PHONE}", "payload": {"amount": 42.5}},
        ).raise_for_status()
    panel = ana.get_by_role("complementary", name="Customer")
    panel.get_by_role("button", name="Edit attributes").click()
    panel.get_by_role("textbox", name="New attribute (e.g. city)").fill("phone")
    panel.get_by_role("textbox", name="Value").fill(PHONE)
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".attributes")).to_contain_text(PHONE)
    duplicate = panel.locator(".duplicate")
    expect(duplicate).to_contain_text(f"the phone typed on this record ({PHONE}) is their phone")
    screenshots(ana, "22-workspace-customer-duplicate")
    duplicate.get_by_role("button", name=re.compile("^Merge")).click()
    expect(panel.locator(".identity").filter(has_text=PHONE)).to_be_visible()
    expect(panel.locator(".stats")).to_contain_text("42.50")

    # Now the customer can be reached by SMS (segments counted as Ana types) and WhatsApp (whose
    # window is closed: the customer never wrote there).
    ana.get_by_role("button", name="Reply", exact=True).click()
    channel = ana.locator("#reply-channel")
    expect(channel.locator("option")).to_have_count(3)
    channel.select_option("sms-main")
    composer.fill("x" * 161)
    expect(ana.locator("#channel-limits")).to_have_text("SMS: 2 segment(s), GSM-7, 161 of 153 per segment")
    composer.fill("¿Llegó el café?")
    expect(ana.locator("#channel-limits")).to_contain_text("1 segment(s), UCS-2")
    screenshots(ana, "23-workspace-sms-segments")
    channel.select_option("whatsapp-main")
    expect(ana.locator("#channel-limits")).to_contain_text("24-hour window is closed")
    channel.select_option("site")
    composer.fill("")

    # The merge can be undone: the phone goes back to the other record.
    panel.get_by_role("button", name="Undo merge").click()
    expect(panel.locator(".identity").filter(has_text=PHONE)).to_have_count(0)
    expect(channel.locator("option")).to_have_count(1)

    # Snooze until a time: gone from the open list, found under snoozed with its time.
    ana.get_by_role("button", name="Snooze").click()
    ana.get_by_role("button", name=re.compile("^In an hour")).click()
    expect(ana.locator("#thread-meta")).to_contain_text("Snoozed")
    expect(row).to_have_count(0)
    ana.locator("#filter-status").select_option("snoozed")
    expect(row).to_contain_text("Until")
    ana.locator("#filter-status").select_option("open")

    # Hand back to the bot, then give it to Ben: he hears of it.
    ana.get_by_role("button", name="Hand back to bot").click()
    expect(ana.locator("#thread-meta")).to_contain_text("Bot answering")
    expect(ana.locator("#thread-meta")).to_contain_text("Unassigned")
    ana.locator("#assignee").select_option(label="Ben Second")
    expect(ana.locator("#thread-meta")).to_contain_text("Assigned to Ben Second")
    expect(ben.locator(".toast").filter(has_text="Assigned to you: Lucia Gomez")).to_be_visible()
    expect(ben.locator("#thread-meta")).to_contain_text("Assigned to You")
    screenshots(ben, "24-workspace-assigned-to-ben")

    # Resolve from the keyboard.
    ana.locator("#timeline").click()
    ana.keyboard.press("e")
    expect(ana.locator("#thread-meta")).to_contain_text("Resolved")


def test_shortcuts_help_and_spanish(workspace: HubServer, page: OpenPage, screenshots: Screenshot) -> None:
    workspace.visitor_writes("¿Tenéis café descafeinado?", name="Pablo Ruiz", message_id="workspace-0002")
    ben = signed_in(page, "ben@example.com", workspace.password)
    expect(row_of(ben, "Pablo Ruiz")).to_be_visible()

    ben.keyboard.press("?")
    help_dialog = ben.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Next conversation")
    screenshots(ben, "25-workspace-shortcuts")
    ben.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    ben.keyboard.press("j")
    expect(ben.get_by_role("heading", level=2).first).to_have_text("Pablo Ruiz")
    ben.keyboard.press("r")
    expect(ben.get_by_role("textbox", name="Reply to the customer")).to_be_focused()
    ben.keyboard.press("Escape")
    ben.keyboard.press("n")
    expect(ben.get_by_role("textbox", name="Private note for your team")).to_be_focused()
    ben.keyboard.press("Escape")
    ben.keyboard.press("a")
    expect(ben.locator("#thread-meta")).to_contain_text("Assigned to You")

    # Spanish, kept as the agent's preference.
    ben.locator("#language").select_option("es")
    expect(ben.get_by_role("heading", name="Conversaciones")).to_be_visible()
    ben.reload()
    expect(ben.get_by_role("heading", name="Conversaciones")).to_be_visible()
    expect(ben.locator("#live-status")).to_have_text("En directo")
    row_of(ben, "Pablo Ruiz").get_by_role("button").click()
    expect(ben.get_by_role("button", name="Resolver")).to_be_visible()
    expect(ben.get_by_role("textbox", name="Respuesta al cliente")).to_be_visible()
    expect(ben.locator("#thread-meta")).to_contain_text("Asignada a ti")
    screenshots(ben, "26-workspace-spanish")
    ben.keyboard.press("?")
    expect(ben.get_by_role("dialog", name="Atajos de teclado")).to_contain_text("Conversación siguiente")
    ben.keyboard.press("Escape")
    ben.locator("#language").select_option("en")
    expect(ben.get_by_role("heading", name="Conversations")).to_be_visible()


def test_a_marketer_reads_no_notes_and_gets_no_agent_tools(
    workspace: HubServer, page: OpenPage, screenshots: Screenshot
) -> None:
    workspace.visitor_writes("Do you sell gift cards?", name="Olga Petrenko", message_id="workspace-0003")
    ana = signed_in(page, "agent@example.com", workspace.password)
    row_of(ana, "Olga Petrenko").get_by_role("button").click()
    ana.get_by_role("button", name="Private note").click()
    ana.get_by_role("textbox", name="Private note for your team").fill("Wholesale lead, call back")
    ana.get_by_role("textbox", name="Private note for your team").press("Enter")
    expect(ana.locator(".note")).to_contain_text("Wholesale lead")

    # Marketers land on campaigns; the inbox is theirs to read, from the navigation bar.
    mark = page()
    log_in(mark, "marketer@example.com", workspace.password)
    mark.get_by_role("navigation", name="Workspace").get_by_role("link", name="Inbox").click()
    expect(mark.locator("#live-status")).to_have_text(re.compile("Live|En directo"))
    row_of(mark, "Olga Petrenko").get_by_role("button").click()
    timeline = mark.get_by_role("log", name="Messages and notes")
    expect(timeline.locator(".msg--customer")).to_contain_text("gift cards")
    expect(timeline.locator(".note")).to_have_count(0)
    expect(mark.get_by_role("button", name="Snooze")).to_have_count(0)
    expect(mark.locator("#thread-tools")).to_be_hidden()
    expect(mark.locator("#composer")).to_be_hidden()
    # A note written while the marketer watches does not reach their screen either.
    ana.get_by_role("textbox", name="Private note for your team").fill("Second secret")
    ana.get_by_role("textbox", name="Private note for your team").press("Enter")
    ana.get_by_role("button", name="Reply", exact=True).click()
    ana.get_by_role("textbox", name="Reply to the customer").fill("We do, from 25 euros.")
    ana.get_by_role("textbox", name="Reply to the customer").press("Enter")
    expect(timeline.locator(".msg--agent")).to_contain_text("from 25 euros")
    expect(timeline).not_to_contain_text("Second secret")
    screenshots(mark, "27-workspace-marketer")


def test_phone_width(workspace: HubServer, page: OpenPage, screenshots: Screenshot) -> None:
    workspace.visitor_writes("Is the Guji good for espresso?", name="Sam Reed", message_id="workspace-0004")
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    agent = signed_in(page, "agent@example.com", workspace.password, **phone)
    expect(agent.get_by_role("searchbox", name="Search customers and messages")).to_be_visible()
    row = row_of(agent, "Sam Reed")
    expect(row).to_be_visible()
    screenshots(agent, "28-workspace-phone-list")
    agent.get_by_role("searchbox").fill("guji")
    expect(agent.locator("#conversation-list li")).to_have_count(1)
    row.get_by_role("button").click()
    expect(agent.get_by_role("button", name="Back to conversations")).to_be_visible()
    expect(agent.get_by_role("button", name="Snooze")).to_be_visible()
    expect(agent.locator("#priority")).to_be_visible()
    # A mobile layout viewport widens to fit wide content: measure against the phone's own width.
    too_wide = agent.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter((node) => node.getBoundingClientRect().right > 391)
            .map((node) => `${node.tagName.toLowerCase()}#${node.id}.${node.className}`)"""
    )
    assert not too_wide, f"the page scrolls sideways at phone width: {too_wide[:5]}"
    screenshots(agent, "29-workspace-phone-conversation")


def test_the_reply_box_counts_sms_segments_like_the_server(page: OpenPage) -> None:
    """The browser's live counter (static/inbox/sms.js) and inbox/reply_limits.py agree on every
    reference case."""
    browser_page = page()
    browser_page.goto("/login")
    counted = browser_page.evaluate(
        "async (texts) => { const { smsSegments } = await import('/static/inbox/sms.js');"
        " return texts.map((text) => smsSegments(text)); }",
        [case[0] for case in SMS_CASES],
    )
    for (text, encoding, segments, units), js in zip(SMS_CASES, counted, strict=True):
        assert (js["encoding"], js["segments"], js["units"]) == (encoding, segments, units), text[:20]
