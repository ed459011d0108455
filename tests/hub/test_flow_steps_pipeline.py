"""The new flow steps through the real hub pipeline, on SQLite and PostgreSQL, with the real SDKs
talking to the fake provider servers: a QR code reaches the web chat visitor and Telegram (stored in
the media store), a missed call is answered by SMS with a Telegram deep link (and again after a wait,
from a restarted hub), a reply to a channel the customer cannot be reached on is skipped with the
reason on the timeline, a shared Telegram contact completes share_contact (joining the caller's
record), and an event from the API resumes a waiting flow.

Hubs are built exactly as ``hub serve`` builds them (hub/runtime.py gives the flow engine the hub's
secret key for deep links and its media store for images), with a test clock on the engine.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import segno
from sqlalchemy import select

from bots.flows.state import FlowState
from crm_core.models import Customer, CustomerEvent, Identity
from hub import deeplinks
from hub.actions.conversations import set_status
from hub.flows import fire_timeouts
from hub.runtime import Hub
from inbox.models import Conversation, ConversationStatus, Message, Role
from tests.bots.conftest import Clock
from tests.bots.test_qr_step import png_modules
from tests.conftest import client_for, drain, hub_config, settings_for, token_headers
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.fakes.webchat import Visitor
from tests.hub.test_channel_journeys import CALLER, PBX_SECRET, TELEGRAM_SECRET, pbx_call, telegram_says

COUPON = """
id: coupon
version: 1
triggers:
  - keyword: [coupon]
  - keyword: [later]
    step: later
start: code
steps:
  code:
    qr: "PROMO-{{ name }}"
    caption: "Show this at the till"
  later:
    wait: 1h
    next: code
"""

CALLBACK = """
id: callback
version: 1
triggers:
  - event: call.missed
start: sorry
steps:
  sorry:
    say: "Sorry we missed your call! Chat with us: {{ deep_link('telegram') }}"
    channel: sms
    next: pause
  pause:
    wait: 2h
    next: again
  again:
    say: "Still want us to call back? Reply YES."
    channel: sms
"""

PHONE = """
id: phone
version: 1
triggers:
  - keyword: [phone]
start: ask
steps:
  ask:
    share_contact: "Please share your phone number"
    button: "Share my number"
    next: thanks
  thanks:
    say: "Thanks, we'll call {{ var.phone }} ({{ 'verified' if var.phone_verified else 'typed' }})"
"""

PAYMENT = """
id: payment
version: 1
triggers:
  - keyword: [order]
start: paid
steps:
  paid:
    wait: {event: order.paid}
    next: thanks
  thanks:
    say: "Thanks for paying {{ var.event.total }} EUR!"
"""

TWILIO = {"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}


async def flow_hub(
    database_url: str,
    tmp_path: Path,
    channels: Mapping[str, Any],
    flows: Mapping[str, str],
    clock: Clock | None = None,
) -> Hub:
    """A hub over ``flows`` (file name -> YAML), built as ``hub serve`` builds it; building it again
    on the same database and folder is a restart: nothing survives but what the database holds."""
    folder = tmp_path / "flows"
    folder.mkdir(exist_ok=True)
    for name, text in flows.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    hub = Hub.build(
        settings_for(database_url, tmp_path / "var"), hub_config(dict(channels), flows_dir=str(folder))
    )
    assert hub.flows is not None
    if clock is not None:
        # The same engine object serves inbound turns, events and timeouts.
        hub.flows.clock = clock
    await hub.start(workers=False)
    return hub


async def rows(hub: Hub, model: type, *where: Any) -> list[Any]:
    async with hub.db.session() as session:
        return list((await session.execute(select(model).where(*where))).scalars())


async def timeline(hub: Hub, kind: str) -> list[CustomerEvent]:
    return await rows(hub, CustomerEvent, CustomerEvent.kind == kind)


def media_digest(url: str) -> str:
    """The stored file behind a bot image's link: a signed public URL the provider and the
    customer's browser can fetch (hub.media.shared_url)."""
    match = re.fullmatch(
        r"https://hub\.example\.com/media/shared/([0-9a-f]{64})/qr\.png\?sig=[0-9a-f]{32}", url
    )
    assert match, url
    return match[1]


def qr_matrix(text: str) -> list[list[int]]:
    return [list(row) for row in segno.make(text, error="m", micro=False).matrix]


class TestQrCodes:
    async def test_the_web_chat_visitor_gets_the_image_from_the_media_store(
        self, database_url: str, tmp_path: Path
    ) -> None:
        hub = await flow_hub(database_url, tmp_path, {"site": {"type": "webchat"}}, {"coupon.yaml": COUPON})
        try:
            async with client_for(hub) as http:
                visitor = await Visitor.start(http)
                assert (await visitor.say(http, "a coupon please", name="Ana")).status_code == 200
                await drain(hub)
                [reply] = [m for m in await visitor.history(http) if m["direction"] == "outbound"]
            assert reply["text"] == "Show this at the till"
            [image] = reply["attachments"]
            assert (image["kind"], image["filename"], image["content_type"], image["data"]) == (
                "image",
                "qr.png",
                "image/png",
                {"qr": "PROMO-Ana"},
            )
            path = hub.media.path_for(media_digest(image["url"]))
            assert path is not None and image["size"] == path.stat().st_size
            assert png_modules(path.read_bytes()) == qr_matrix("PROMO-Ana")
        finally:
            await hub.stop()

    async def test_a_code_sent_after_a_wait_goes_through_the_timeout_round(
        self, database_url: str, tmp_path: Path
    ) -> None:
        clock = Clock()
        hub = await flow_hub(
            database_url, tmp_path, {"site": {"type": "webchat"}}, {"coupon.yaml": COUPON}, clock
        )
        try:
            async with client_for(hub) as http:
                visitor = await Visitor.start(http)
                await visitor.say(http, "later please", name="Ana")
                await drain(hub)
                assert [m for m in await visitor.history(http) if m["direction"] == "outbound"] == []
                clock.advance(hours=1)
                assert hub.flows is not None
                await fire_timeouts(hub.db, hub.flows)
                await drain(hub)
                [reply] = [m for m in await visitor.history(http) if m["direction"] == "outbound"]
            [image] = reply["attachments"]
            assert image["data"] == {"qr": "PROMO-Ana"}
            assert hub.media.path_for(media_digest(image["url"])) is not None
        finally:
            await hub.stop()

    async def test_telegram_gets_a_photo_with_the_caption(self, database_url: str, tmp_path: Path) -> None:
        async with FakeTelegramAPI() as telegram:
            channels = {
                "main": {
                    "type": "telegram",
                    "token": TELEGRAM_TOKEN,
                    "webhook_secret": TELEGRAM_SECRET,
                    "api_base": telegram.base_url,
                }
            }
            hub = await flow_hub(database_url, tmp_path, channels, {"coupon.yaml": COUPON})
            try:
                async with client_for(hub) as http:
                    assert (await telegram_says(http, "coupon", user_id=4242)).status_code == 200
                    await drain(hub)
                [photo] = telegram.sent("sendPhoto")
                assert photo.params["chat_id"] == "4242"
                assert photo.params["caption"] == "Show this at the till"
                [message] = await rows(
                    hub, Message, Message.channel_type == "telegram", Message.text != "coupon"
                )
                assert photo.params["photo"] == message.attachments[0]["url"]
                assert message.status.value == "sent"
            finally:
                await hub.stop()


class TestAnotherChannel:
    async def test_a_missed_call_is_answered_by_sms_with_a_deep_link_and_again_after_a_restart(
        self, database_url: str, tmp_path: Path
    ) -> None:
        clock = Clock()
        async with FakeTwilioApi() as twilio:
            channels = {
                "pbx": {"type": "telephony", "secret": PBX_SECRET},
                "sms-main": {"type": "sms", "from": "+15005550006", **TWILIO, "api_base": twilio.base_url},
                "main": {
                    "type": "telegram",
                    "token": TELEGRAM_TOKEN,
                    "webhook_secret": TELEGRAM_SECRET,
                    "bot_username": "omnihub_demo_bot",
                    "api_base": "http://127.0.0.1:9",
                },
            }
            hub = await flow_hub(database_url, tmp_path, channels, {"callback.yaml": CALLBACK}, clock)
            try:
                async with client_for(hub) as http:
                    assert (await pbx_call(http, "missed")).status_code == 200
                    await drain(hub)
                [sms] = twilio.messages
                assert sms.param("To") == CALLER
                body = sms.param("Body") or ""
                link = re.search(r"https://t\.me/omnihub_demo_bot\?start=(\S+)", body)
                assert body.startswith("Sorry we missed your call!") and link is not None
                [customer] = await rows(hub, Customer)
                assert deeplinks.resolve(hub.settings.secret_key, link[1]) == customer.id
                [message] = await rows(hub, Message, Message.channel_type == "sms")
                [conversation] = await rows(hub, Conversation)
                assert (message.conversation_id, message.channel_account) == (conversation.id, "sms-main")
                assert conversation.channel_account == "pbx"  # the reply did not move the conversation
                [state] = await rows(hub, FlowState)
                assert (state.step, state.deadline) == ("pause", clock.now.replace(hour=12))
            finally:
                await hub.stop()

            # A restart: a new hub and engine over the same database; the wait is in the flow state.
            clock.advance(hours=2)
            hub = await flow_hub(database_url, tmp_path, channels, {"callback.yaml": CALLBACK}, clock)
            try:
                assert hub.flows is not None
                await fire_timeouts(hub.db, hub.flows)
                await drain(hub)
                assert [m.param("Body") for m in twilio.messages][1:] == [
                    "Still want us to call back? Reply YES."
                ]
                assert await rows(hub, FlowState) == []
            finally:
                await hub.stop()

    async def test_a_reply_nobody_can_deliver_is_skipped_with_the_reason(
        self, database_url: str, tmp_path: Path
    ) -> None:
        flow = CALLBACK.replace("channel: sms\n    next: pause", "channel: viber\n    next: pause")
        flow = flow.replace("{{ deep_link('telegram') }}", "the shop")
        channels = {
            "pbx": {"type": "telephony", "secret": PBX_SECRET},
            "viber-main": {
                "type": "viber",
                "auth_token": "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9",
            },
        }
        hub = await flow_hub(database_url, tmp_path, channels, {"callback.yaml": flow})
        try:
            async with client_for(hub) as http:
                assert (await pbx_call(http, "missed")).status_code == 200
                await drain(hub)
            [skipped] = await timeline(hub, "flow.reply_skipped")
            assert (
                skipped.payload["reason"] == "the customer has no viber identity, so viber cannot reach them"
            )
            assert skipped.payload["channel"] == "viber"
            assert await rows(hub, Message, Message.channel_type == "viber") == []
            [state] = await rows(hub, FlowState)  # the flow went on regardless
            assert state.step == "pause"
        finally:
            await hub.stop()

    async def test_a_channel_without_an_account_is_skipped_with_the_reason(
        self, database_url: str, tmp_path: Path
    ) -> None:
        flow = CALLBACK.replace("{{ deep_link('telegram') }}", "the shop")
        hub = await flow_hub(
            database_url,
            tmp_path,
            {"pbx": {"type": "telephony", "secret": PBX_SECRET}},
            {"callback.yaml": flow},
        )
        try:
            async with client_for(hub) as http:
                assert (await pbx_call(http, "missed")).status_code == 200
                await drain(hub)
            [skipped] = await timeline(hub, "flow.reply_skipped")
            assert skipped.payload["reason"] == "no sms channel account is configured"
            assert skipped.payload["text"] == "Sorry we missed your call! Chat with us: the shop"
        finally:
            await hub.stop()


class TestShareContact:
    async def test_a_shared_telegram_contact_joins_the_callers_record_and_completes_the_step(
        self, database_url: str, tmp_path: Path
    ) -> None:
        async with FakeTelegramAPI() as telegram:
            channels = {
                "pbx": {"type": "telephony", "secret": PBX_SECRET},
                "main": {
                    "type": "telegram",
                    "token": TELEGRAM_TOKEN,
                    "webhook_secret": TELEGRAM_SECRET,
                    "api_base": telegram.base_url,
                },
            }
            hub = await flow_hub(database_url, tmp_path, channels, {"phone.yaml": PHONE})
            try:
                async with client_for(hub) as http:
                    await pbx_call(http, "missed")  # an older record with the verified phone
                    await telegram_says(http, "hello there", user_id=555)
                    await telegram_says(http, "phone", user_id=555)
                    await drain(hub)
                    [prompt] = telegram.sent("sendMessage")
                    assert prompt.params["text"] == "Please share your phone number"
                    assert prompt.json_param("reply_markup")["keyboard"] == [
                        [{"text": "Share my number", "request_contact": True}]
                    ]
                    contact = {
                        "update_id": int(time.time() * 1000) % 10**9,
                        "message": {
                            "message_id": 900,
                            "date": int(time.time()),
                            "chat": {"id": 555, "type": "private", "first_name": "Olena"},
                            "from": {"id": 555, "is_bot": False, "first_name": "Olena"},
                            "contact": {
                                "phone_number": CALLER.lstrip("+"),
                                "first_name": "Olena",
                                "user_id": 555,
                            },
                        },
                    }
                    response = await http.post(
                        "/webhooks/telegram/main",
                        json=contact,
                        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
                    )
                    assert response.status_code == 200
                    await drain(hub)
                thanks = telegram.sent("sendMessage")[-1]
                assert thanks.params["text"] == f"Thanks, we'll call {CALLER} (verified)"
                assert await rows(hub, FlowState) == []
                identities = await rows(hub, Identity)
                assert {(i.kind.value, i.address, i.verified) for i in identities} == {
                    ("phone", CALLER, True),
                    ("telegram", "555", True),
                }
                assert len({i.customer_id for i in identities}) == 1  # one record: the caller's
            finally:
                await hub.stop()


class TestEventWait:
    async def test_an_event_from_the_api_resumes_the_waiting_flow(
        self, database_url: str, tmp_path: Path
    ) -> None:
        await self._pay_after(database_url, tmp_path, resolved=False)

    async def test_it_resumes_in_its_conversation_even_after_that_was_resolved(
        self, database_url: str, tmp_path: Path
    ) -> None:
        await self._pay_after(database_url, tmp_path, resolved=True)

    async def _pay_after(self, database_url: str, tmp_path: Path, *, resolved: bool) -> None:
        hub = await flow_hub(database_url, tmp_path, {"site": {"type": "webchat"}}, {"payment.yaml": PAYMENT})
        try:
            async with client_for(hub) as http:
                visitor = await Visitor.start(http)
                await visitor.say(http, "I'd like to order")
                await drain(hub)
                [customer] = await rows(hub, Customer)
                if resolved:
                    # No unresolved conversation left: the event goes where the flow waits.
                    [conversation] = await rows(hub, Conversation)
                    await set_status(hub, conversation.id, ConversationStatus.RESOLVED, None)
                headers = await token_headers(hub, Role.ADMIN)
                response = await http.post(
                    "/api/v1/events",
                    json={"customer_id": customer.id, "kind": "order.paid", "payload": {"total": 20}},
                    headers=headers,
                )
                assert response.status_code == 201, response.text
                await drain(hub)
                replies = [m["text"] for m in await visitor.history(http) if m["direction"] == "outbound"]
            assert replies == ["Thanks for paying 20 EUR!"]
            assert await rows(hub, FlowState) == []
        finally:
            await hub.stop()
