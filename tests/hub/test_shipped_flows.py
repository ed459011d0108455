"""The four shipped flows (flows/*.yaml) on every channel, through the real pipeline, on SQLite and
PostgreSQL: the hub is built on the repository's own flows folder, as `hub serve` builds it, with
every channel account configured and the real SDKs talking to the fake providers (Telegram, Viber,
Twilio SMS/WhatsApp, the PBX webhook), the web chat visitor, and email through the hub's SMTP server
out to an aiosmtpd mailbox.

The transcript tests (flows/tests/) check each flow's logic against the engine; these check that
what the flows say reaches each channel in the form the channel shows it (Telegram keyboards, Viber
keyboards, numbered lists by SMS and WhatsApp, "reply with" lines by email, the widget's buttons),
that each channel's way of answering (a button press, a typed number, a shared contact) comes back
as the answer, and that the customer record ends up as the flows promise.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub import deeplinks
from hub.runtime import Hub
from inbox.models import Role, Team
from tests.conftest import REPO, agent_headers, client_for, drain, hub_config, settings_for
from tests.hub.channel_helpers import (
    BOT_USERNAME,
    CALLER,
    SMS_FROM,
    ChatCustomer,
    EmailCustomer,
    MailSetup,
    Providers,
    Received,
    SmsCustomer,
    TelegramCustomer,
    ViberCustomer,
    WebchatCustomer,
    WhatsAppCustomer,
    fake_providers,
    mail_setup,
    pbx_call,
    provider_channels,
    texts,
)

CHANNELS = ["telegram", "viber", "sms", "whatsapp", "webchat", "email"]
SMS_PHONE = "+380671112233"
WHATSAPP_PHONE = "+380931112233"


@dataclass
class Shipped:
    """A hub running the shipped flows, its fake providers, and an agent's API session."""

    hub: Hub
    http: httpx.AsyncClient
    providers: Providers
    mail: MailSetup
    headers: dict[str, str]

    async def customer(self, channel: str) -> ChatCustomer:
        """Olena (English), new to the hub, on ``channel``. On SMS the hub knows no name."""
        hub, http, p = self.hub, self.http, self.providers
        match channel:
            case "telegram":
                return TelegramCustomer(hub, http, p.telegram)
            case "viber":
                return ViberCustomer(hub, http, p.viber)
            case "sms":
                return SmsCustomer(hub, http, p.twilio, SMS_PHONE)
            case "whatsapp":
                return WhatsAppCustomer(hub, http, p.twilio, WHATSAPP_PHONE)
            case "webchat":
                return await WebchatCustomer.arrive(hub, http)
            case "email":
                return EmailCustomer(hub, http, self.mail)
        raise ValueError(f"no customer for channel {channel!r}")

    async def get(self, path: str) -> Any:
        response = await self.http.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def record(self, customer: ChatCustomer) -> dict[str, Any]:
        """The customer's record as agents see it, found by their identity on the channel."""
        [found] = await self.get(f"/api/v1/customers?identity={customer.identity}")
        return await self.get(f"/api/v1/customers/{found['id']}")

    async def conversation(self, customer_id: int) -> dict[str, Any]:
        """The customer's only conversation."""
        [conversation] = await self.get(f"/api/v1/conversations?customer_id={customer_id}")
        return conversation

    async def team_name(self, team_id: int | None) -> str | None:
        async with self.hub.db.session() as session:
            team = (await session.execute(select(Team).where(Team.id == team_id))).scalars().first()
        return team.name if team is not None else None


@pytest.fixture
async def shipped(database_url: str, tmp_path: Path) -> AsyncIterator[Shipped]:
    async with fake_providers() as providers, mail_setup() as mail:
        channels = {**provider_channels(providers), "site": {"type": "webchat"}, "mail": mail.account()}
        # No business_hours: always open, so "talk to a person" reaches the team whatever the clock says.
        config = hub_config(channels, flows_dir=str(REPO / "flows"), teams=["support", "callbacks"])
        # No reloader: the flows are the files as they are when the test starts.
        settings = settings_for(database_url, tmp_path / "var").model_copy(
            update={"hub_flows_reload_seconds": 0}
        )
        hub = Hub.build(settings, config)
        assert hub.flows is not None
        assert {"support", "registration", "missed_call", "feedback"} <= set(hub.flows.flows.ids)
        await hub.start(workers=False, listeners=True)
        try:
            smtp = hub.accounts.get("mail").adapter.smtp_server  # type: ignore[attr-defined]
            await asyncio.wait_for(smtp.started.wait(), 10)
            headers, _ = await agent_headers(hub, Role.AGENT)
            async with client_for(hub) as http:
                yield Shipped(hub, http, providers, mail, headers)
        finally:
            await hub.stop()


def events(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry["payload"] for entry in record["timeline"] if entry["kind"] == kind]


# --- missed call -----------------------------------------------------------------------------


DONE = "Done! We'll call you back (this-afternoon). You can also write here any time."


class TestMissedCall:
    async def test_call_sms_link_telegram_slot_and_callback_team_on_one_record(
        self, shipped: Shipped
    ) -> None:
        hub, http, providers = shipped.hub, shipped.http, shipped.providers

        # 1. The PBX reports a missed call: the customer is created by phone, and the flow answers by
        #    SMS with a link to the Telegram bot bound to them.
        assert (await pbx_call(http, "missed")).status_code == 200
        await drain(hub)
        [customer] = await shipped.get(f"/api/v1/customers?identity=phone:{CALLER}")
        [sms] = providers.twilio.messages
        assert (sms.param("To"), sms.param("From")) == (CALLER, SMS_FROM)
        body = sms.param("Body") or ""
        assert body.startswith("Sorry we missed your call! Continue with us on Telegram")
        link = re.search(rf"https://t\.me/{BOT_USERNAME}\?start=(\S+)$", body)
        assert link is not None, body
        assert deeplinks.resolve(hub.settings.secret_key, link[1]) == customer["id"]

        # 2. They open it on a Telegram account the hub has never seen: the chat is bound to the
        #    caller's record, and the flow, waiting for that, greets them and offers the slots there.
        olena = TelegramCustomer(hub, http, providers.telegram, user_id=9001, first_name="Olena")
        greeting = await olena.start(link[1])
        assert texts(greeting) == [
            "Hi Olena! You called us a moment ago and we couldn't pick up.",
            "When should we call you back?",
        ]
        assert greeting[-1].markup == {
            "inline_keyboard": [
                [{"text": "Within an hour", "callback_data": "within-an-hour"}],
                [{"text": "This afternoon", "callback_data": "this-afternoon"}],
                [{"text": "Tomorrow morning", "callback_data": "tomorrow-morning"}],
                [{"text": "No call, let's chat here", "callback_data": "chat"}],
            ]
        }
        record = await shipped.record(olena)
        assert record["id"] == customer["id"]
        assert {(i["kind"], i["address"], i["verified"]) for i in record["identities"]} == {
            ("phone", CALLER, True),
            ("telegram", "9001", True),
        }
        assert events(record, "deep_link.opened") == [{"channel": "telegram", "account": "main"}]

        # 3. They press a slot: the press is answered inside the webhook reply (Telegram stops the
        #    button's spinner), and the conversation goes to the callbacks team with the slot.
        done = await olena.choose("This afternoon")
        assert olena.last_response is not None
        ack = json.loads(olena.last_response.content)
        assert ack["method"] == "answerCallbackQuery" and ack["callback_query_id"]
        assert texts(done) == [DONE]
        conversation = await shipped.conversation(customer["id"])
        assert (conversation["channel_type"], conversation["bot_active"]) == ("telegram", False)
        assert await shipped.team_name(conversation["team_id"]) == "callbacks"
        notes = await shipped.get(f"/api/v1/conversations/{conversation['id']}/notes")
        assert [n["text"] for n in notes] == [
            "Call back Olena (this-afternoon): missed call, asked on telegram."
        ]
        record = await shipped.record(olena)
        assert [e["slot"] for e in events(record, "callback.requested")] == ["this-afternoon"]

        # 4. One customer, one window: the call, the SMS and the Telegram chat (the token is not shown).
        messages = await shipped.get(f"/api/v1/conversations/{conversation['id']}/messages")
        assert [(m["channel_type"], m["direction"], m["text"]) for m in messages] == [
            ("telephony", "inbound", f"Missed call from {CALLER}"),
            ("sms", "outbound", body),
            ("telegram", "inbound", "/start"),
            ("telegram", "outbound", "Hi Olena! You called us a moment ago and we couldn't pick up."),
            ("telegram", "outbound", "When should we call you back?"),
            ("telegram", "inbound", "This afternoon"),
            ("telegram", "outbound", DONE),
        ]
        assert all(m["status"] == "sent" for m in messages if m["direction"] == "outbound")

        # 5. A person is in charge now: the bot stays quiet.
        assert await olena.says("Any time after 3 is fine") == []
        # The same customer later writing on Viber (through the Viber deep link) lands on this record
        # too: tests/hub/test_channel_journeys.py::test_call_sms_telegram_viber_on_one_record.


# --- registration ----------------------------------------------------------------------------

WELCOME = "Welcome to the club! Registering takes a minute and gets you 10% off your next order."
SHARE_PROMPT = "First, your phone number, so we recognise you when you call."
TYPED_PROMPT = "First, what's your phone number? (with the country code, e.g. +34600123456)"
FIRST_NAME = "What's your first name?"
WELCOME_CODE = "You're in, Olena! Show this code at the till or use WELCOME10 online for 10% off."


async def start_registration(customer: ChatCustomer) -> list[Received]:
    """Start the flow the way each channel does: a t.me link with start=register, a Viber link with
    context=register (Viber lets the bot answer only a subscribed user, so this is someone who has
    written before), or writing "register"."""
    if isinstance(customer, TelegramCustomer):
        return await customer.start("register")
    if isinstance(customer, ViberCustomer):
        return await customer.open("register", subscribed=True)
    return await customer.says("register")


async def phone_step(customer: ChatCustomer) -> tuple[str | None, bool]:
    """Start registering and get through the phone step as the channel allows; the phone the
    customer's record should then have, and whether it is verified."""
    started = await start_registration(customer)
    if isinstance(customer, SmsCustomer | WhatsAppCustomer):
        # The number they text from is known and verified: no question.
        assert texts(started) == [WELCOME, FIRST_NAME]
        return customer.phone, True
    if isinstance(customer, TelegramCustomer | ViberCustomer):
        assert texts(started) == [WELCOME, SHARE_PROMPT]
        if isinstance(customer, TelegramCustomer):
            # A share-phone button exists only on a reply keyboard.
            assert started[-1].markup == {
                "keyboard": [[{"text": "Share my number", "request_contact": True}]],
                "one_time_keyboard": True,
                "resize_keyboard": True,
            }
        else:
            assert [(b["ActionType"], b["Text"]) for b in started[-1].markup["Buttons"]] == [
                ("share-phone", "Share my number")
            ]
        assert texts(await customer.share_phone("+380501112233")) == [FIRST_NAME]
        return "+380501112233", True
    # Web chat and email have no such button: the number is typed, and stays unverified.
    assert texts(started) == [WELCOME, TYPED_PROMPT]
    assert started[-1].buttons == ()
    assert texts(await customer.says("+34 612 345 678")) == [FIRST_NAME]
    return "+34612345678", False


async def register(customer: ChatCustomer) -> tuple[list[Received], tuple[str | None, bool]]:
    """The whole registration; what reached the customer with the welcome code, and their phone."""
    phone = await phone_step(customer)
    assert texts(await customer.says("Olena")) == [
        "Thanks, Olena! What's your email? (for receipts and the newsletter)"
    ]
    assert texts(await customer.says("Olena@Example.com")) == [
        "When is your birthday? (e.g. 31/03/1990) We have a gift for you that day."
    ]
    [offers] = await customer.says("31/03/1990")
    assert offers.text.startswith("Last one: may we send you offers and news here?")
    return await customer.choose("Yes"), phone


class TestRegistration:
    @pytest.mark.parametrize("channel", CHANNELS)
    async def test_registering_fills_the_record_and_sends_the_welcome_code(
        self, shipped: Shipped, channel: str
    ) -> None:
        customer = await shipped.customer(channel)
        code, (phone, verified) = await register(customer)

        # The welcome code as each channel carries an image with a caption.
        if channel == "viber":  # text first, then the picture
            assert texts(code) == [WELCOME_CODE, ""] and len(code[1].images) == 1
        elif channel == "email":  # no images in the body: a link under "Attachments"
            [mail] = code
            assert mail.text.startswith(WELCOME_CODE + "\n\nAttachments:\n- qr.png: ")
        else:
            [photo] = code
            assert photo.text == WELCOME_CODE and len(photo.images) == 1
            assert "/media/shared/" in photo.images[0] and "/qr.png?sig=" in photo.images[0]

        record = await shipped.record(customer)
        assert {k: record["attributes"].get(k) for k in ("first_name", "email", "birthday")} == {
            "first_name": "Olena",
            "email": "olena@example.com",
            "birthday": "1990-03-31",
        }
        assert "club" in record["tags"]
        assert (
            "phone",
            phone,
            verified,
        ) in {(i["kind"], i["address"], i["verified"]) for i in record["identities"]}
        assert [(c["channel"], c["purpose"], c["granted"]) for c in record["consents"]] == [
            (channel, "marketing", True)
        ]
        [registered] = events(record, "customer.registered")
        assert (registered["channel"], registered["offers"]) == (channel, True)

    @pytest.mark.parametrize("channel", ["telegram", "webchat"])
    async def test_the_customer_can_open_the_welcome_code_image(self, shipped: Shipped, channel: str) -> None:
        customer = await shipped.customer(channel)
        code, _ = await register(customer)
        [url] = code[-1].images
        assert url.startswith("https://hub.example.com/media/")
        # Fetched without an agent's credentials, as the provider or the visitor's browser does.
        response = await shipped.http.get(url.removeprefix("https://hub.example.com"))
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG")


# --- support ---------------------------------------------------------------------------------

MENU = "How can I help you?"


def _telegram_menu(menu: Received) -> None:
    assert menu.text == MENU
    assert menu.markup == {
        "inline_keyboard": [
            [{"text": "Order status", "callback_data": "order"}],
            [{"text": "I have a question", "callback_data": "faq"}],
            [{"text": "Talk to a person", "callback_data": "person"}],
        ]
    }


def _viber_menu(menu: Received) -> None:
    assert menu.text == MENU
    assert menu.markup["Type"] == "keyboard"
    assert [(b["ActionType"], b["ActionBody"], b["Text"]) for b in menu.markup["Buttons"]] == [
        ("reply", "order", "Order status"),
        ("reply", "faq", "I have a question"),
        ("reply", "person", "Talk to a person"),
    ]
    # The payloads travel in tracking_data, so a press can be told from typed text.
    assert "tracking_data" in menu.raw


def _sms_menu(menu: Received) -> None:
    assert menu.text == (
        f"{MENU}\n\n1. Order status\n2. I have a question\n3. Talk to a person\n\nReply 1, 2 or 3"
    )


def _whatsapp_menu(menu: Received) -> None:
    assert menu.text == (
        f"{MENU}\n\n1. Order status\n2. I have a question\n3. Talk to a person\n\nReply with a number"
    )


def _webchat_menu(menu: Received) -> None:
    assert menu.text == MENU
    assert [(b["title"], b["payload"]) for b in menu.markup] == [
        ("Order status", "order"),
        ("I have a question", "faq"),
        ("Talk to a person", "person"),
    ]


def _email_menu(menu: Received) -> None:
    assert menu.text == (
        f"{MENU}\n\nReply with one of:\n- Order status\n- I have a question\n- Talk to a person"
    )


# How each channel shows the menu's three options.
MENU_RENDERED: dict[str, Callable[[Received], None]] = {
    "telegram": _telegram_menu,
    "viber": _viber_menu,
    "sms": _sms_menu,
    "whatsapp": _whatsapp_menu,
    "webchat": _webchat_menu,
    "email": _email_menu,
}


class TestSupport:
    @pytest.mark.parametrize("channel", CHANNELS)
    async def test_hello_gets_the_menu_and_talk_to_a_person_hands_off(
        self, shipped: Shipped, channel: str
    ) -> None:
        customer = await shipped.customer(channel)
        greeting, menu = await customer.says("Hello")
        name = "there" if channel == "sms" else "Olena"  # an SMS carries no name
        assert greeting.text == f"Hi {name}! I'm the support assistant."
        MENU_RENDERED[channel](menu)

        assert texts(await customer.choose("Talk to a person")) == [
            "Sure. In a few words, what is it about? A person will read it before replying."
        ]
        assert texts(await customer.says("My parcel arrived broken")) == [
            "Thanks! I'm passing you to our team; someone will reply here shortly."
        ]
        record = await shipped.record(customer)
        conversation = await shipped.conversation(record["id"])
        assert (conversation["channel_type"], conversation["bot_active"]) == (channel, False)
        assert await shipped.team_name(conversation["team_id"]) == "support"
        notes = await shipped.get(f"/api/v1/conversations/{conversation['id']}/notes")
        assert [n["text"] for n in notes] == [
            'Bot flow "support" collected:\n- menu: person\n- topic: My parcel arrived broken'
        ]
        # People have it now: even the menu keyword gets no bot answer.
        assert await customer.says("menu") == []


# --- feedback --------------------------------------------------------------------------------

RATING = "Your conversation with us is closed. How would you rate our help, from 1 (bad) to 5 (great)?"


# A mail client's reply threads into the conversation it answers (In-Reply-To). Answering the rating
# mail therefore reopens the resolved conversation, where a person was in charge (bot off), and the
# engine stops the flow waiting there: the rating is lost and "5" lands in the inbox instead.
class TestFeedback:
    @pytest.mark.parametrize("channel", CHANNELS)
    async def test_resolving_asks_for_a_rating_on_the_channel_and_stores_it(
        self, shipped: Shipped, channel: str
    ) -> None:
        customer = await shipped.customer(channel)
        await customer.says("Hello")
        record = await shipped.record(customer)
        conversation = await shipped.conversation(record["id"])

        # An agent answers and resolves the conversation through the API.
        async def agent(path: str, body: dict[str, Any]) -> None:
            response = await shipped.http.post(
                f"/api/v1/conversations/{conversation['id']}/{path}", json=body, headers=shipped.headers
            )
            assert response.status_code in (200, 201), response.text

        answered = await customer.after(lambda: agent("messages", {"text": "It ships today."}))
        assert texts(answered) == ["It ships today."]
        rating = await customer.after(lambda: agent("status", {"status": "resolved"}))
        [question] = rating
        assert question.text.startswith(RATING)
        if channel in ("telegram", "viber", "webchat"):
            assert question.buttons == ("1", "2", "3", "4", "5")

        assert texts(await customer.choose("5")) == [
            'Thank you! Anything you\'d like to tell us? (or write "no")'
        ]
        name = "there" if channel == "sms" else "Olena"
        assert texts(await customer.says("Quick and friendly")) == [f"Thanks for your feedback, {name}! 💙"]

        record = await shipped.record(customer)
        assert record["attributes"]["csat"] == 5
        assert "promoter" in record["tags"]
        [submitted] = events(record, "csat.submitted")
        assert (submitted["rating"], submitted["comment"]) == (5, "Quick and friendly")
