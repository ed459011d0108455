"""Customers on every channel, played through the real pipeline.

Two layers, both used by the channel journey and shipped-flow tests:

- What each provider POSTs to the hub (``pbx_call``, ``telegram_says``, ``viber_callback``,
  ``twilio_posts``, ...), signed as the provider signs it, and the hub.yaml channel accounts pointing
  the real SDKs at the local fake providers (``provider_channels``).
- ``ChatCustomer``: one person on one channel who writes, presses buttons and shares their phone the
  way that channel lets them, and reads what reached them, as the provider (or the widget, or their
  mail server) got it. ``says`` and friends post, run the pipeline to rest (``drain``) and return the
  messages that arrived meanwhile, so a test reads like a chat transcript whatever the channel.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, ClassVar

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.signing import signed_headers
from hub.runtime import Hub
from tests.conftest import drain
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioApi,
    inbound_sms,
    inbound_whatsapp,
    signed_request,
)
from tests.fakes.viber_api import FakeViberApi
from tests.fakes.webchat import Visitor
from tests.processes import free_port

PUBLIC = "https://hub.example.com"
TELEGRAM_SECRET = "tg-webhook-secret"
VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
PBX_SECRET = "pbx-shared-secret"
CALLER = "+380501234567"
BOT_USERNAME = "omnihub_demo_bot"
VIBER_CHAT_URI = "omnihubdemo"
SMS_FROM = "+15005550006"
# Not Twilio's shared sandbox sender, which the adapter holds to one message every three seconds.
WHATSAPP_FROM = "+14155550100"
SUPPORT_ADDRESS = "support@shop.example"

# Update ids, message ids and Viber message tokens: unique within a test run, as the providers' are.
_ids = itertools.count(100)


def next_id() -> int:
    return next(_ids)


@dataclass
class Providers:
    telegram: FakeTelegramAPI
    viber: FakeViberApi
    twilio: FakeTwilioApi


@asynccontextmanager
async def fake_providers() -> AsyncIterator[Providers]:
    async with FakeTelegramAPI() as telegram, FakeViberApi(VIBER_TOKEN) as viber, FakeTwilioApi() as twilio:
        yield Providers(telegram, viber, twilio)


def provider_channels(p: Providers, *, whatsapp_from: str = f"whatsapp:{WHATSAPP_FROM}") -> dict[str, Any]:
    """hub.yaml channel accounts of every webhook provider, their SDKs pointed at the fakes."""
    twilio = {
        "provider": "twilio",
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "api_base": p.twilio.base_url,
    }
    return {
        "pbx": {"type": "telephony", "secret": PBX_SECRET},
        "sms-main": {"type": "sms", "from": SMS_FROM, **twilio},
        "whatsapp-main": {"type": "whatsapp", "from": whatsapp_from, **twilio},
        "voice-main": {"type": "voice", "greeting": "Sorry, we are busy. We will call you back.", **twilio},
        "main": {
            "type": "telegram",
            "token": TELEGRAM_TOKEN,
            "webhook_secret": TELEGRAM_SECRET,
            "bot_username": BOT_USERNAME,
            "api_base": p.telegram.base_url,
        },
        "viber-main": {
            "type": "viber",
            "auth_token": VIBER_TOKEN,
            "chat_uri": VIBER_CHAT_URI,
            "api_base": p.viber.api_base,
        },
    }


# --- what each provider sends ------------------------------------------------------------------


async def pbx_call(
    http: httpx.AsyncClient, event: str, call_id: str = "call-1", caller: str = CALLER, **extra: Any
) -> httpx.Response:
    body = json.dumps(
        {
            "call_id": call_id,
            "event": event,
            "caller": caller,
            "callee": "+380441112233",
            "direction": "inbound",
            **extra,
        }
    ).encode()
    return await http.post(
        "/webhooks/telephony/pbx",
        content=body,
        headers={"Content-Type": "application/json", **signed_headers(PBX_SECRET, body)},
    )


def telegram_user(user_id: int, first_name: str = "Olena", language: str = "uk") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language}


def telegram_message(user: dict[str, Any], **content: Any) -> dict[str, Any]:
    """A private-chat Update carrying a message from ``user`` with ``content`` (text, contact...)."""
    message: dict[str, Any] = {
        "message_id": next_id(),
        "date": int(time.time()),
        "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
        "from": user,
        **content,
    }
    text = content.get("text", "")
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": next_id(), "message": message}


async def telegram_post(
    http: httpx.AsyncClient, update: dict[str, Any], secret: str = TELEGRAM_SECRET
) -> httpx.Response:
    return await http.post(
        "/webhooks/telegram/main", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
    )


async def telegram_says(
    http: httpx.AsyncClient,
    text: str,
    user_id: int = 777,
    secret: str = TELEGRAM_SECRET,
    update_id: int | None = None,
) -> httpx.Response:
    update = telegram_message(telegram_user(user_id), text=text)
    if update_id is not None:
        update["update_id"] = update_id
    return await telegram_post(http, update, secret)


async def viber_callback(
    http: httpx.AsyncClient, payload: dict[str, Any], key: str = VIBER_TOKEN
) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return await http.post(
        "/webhooks/viber/viber-main",
        content=body,
        headers={"Content-Type": "application/json", "X-Viber-Content-Signature": signature},
    )


VIBER_USER = {"id": "01234567890A=", "name": "Olena", "language": "uk", "country": "UA", "api_version": 8}


def viber_started(
    context: str, user: dict[str, Any] = VIBER_USER, subscribed: bool = False
) -> dict[str, Any]:
    """The user opened the chat (through a link whose ``context`` is the start payload)."""
    return {
        "event": "conversation_started",
        "timestamp": int(time.time() * 1000),
        "message_token": next_id(),
        "type": "open",
        "context": context,
        "user": user,
        "subscribed": subscribed,
    }


def viber_message(user: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "message_token": next_id(),
        "sender": user,
        "message": message,
    }


def viber_text(text: str, user: dict[str, Any] = VIBER_USER) -> dict[str, Any]:
    return viber_message(user, {"type": "text", "text": text})


async def twilio_posts(
    http: httpx.AsyncClient, account: str, params: dict[str, str], channel: str = "sms"
) -> httpx.Response:
    request = signed_request(f"{PUBLIC}/webhooks/{channel}/{account}", params)
    return await http.post(
        f"/webhooks/{channel}/{account}", content=request.body, headers=dict(request.headers)
    )


class Mailbox:
    """The customer's mail server: records what the hub sends out."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class MailSetup:
    """An email account's two ends in tests: the customers' mail server the hub sends to, and the
    port of the hub's own SMTP server customers' mail arrives at."""

    mailbox: Mailbox
    outbound_port: int
    inbound_port: int

    def account(self) -> dict[str, Any]:
        return {
            "type": "email",
            "address": SUPPORT_ADDRESS,
            "display_name": "Shop Support",
            # The default (1/s) is a real relay's; tests send bursts of bot messages at once.
            "smtp": {
                "host": "127.0.0.1",
                "port": self.outbound_port,
                "security": "none",
                "max_per_second": 100,
            },
            "inbound_smtp": {"host": "127.0.0.1", "port": self.inbound_port},
        }


@asynccontextmanager
async def mail_setup() -> AsyncIterator[MailSetup]:
    mailbox = Mailbox()
    outbound = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    outbound.start()
    try:
        yield MailSetup(mailbox, outbound.port, free_port())
    finally:
        outbound.stop()


# --- customers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message as it reached the customer. ``buttons`` are the titles of the buttons the channel
    shows natively (empty where they became text); ``markup`` is how the channel carries them
    (Telegram reply_markup, Viber keyboard, the web chat's button list); ``images`` are the URLs of
    the pictures it carries; ``raw`` is what the provider got."""

    text: str
    buttons: tuple[str, ...] = ()
    markup: Any = None
    images: tuple[str, ...] = ()
    raw: Any = field(default=None, repr=False)


class ChatCustomer(ABC):
    """One person writing to the hub on one channel. Every action posts what the provider would,
    runs the pipeline to rest and returns the messages that reached the customer meanwhile."""

    channel: ClassVar[str]

    def __init__(self, hub: Hub, http: httpx.AsyncClient) -> None:
        self.hub = hub
        self.http = http

    @property
    @abstractmethod
    def identity(self) -> str:
        """How the hub knows them: ``kind:address`` as the customers API searches it."""

    @abstractmethod
    async def received(self) -> list[Received]:
        """Everything that reached them so far, in order."""

    @abstractmethod
    async def write(self, text: str) -> None:
        """Post a message they typed (nothing more: no draining)."""

    async def after(self, action: Callable[[], Awaitable[object]]) -> list[Received]:
        """Do ``action`` (post something, or an agent acts through the API), run the pipeline to rest,
        and return what reached the customer meanwhile."""
        before = len(await self.received())
        await action()
        await drain(self.hub)
        return (await self.received())[before:]

    async def says(self, text: str) -> list[Received]:
        return await self.after(lambda: self.write(text))

    async def choose(self, title: str) -> list[Received]:
        """Pick the option titled ``title`` of the last message, as this channel lets them: by
        default they write the title (the web chat widget sends a pressed button's title; an email
        lists the options to reply with)."""
        return await self.says(title)

    async def share_phone(self, phone: str) -> list[Received]:
        # Only Telegram and Viber have the button (their subclasses override this).
        raise AssertionError(f"a {self.channel} customer cannot share a phone: the channel has no button")

    async def _last_with_option(self, title: str) -> Received:
        for message in reversed(await self.received()):
            if title in message.buttons or re.search(rf"^\d+\. {re.escape(title)}$", message.text, re.M):
                return message
        raise AssertionError(f"no message offered {title!r} on {self.channel}")


class TelegramCustomer(ChatCustomer):
    channel = "telegram"

    def __init__(
        self,
        hub: Hub,
        http: httpx.AsyncClient,
        telegram: FakeTelegramAPI,
        user_id: int = 4242,
        first_name: str = "Olena",
        language: str = "en",
    ) -> None:
        super().__init__(hub, http)
        self.telegram = telegram
        self.user = telegram_user(user_id, first_name, language)
        # The webhook's answer to the last update (a button press is acknowledged in it).
        self.last_response: httpx.Response | None = None

    @property
    def identity(self) -> str:
        return f"telegram:{self.user['id']}"

    async def received(self) -> list[Received]:
        chat = str(self.user["id"])
        return [
            _telegram_received(call)
            for call in self.telegram.calls
            if call.method.startswith("send") and call.params.get("chat_id") == chat
        ]

    async def _post(self, update: dict[str, Any]) -> None:
        self.last_response = await telegram_post(self.http, update)
        assert self.last_response.status_code == 200, self.last_response.text

    async def write(self, text: str) -> None:
        await self._post(telegram_message(self.user, text=text))

    async def start(self, payload: str) -> list[Received]:
        """Open the bot through ``t.me/<bot>?start=<payload>``: Telegram sends "/start <payload>"."""
        return await self.says(f"/start {payload}")

    async def choose(self, title: str) -> list[Received]:
        """Press the inline button titled ``title``: Telegram sends a callback_query carrying the
        message the button sat under. A reply-keyboard button sends its title as text."""
        pressed = self._inline_button(title)
        if pressed is None:
            return await self.says(title)
        message, data = pressed
        query = {
            "id": str(next_id()),
            "from": self.user,
            "chat_instance": f"ci-{self.user['id']}",
            "data": data,
            "message": message,
        }
        return await self.after(lambda: self._post({"update_id": next_id(), "callback_query": query}))

    def _inline_button(self, title: str) -> tuple[dict[str, Any], str] | None:
        """The newest message in their chat with an inline button titled ``title``, and its data."""
        for message in reversed(self.telegram.messages):
            if message["chat"]["id"] != self.user["id"]:
                continue
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == title:
                        return message, button["callback_data"]
        return None

    async def share_phone(self, phone: str) -> list[Received]:
        """Press the share-phone button: Telegram sends their own contact (user_id is theirs)."""
        contact = {
            "phone_number": phone.lstrip("+"),
            "first_name": self.user["first_name"],
            "user_id": self.user["id"],
        }
        return await self.after(lambda: self._post(telegram_message(self.user, contact=contact)))


def _telegram_received(call: Any) -> Received:
    markup = json.loads(call.params.get("reply_markup", "{}"))
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    photo = call.params.get("photo")
    return Received(
        text=call.params.get("text") or call.params.get("caption") or "",
        buttons=tuple(button["text"] for row in rows for button in row),
        markup=markup or None,
        images=(photo,) if call.method == "sendPhoto" and photo else (),
        raw=call,
    )


class ViberCustomer(ChatCustomer):
    channel = "viber"

    def __init__(
        self,
        hub: Hub,
        http: httpx.AsyncClient,
        viber: FakeViberApi,
        user_id: str = "vbr-Olena-0001=",
        name: str = "Olena",
        language: str = "en",
    ) -> None:
        super().__init__(hub, http)
        self.viber = viber
        self.user = {"id": user_id, "name": name, "language": language, "country": "UA", "api_version": 8}

    @property
    def identity(self) -> str:
        return f"viber:{self.user['id']}"

    async def received(self) -> list[Received]:
        mine = [body for body in self.viber.accepted if body.get("receiver") == self.user["id"]]
        return [_viber_received(body) for body in mine]

    async def _post(self, payload: dict[str, Any]) -> None:
        response = await viber_callback(self.http, payload)
        assert response.status_code == 200, response.text

    async def _message(self, message: dict[str, Any]) -> None:
        # Viber hands the tracking_data of the bot's last message back with the user's next one.
        received = await self.received()
        if received and "tracking_data" in received[-1].raw:
            message = {**message, "tracking_data": received[-1].raw["tracking_data"]}
        await self._post(viber_message(self.user, message))

    async def write(self, text: str) -> None:
        await self._message({"type": "text", "text": text})

    async def open(self, context: str, *, subscribed: bool) -> list[Received]:
        """Open the chat through ``viber://pa?chatURI=...&context=<context>``."""
        return await self.after(lambda: self._post(viber_started(context, self.user, subscribed)))

    async def choose(self, title: str) -> list[Received]:
        """Press a keyboard button: Viber sends its ActionBody as the text of a message."""
        message = await self._last_with_option(title)
        [body] = [b["ActionBody"] for b in message.markup["Buttons"] if b["Text"] == title]
        return await self.says(body)

    async def share_phone(self, phone: str) -> list[Received]:
        """Press the share-phone button: Viber sends a contact message with their number."""
        contact = {"name": self.user["name"], "phone_number": phone.lstrip("+")}
        return await self.after(lambda: self._message({"type": "contact", "contact": contact}))


def _viber_received(body: dict[str, Any]) -> Received:
    keyboard = body.get("keyboard")
    return Received(
        text=body.get("text") or "",
        buttons=tuple(b["Text"] for b in keyboard["Buttons"]) if keyboard else (),
        markup=keyboard,
        images=(body["media"],) if body.get("type") == "picture" else (),
        raw=body,
    )


class TwilioCustomer(ChatCustomer):
    """A phone texting the hub's Twilio number, by SMS or WhatsApp. Neither has buttons: options
    come as a numbered list, and the customer answers with the number."""

    def __init__(self, hub: Hub, http: httpx.AsyncClient, twilio: FakeTwilioApi, phone: str) -> None:
        super().__init__(hub, http)
        self.twilio = twilio
        self.phone = phone

    @property
    def identity(self) -> str:
        return f"phone:{self.phone}"

    @property
    @abstractmethod
    def address(self) -> str:
        """The To of messages to them."""

    async def received(self) -> list[Received]:
        return [
            Received(text=m.param("Body") or "", images=tuple(m.form.get("MediaUrl", [])), raw=m)
            for m in self.twilio.messages
            if m.param("To") == self.address
        ]

    async def choose(self, title: str) -> list[Received]:
        message = await self._last_with_option(title)
        number = re.search(rf"^(\d+)\. {re.escape(title)}$", message.text, re.M)
        assert number is not None
        return await self.says(number[1])


class SmsCustomer(TwilioCustomer):
    channel = "sms"

    @property
    def address(self) -> str:
        return self.phone

    async def write(self, text: str) -> None:
        form = inbound_sms(text, sender=self.phone, to=SMS_FROM)
        response = await twilio_posts(self.http, "sms-main", form)
        assert response.status_code == 200, response.text


class WhatsAppCustomer(TwilioCustomer):
    channel = "whatsapp"

    def __init__(
        self, hub: Hub, http: httpx.AsyncClient, twilio: FakeTwilioApi, phone: str, name: str = "Olena"
    ) -> None:
        super().__init__(hub, http, twilio, phone)
        self.name = name

    @property
    def address(self) -> str:
        return f"whatsapp:{self.phone}"

    async def write(self, text: str) -> None:
        form = inbound_whatsapp(text, sender=self.phone, to=WHATSAPP_FROM, profile_name=self.name)
        response = await twilio_posts(self.http, "whatsapp-main", form, channel="whatsapp")
        assert response.status_code == 200, response.text


class WebchatCustomer(ChatCustomer):
    """A visitor in the website chat widget (which sends a pressed button's title as text)."""

    channel = "webchat"

    def __init__(
        self, hub: Hub, http: httpx.AsyncClient, visitor: Visitor, name: str = "Olena", locale: str = "en"
    ) -> None:
        super().__init__(hub, http)
        self.visitor = visitor
        self.name = name
        self.locale = locale

    @classmethod
    async def arrive(cls, hub: Hub, http: httpx.AsyncClient, **options: Any) -> WebchatCustomer:
        return cls(hub, http, await Visitor.start(http), **options)

    @property
    def identity(self) -> str:
        return f"webchat:{self.visitor.visitor_id}"

    async def received(self) -> list[Received]:
        return [
            Received(
                text=m["text"],
                buttons=tuple(b["title"] for b in m["buttons"]),
                markup=m["buttons"] or None,
                images=tuple(a["url"] for a in m["attachments"] if a["kind"] == "image"),
                raw=m,
            )
            for m in await self.visitor.history(self.http)
            if m["direction"] == "outbound"
        ]

    async def write(self, text: str) -> None:
        response = await self.visitor.say(self.http, text, name=self.name, locale=self.locale)
        assert response.status_code == 200, response.text


class EmailCustomer(ChatCustomer):
    """Someone mailing the hub's support address; each mail answers the last one they got."""

    channel = "email"

    def __init__(
        self,
        hub: Hub,
        http: httpx.AsyncClient,
        mail: MailSetup,
        address: str = "olena@customer.example",
        name: str = "Olena",
    ) -> None:
        super().__init__(hub, http)
        self.mail = mail
        self.address = address
        self.name = name

    @property
    def identity(self) -> str:
        return f"email:{self.address}"

    async def received(self) -> list[Received]:
        return [
            # SMTP carries CRLF line ends; the text as the customer's mail client shows it.
            Received(text=_plain_text(m), raw=m)
            for m in self.mail.mailbox.received
            if m["To"] == self.address
        ]

    async def write(self, text: str, subject: str = "Hello") -> None:
        mail = EmailMessage()
        mail["From"] = f"{self.name} <{self.address}>"
        mail["To"] = SUPPORT_ADDRESS
        mail["Message-ID"] = f"<{uuid.uuid4().hex}@customer.example>"
        received = await self.received()
        if received:
            last = received[-1].raw
            mail["Subject"] = f"Re: {last['Subject']}".replace("Re: Re: ", "Re: ")
            mail["In-Reply-To"] = last["Message-ID"]
            mail["References"] = last["Message-ID"]
        else:
            mail["Subject"] = subject
        mail.set_content(text)
        # The hub's SMTP server answers 250 only once the mail is stored: draining after this sees it.
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=self.mail.inbound_port)


def _plain_text(mail: email.message.EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None, "the mail has no text/plain body"
    return str(body.get_content()).replace("\r\n", "\n").strip()


def texts(messages: Sequence[Received]) -> list[str]:
    return [message.text for message in messages]
