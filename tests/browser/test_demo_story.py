"""The demo story in a real browser: a customer writes on the website chat, an agent answers from the
inbox, both see each other live; plus sign-in errors and what a marketer may not see.

Each person has their own browser context (own cookies and storage). Every wait is a DOM condition
through Playwright's auto-waiting ``expect``; screenshots of the main screens land in
tests/artifacts/screenshots/ for reviewers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

if TYPE_CHECKING:
    from tests.browser.conftest import HubServer

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], None]
OpenPage = Callable[..., Page]


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def conversation_id(client: httpx.Client, customer_name: str) -> int:
    """The id of the customer's conversation, once the hub has processed their first message."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for conversation in client.get("/api/v1/conversations").raise_for_status().json():
            if conversation["customer_name"] == customer_name:
                return int(conversation["id"])
        time.sleep(0.2)
    raise AssertionError(f"no conversation for {customer_name} at {client.base_url}")


def test_customer_and_agent_talk_live(
    hub_server: HubServer, new_page: OpenPage, screenshots: Screenshot
) -> None:
    # The agent is at work before the customer writes, so the conversation has to arrive live.
    agent = new_page()
    log_in(agent, "agent@example.com", hub_server.password)
    expect(agent).to_have_url(re.compile(r"/inbox"))
    expect(agent.locator("#me-name")).to_have_text("Ana Agent")
    expect(agent.locator("#me-role")).to_have_text("agent")
    expect(agent.locator("#live-status")).to_have_text("Live")
    # Survives only as long as the page is never reloaded.
    agent.evaluate("window.sameDocument = true")

    customer = new_page()
    customer.goto("/chat")
    expect(customer.get_by_role("heading", name="Small-batch coffee, roasted every Monday.")).to_be_visible()
    launcher = customer.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    screenshots(customer, "01-website")
    launcher.click()
    widget = customer.get_by_role("dialog", name="Lumen Coffee support")
    expect(widget).to_be_visible()
    widget.get_by_placeholder("Your name (optional)").fill("Maria Lopez")
    message_box = widget.get_by_role("textbox", name="Write a message…")
    message_box.fill("Hi! Do you ship beans to Lisbon?")
    message_box.press("Enter")
    customer_bubble = widget.locator(".ohw-msg--customer")
    expect(customer_bubble).to_contain_text("Do you ship beans to Lisbon?")
    expect(customer_bubble.locator(".ohw-meta")).to_have_text(re.compile(r"^Sent · "))
    # The support flow greets by name and offers its menu as buttons.
    expect(widget.locator(".ohw-msg--bot").first).to_contain_text(
        "Hi Maria Lopez! I'm the support assistant."
    )
    expect(widget.locator(".ohw-msg--bot").last).to_contain_text("How can I help you?")
    expect(widget.get_by_role("button", name="Talk to a person")).to_be_visible()
    screenshots(customer, "02-widget-greeting")

    # The new conversation appears in the agent's list without a reload, highlighted and unread.
    row = agent.locator("#conversation-list li").filter(has_text="Maria Lopez")
    expect(row).to_be_visible()
    expect(row).to_have_class(re.compile(r"\bis-new\b"))
    expect(row.get_by_text("Unread")).to_be_attached()
    expect(row).to_contain_text("Web chat")
    assert agent.evaluate("window.sameDocument") is True
    screenshots(agent, "03-inbox-new-conversation")

    row.get_by_role("button").click()
    timeline = agent.get_by_role("log", name="Messages and notes")
    expect(agent.get_by_role("heading", name="Maria Lopez", level=2).first).to_be_visible()
    expect(timeline.locator(".msg--customer")).to_contain_text("Do you ship beans to Lisbon?")
    expect(timeline.locator(".msg--bot").first).to_contain_text("I'm the support assistant")
    panel = agent.get_by_role("complementary", name="Customer")
    expect(panel.locator(".identity")).to_contain_text("webchat")
    expect(panel.locator(".identity")).to_contain_text("Verified")
    expect(row).not_to_have_class(re.compile(r"\bis-new\b"))

    agent.get_by_role("button", name="Assign to me").click()
    expect(agent.locator("#thread-meta")).to_contain_text("Assigned to You")

    composer = agent.get_by_role("textbox", name="Reply to the customer")
    composer.fill("Yes, we ship to Portugal in 2-3 days. Which roast would you like?")
    composer.press("Enter")
    expect(composer).to_have_value("")
    reply = widget.locator(".ohw-msg--agent")
    expect(reply).to_contain_text("We ship to Portugal in 2-3 days", ignore_case=True)
    # The widget is open, so the customer's browser reports the reply as read.
    agent_reply = timeline.locator(".msg--agent").filter(has_text="Portugal")
    expect(agent_reply.locator(".delivery")).to_contain_text("Read")

    agent.get_by_role("button", name="Private note").click()
    note_box = agent.get_by_role("textbox", name="Private note for your team")
    note_box.fill("VIP regular, offer free shipping on the first order.")
    note_box.press("Enter")
    expect(timeline.locator(".note")).to_contain_text("VIP regular")
    expect(timeline.locator(".note")).to_contain_text("Private note")

    # Replies and notes go out in order: once a later reply is on the customer's screen, a leaked
    # note would be there too.
    agent.get_by_role("button", name="Reply", exact=True).click()
    agent.get_by_role("textbox", name="Reply to the customer").fill("Free shipping is on us this time!")
    agent.get_by_role("textbox", name="Reply to the customer").press("Enter")
    expect(widget.locator(".ohw-msg--agent")).to_have_count(2)
    expect(widget).not_to_contain_text("VIP regular")
    # The customer panel follows along: the newest activity is the last reply.
    expect(panel.locator(".activity").first).to_contain_text("Free shipping is on us")
    expect(timeline.locator(".msg--agent .delivery").last).to_contain_text("Read")
    screenshots(agent, "04-inbox-conversation")
    screenshots(customer, "05-widget-agent-reply")

    # Resolving takes it out of the open list; reopening brings it back, live.
    agent.get_by_role("button", name="Resolve").click()
    expect(agent.locator("#thread-meta")).to_contain_text("Resolved")
    expect(row).to_have_count(0)
    agent.get_by_role("button", name="Reopen").click()
    expect(agent.locator("#thread-meta")).to_contain_text("Open")
    expect(row).to_be_visible()

    # A returning visitor gets the whole conversation back, once, and nothing unread.
    customer.reload()
    launcher = customer.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    launcher.click()
    # Customer, the support flow's greeting and menu, two agent replies, and the feedback survey the
    # resolution started.
    expect(widget.locator(".ohw-msg")).to_have_count(6)
    expect(widget.locator(".ohw-msg--bot").last).to_contain_text("Your conversation with us is closed.")
    expect(widget.locator(".ohw-msg--customer")).to_have_count(1)
    expect(widget.locator(".ohw-msg--customer")).to_contain_text("Do you ship beans to Lisbon?")
    expect(widget.locator(".ohw-msg--agent").last).to_contain_text("Free shipping is on us")
    expect(widget).not_to_contain_text("VIP regular")


def test_wrong_password_shows_the_servers_message(new_page: OpenPage, screenshots: Screenshot) -> None:
    page = new_page()
    log_in(page, "agent@example.com", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    expect(page).to_have_url(re.compile(r"/login$"))
    screenshots(page, "06-login-error")


def test_marketer_sees_no_private_notes(
    hub_server: HubServer, new_page: OpenPage, screenshots: Screenshot
) -> None:
    hub_server.create_agent("marketer@example.com", "Mark Marketer", "marketer")
    hub_server.visitor_writes("Do you sell gift cards?", name="Olga Petrenko", message_id="giftcards-0001")
    with hub_server.api_client("agent@example.com") as agent_api:
        conversation = conversation_id(agent_api, "Olga Petrenko")
        agent_api.post(
            f"/api/v1/conversations/{conversation}/notes", json={"text": "Wholesale lead, call back"}
        ).raise_for_status()

    page = new_page()
    log_in(page, "marketer@example.com", hub_server.password)
    # Marketers start in campaigns; the inbox is theirs to read, from the navigation bar.
    expect(page).to_have_url(re.compile(r"/campaigns$"))
    page.get_by_role("navigation").get_by_role("link", name="Inbox").click()
    expect(page.locator("#me-role")).to_have_text("marketer")
    page.locator("#conversation-list li").filter(has_text="Olga Petrenko").get_by_role("button").click()
    timeline = page.get_by_role("log", name="Messages and notes")
    expect(timeline.locator(".msg--customer")).to_contain_text("Do you sell gift cards?")
    expect(page.get_by_role("button", name="Private note")).to_have_count(0)
    expect(page.get_by_role("button", name="Resolve")).to_have_count(0)
    expect(page.get_by_text("You can read this conversation")).to_be_visible()
    expect(timeline.locator(".note")).to_have_count(0)
    expect(timeline).not_to_contain_text("Wholesale lead")
    screenshots(page, "07-inbox-marketer")


def test_phone_width(hub_server: HubServer, new_page: OpenPage, screenshots: Screenshot) -> None:
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    hub_server.visitor_writes(
        "Is the Guji good for espresso?", name="Sam Reed", message_id="phone-width-0001"
    )

    agent = new_page(**phone)
    log_in(agent, "agent@example.com", hub_server.password)
    row = agent.locator("#conversation-list li").filter(has_text="Sam Reed")
    expect(row).to_be_visible()
    screenshots(agent, "08-inbox-phone-list")
    row.get_by_role("button").click()
    expect(agent.get_by_role("log", name="Messages and notes")).to_contain_text(
        "Is the Guji good for espresso?"
    )
    expect(agent.get_by_role("button", name="Back to conversations")).to_be_visible()
    expect(agent.get_by_role("heading", name="Conversations")).to_be_hidden()
    screenshots(agent, "09-inbox-phone-conversation")

    customer = new_page(**phone)
    customer.goto("/chat")
    customer.get_by_role("button", name="Open chat").click()
    widget = customer.get_by_role("dialog")
    expect(widget).to_be_visible()
    expect(widget).to_have_css("width", "390px")  # the open chat takes the whole phone screen
    expect(widget.get_by_role("button", name="Close chat")).to_be_visible()
    screenshots(customer, "10-widget-phone")


def test_widget_speaks_the_visitors_language(new_page: OpenPage) -> None:
    customer = new_page(locale="es-ES")
    customer.goto("/chat")
    customer.get_by_role("button", name="Abrir chat").click()
    widget = customer.get_by_role("dialog")
    message_box = widget.get_by_role("textbox", name="Escribe un mensaje…")
    message_box.fill("¿Tenéis descafeinado?")
    message_box.press("Enter")
    expect(widget.locator(".ohw-msg--customer .ohw-meta")).to_contain_text("Enviado")
    expect(widget.locator(".ohw-msg--bot").first).to_contain_text("Soy el asistente de soporte")
    expect(widget.get_by_role("button", name="Hablar con una persona")).to_be_visible()


def test_widget_retries_with_the_same_message_id(new_page: OpenPage) -> None:
    customer = new_page()
    attempts: list[str] = []

    def flaky_network(route: Route) -> None:
        body = route.request.post_data_json
        if body["type"] != "message":
            route.continue_()
            return
        attempts.append(body["id"])
        if len(attempts) == 1:
            route.abort()  # a network error: the widget retries by itself
        elif len(attempts) == 2:
            # Refused: retrying unchanged won't help, so the visitor decides.
            route.fulfill(
                status=422, json={"error": {"code": "malformed_event", "message": "try again later"}}
            )
        else:
            route.continue_()

    customer.route("**/webhooks/webchat/site", flaky_network)
    customer.goto("/chat")
    customer.get_by_role("button", name="Open chat").click()
    widget = customer.get_by_role("dialog")
    widget.get_by_role("textbox", name="Write a message…").fill("Are you open on Sundays?")
    widget.get_by_role("textbox", name="Write a message…").press("Enter")
    bubble = widget.locator(".ohw-msg--customer")
    expect(bubble.locator(".ohw-meta")).to_contain_text("Not sent: try again later")
    bubble.get_by_role("button", name="Retry").click()
    expect(bubble.locator(".ohw-meta")).to_have_text(re.compile(r"^Sent · "))
    expect(widget.locator(".ohw-msg--bot").first).to_contain_text("support assistant")
    assert len(attempts) == 3 and len(set(attempts)) == 1, attempts
