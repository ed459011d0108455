"""The Viber adapter against recorded-shape callbacks and a local fake of Viber's REST bot API.

Callback samples follow Viber's callback documentation and the fields viberbot's request and message
models read (viberbot/api/viber_requests, viberbot/api/messages).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import viberbot.api.api
from pydantic import ValidationError
from viberbot.api.api import Api
from viberbot.api.bot_configuration import BotConfiguration
from viberbot.api.messages import TextMessage

from channels.contract import (
    Acknowledgement,
    Address,
    Attachment,
    Button,
    ChannelContext,
    DeliveryReceipt,
    DeliveryStatus,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimited,
    SignatureError,
    SubscriptionChange,
    TransientSendError,
    WebhookRequest,
)
from channels.registry import spec_for
from channels.text_split import split_text
from channels.viber import SPEC, ViberAdapter, ViberSettings
from tests.fakes.viber_api import FIRST_MESSAGE_TOKEN, FakeViberApi

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
AVATAR = "https://shop.example.com/static/bot-avatar.jpg"
WEBHOOK_URL = "https://hub.example.com/webhooks/viber/main"
USER_ID = "01234567890A="
USER = {
    "id": USER_ID,
    "name": "Olena Kovalenko",
    "avatar": "https://media-direct.cdn.viber.com/download_photo?dlid=0Jx1ZqZ",
    "country": "UA",
    "language": "uk",
    "api_version": 10,
}
OLENA = Address(IdentityKind.VIBER, USER_ID, verified=True, display_name="Olena Kovalenko")
MESSAGE_TOKEN = 4912661846655238145
TIMESTAMP = 1714557600123
AT = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)


def build(*, api_base: str | None = None, http_timeout: float = 5.0, **settings: Any) -> ViberAdapter:
    config = ViberSettings(
        auth_token=TOKEN, bot_name="Omnihub Shop", avatar=AVATAR, api_base=api_base, **settings
    )
    context = ChannelContext(account="main", public_url="https://hub.example.com", http_timeout=http_timeout)
    return SPEC.build(config, context)


def callback(payload: dict[str, Any], *, key: str = TOKEN, in_query: bool = False) -> WebhookRequest:
    """A callback as Viber sends it, signed with ``key``."""
    body = json.dumps(payload).encode()
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    if in_query:
        return WebhookRequest("POST", f"{WEBHOOK_URL}?sig={signature}", {}, body, {"sig": signature})
    return WebhookRequest("POST", WEBHOOK_URL, {"x-viber-content-signature": signature}, body)


def message_callback(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": TIMESTAMP,
        "chat_hostname": "SN-376_",
        "message_token": MESSAGE_TOKEN,
        "sender": USER,
        "message": message,
        "silent": False,
    }


def received(**fields: Any) -> InboundMessage:
    """The InboundMessage every message callback above normalises to, plus ``fields``."""
    defaults: dict[str, Any] = {
        "sender": OLENA,
        "provider_message_id": str(MESSAGE_TOKEN),
        "sent_at": AT,
        "locale": "uk",
    }
    return InboundMessage(**(defaults | fields))


def outbound(text: str = "", **fields: Any) -> OutboundMessage:
    return OutboundMessage(to=USER_ID, text=text, idempotency_key="outbox-17", **fields)


@pytest.fixture
async def viber() -> AsyncIterator[ViberAdapter]:
    adapter = build()
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def viber_api() -> AsyncIterator[FakeViberApi]:
    async with FakeViberApi(auth_token=TOKEN) as api:
        yield api


@pytest.fixture
async def sender(viber_api: FakeViberApi) -> AsyncIterator[ViberAdapter]:
    adapter = build(api_base=viber_api.api_base, http_timeout=0.5)
    yield adapter
    await adapter.aclose()


class TestVerify:
    def test_accepts_the_signature_header(self, viber: ViberAdapter) -> None:
        viber.verify(callback(message_callback({"type": "text", "text": "hi"})))

    def test_accepts_the_sig_query_parameter(self, viber: ViberAdapter) -> None:
        viber.verify(callback(message_callback({"type": "text", "text": "hi"}), in_query=True))

    def test_rejects_a_body_changed_after_signing(self, viber: ViberAdapter) -> None:
        genuine = callback(message_callback({"type": "text", "text": "hi"}))
        forged = WebhookRequest("POST", WEBHOOK_URL, genuine.headers, genuine.body.replace(b"hi", b"ha"))
        with pytest.raises(SignatureError, match="does not match"):
            viber.verify(forged)

    def test_rejects_a_signature_made_with_another_token(self, viber: ViberAdapter) -> None:
        with pytest.raises(SignatureError):
            viber.verify(callback(message_callback({"type": "text", "text": "hi"}), key="another-bot-token"))

    def test_rejects_an_unsigned_request(self, viber: ViberAdapter) -> None:
        unsigned = WebhookRequest("POST", WEBHOOK_URL, {}, json.dumps(message_callback({})).encode())
        with pytest.raises(SignatureError, match="X-Viber-Content-Signature"):
            viber.verify(unsigned)

    def test_rejects_a_non_ascii_signature_without_crashing(self, viber: ViberAdapter) -> None:
        request = WebhookRequest("POST", WEBHOOK_URL, {"x-viber-content-signature": "підпис"}, b"{}")
        with pytest.raises(SignatureError):
            viber.verify(request)


class TestEventId:
    def test_is_event_message_token_and_sender(self, viber: ViberAdapter) -> None:
        request = callback(message_callback({"type": "text", "text": "hi"}))
        assert viber.event_id(request) == f"message:{MESSAGE_TOKEN}:{USER_ID}"

    def test_receipts_for_one_message_have_distinct_ids(self, viber: ViberAdapter) -> None:
        receipt = {"timestamp": TIMESTAMP, "message_token": MESSAGE_TOKEN, "user_id": USER_ID}
        delivered = viber.event_id(callback({"event": "delivered", **receipt}))
        seen = viber.event_id(callback({"event": "seen", **receipt}))
        assert delivered == f"delivered:{MESSAGE_TOKEN}:{USER_ID}"
        assert seen == f"seen:{MESSAGE_TOKEN}:{USER_ID}"

    def test_subscribed_is_keyed_by_the_user_object(self, viber: ViberAdapter) -> None:
        request = callback({"event": "subscribed", "timestamp": TIMESTAMP, "user": USER, "message_token": 7})
        assert viber.event_id(request) == f"subscribed:7:{USER_ID}"

    def test_the_webhook_check_has_no_user(self, viber: ViberAdapter) -> None:
        request = callback({"event": "webhook", "timestamp": TIMESTAMP, "message_token": 241256543215})
        assert viber.event_id(request) == "webhook:241256543215:"

    def test_rejects_a_body_that_is_not_json(self, viber: ViberAdapter) -> None:
        with pytest.raises(MalformedEvent, match="not valid JSON"):
            viber.event_id(WebhookRequest("POST", WEBHOOK_URL, {}, b"event=message"))

    def test_rejects_a_callback_without_event(self, viber: ViberAdapter) -> None:
        with pytest.raises(MalformedEvent, match="no event field"):
            viber.event_id(callback({"timestamp": TIMESTAMP, "message_token": MESSAGE_TOKEN}))


class TestParseMessages:
    def test_text(self, viber: ViberAdapter) -> None:
        events = viber.parse(callback(message_callback({"type": "text", "text": "Де моє замовлення?"})))
        assert events == [received(text="Де моє замовлення?", metadata={"message_type": "text"})]

    def test_picture_keeps_caption_file_name_and_size(self, viber: ViberAdapter) -> None:
        media = "https://dl-media.viber.com/5/media/2/short/any/sig/image/0x0/95e0/5688fdffdaa.jpg"
        picture = {
            "type": "picture",
            "text": "ось фото посилки",
            "media": media,
            "thumbnail": "https://dl-media.viber.com/5/media/2/short/any/sig/image/0x0/95e0/thumb.jpg",
            "file_name": "IMG_2041.jpg",
            "size": 183427,
        }
        assert viber.parse(callback(message_callback(picture))) == [
            received(
                text="ось фото посилки",
                attachments=(Attachment("image", url=media, filename="IMG_2041.jpg", size=183427),),
                metadata={"message_type": "picture"},
            )
        ]

    def test_video(self, viber: ViberAdapter) -> None:
        video = {
            "type": "video",
            "media": "https://dl-media.viber.com/video/unboxing.mp4",
            "thumbnail": "https://dl-media.viber.com/video/unboxing.jpg",
            "size": 5410001,
            "duration": 12,
        }
        expected = Attachment(
            "video",
            url="https://dl-media.viber.com/video/unboxing.mp4",
            size=5410001,
            data={"duration": 12, "thumbnail": "https://dl-media.viber.com/video/unboxing.jpg"},
        )
        assert viber.parse(callback(message_callback(video))) == [
            received(attachments=(expected,), metadata={"message_type": "video"})
        ]

    def test_file_reads_the_documented_file_size_field(self, viber: ViberAdapter) -> None:
        file = {
            "type": "file",
            "media": "https://dl-media.viber.com/file/invoice-1042.pdf",
            "file_name": "invoice-1042.pdf",
            "file_size": 48213,
        }
        expected = Attachment(
            "file",
            url="https://dl-media.viber.com/file/invoice-1042.pdf",
            filename="invoice-1042.pdf",
            size=48213,
        )
        assert viber.parse(callback(message_callback(file))) == [
            received(attachments=(expected,), metadata={"message_type": "file"})
        ]

    def test_sticker_is_labelled_and_attached(self, viber: ViberAdapter) -> None:
        sticker = {"type": "sticker", "sticker_id": 46105, "media": "https://viber.com/sticker/46105.png"}
        assert viber.parse(callback(message_callback(sticker))) == [
            received(
                text="[sticker]",
                attachments=(
                    Attachment(
                        "sticker", url="https://viber.com/sticker/46105.png", data={"sticker_id": 46105}
                    ),
                ),
                metadata={"message_type": "sticker"},
            )
        ]

    def test_url(self, viber: ViberAdapter) -> None:
        events = viber.parse(
            callback(message_callback({"type": "url", "media": "https://shop.example.com/o/1042"}))
        )
        assert events == [received(text="https://shop.example.com/o/1042", metadata={"message_type": "url"})]

    def test_location_keeps_the_address(self, viber: ViberAdapter) -> None:
        location = {
            "type": "location",
            "location": {"lat": 50.4501, "lon": 30.5234, "address": "Khreshchatyk, Kyiv"},
        }
        expected = Attachment(
            "location", data={"latitude": 50.4501, "longitude": 30.5234, "address": "Khreshchatyk, Kyiv"}
        )
        assert viber.parse(callback(message_callback(location))) == [
            received(attachments=(expected,), metadata={"message_type": "location"})
        ]

    def test_a_contact_shared_by_hand_is_not_an_identity(self, viber: ViberAdapter) -> None:
        contact = {"type": "contact", "contact": {"name": "Taras", "phone_number": "+380 67 123 4567"}}
        assert viber.parse(callback(message_callback(contact))) == [
            received(
                attachments=(Attachment("contact", data={"name": "Taras", "phone": "+380671234567"}),),
                metadata={"message_type": "contact"},
            )
        ]

    def test_a_message_type_viberbot_does_not_know_is_kept_with_a_label(self, viber: ViberAdapter) -> None:
        events = viber.parse(callback(message_callback({"type": "gif", "media": "https://x.example/a.gif"})))
        assert events == [received(text="[unsupported Viber message: gif]", metadata={"message_type": "gif"})]

    def test_a_message_without_sender_is_malformed(self, viber: ViberAdapter) -> None:
        payload = message_callback({"type": "text", "text": "hi"})
        del payload["sender"]
        with pytest.raises(MalformedEvent, match="'sender'"):
            viber.parse(callback(payload))


class TestParseOtherEvents:
    def test_conversation_started_carries_the_deep_link_context(self, viber: ViberAdapter) -> None:
        payload = {
            "event": "conversation_started",
            "timestamp": TIMESTAMP,
            "chat_hostname": "SN-376_",
            "message_token": MESSAGE_TOKEN,
            "type": "open",
            "context": "order-1042",
            "user": USER,
            "subscribed": False,
        }
        assert viber.parse(callback(payload)) == [
            received(start_payload="order-1042", metadata={"conversation_started": True, "subscribed": False})
        ]

    def test_subscribed(self, viber: ViberAdapter) -> None:
        payload = {
            "event": "subscribed",
            "timestamp": TIMESTAMP,
            "user": USER,
            "message_token": MESSAGE_TOKEN,
        }
        assert viber.parse(callback(payload)) == [SubscriptionChange(sender=OLENA, subscribed=True)]

    def test_unsubscribed(self, viber: ViberAdapter) -> None:
        payload = {"event": "unsubscribed", "timestamp": TIMESTAMP, "user_id": USER_ID, "message_token": 7}
        [change] = viber.parse(callback(payload))
        assert isinstance(change, SubscriptionChange)
        assert (change.sender, change.subscribed, change.purpose) == (
            Address(IdentityKind.VIBER, USER_ID),
            False,
            "marketing",
        )
        assert change.reason is not None and "unsubscribed" in change.reason

    @pytest.mark.parametrize(
        ("event", "status"), [("delivered", DeliveryStatus.DELIVERED), ("seen", DeliveryStatus.READ)]
    )
    def test_receipts(self, viber: ViberAdapter, event: str, status: DeliveryStatus) -> None:
        payload = {
            "event": event,
            "timestamp": TIMESTAMP,
            "message_token": FIRST_MESSAGE_TOKEN,
            "user_id": USER_ID,
        }
        assert viber.parse(callback(payload)) == [DeliveryReceipt(str(FIRST_MESSAGE_TOKEN), status, at=AT)]

    def test_failed_receipt_keeps_the_description(self, viber: ViberAdapter) -> None:
        payload = {
            "event": "failed",
            "timestamp": TIMESTAMP,
            "message_token": FIRST_MESSAGE_TOKEN,
            "user_id": USER_ID,
            "desc": "failure description",
        }
        assert viber.parse(callback(payload)) == [
            DeliveryReceipt(
                str(FIRST_MESSAGE_TOKEN), DeliveryStatus.FAILED, error="failure description", at=AT
            )
        ]

    def test_the_set_webhook_check_yields_nothing(self, viber: ViberAdapter) -> None:
        payload = {
            "event": "webhook",
            "timestamp": TIMESTAMP,
            "chat_hostname": "SN-376_",
            "message_token": 24125,
        }
        assert viber.parse(callback(payload)) == []

    def test_an_unknown_event_is_ignored_and_logged(
        self, viber: ViberAdapter, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="channels.viber")
        payload = {"event": "client_status", "timestamp": TIMESTAMP, "user_id": USER_ID}
        assert viber.parse(callback(payload)) == []
        assert "client_status" in caplog.text

    def test_a_receipt_without_message_token_is_malformed(self, viber: ViberAdapter) -> None:
        with pytest.raises(MalformedEvent, match="'message_token'"):
            viber.parse(callback({"event": "seen", "timestamp": TIMESTAMP, "user_id": USER_ID}))


class TestAcknowledgement:
    started = {
        "event": "conversation_started",
        "timestamp": TIMESTAMP,
        "message_token": MESSAGE_TOKEN,
        "type": "open",
        "user": USER,
        "subscribed": False,
    }

    def test_is_an_empty_200_by_default(self, viber: ViberAdapter) -> None:
        assert viber.acknowledgement(callback(self.started)) == Acknowledgement(200, b"", "text/plain")

    async def test_welcomes_a_new_user_when_a_welcome_text_is_set(self) -> None:
        adapter = build(welcome_text="Вітаємо в Omnihub Shop!")
        try:
            answer = adapter.acknowledgement(callback(self.started))
        finally:
            await adapter.aclose()
        assert (answer.status_code, answer.content_type) == (200, "application/json")
        assert json.loads(answer.body) == {
            "type": "text",
            "text": "Вітаємо в Omnihub Shop!",
            "sender": {"name": "Omnihub Shop", "avatar": AVATAR},
        }

    async def test_does_not_welcome_a_subscribed_user_or_other_events(self) -> None:
        adapter = build(welcome_text="Вітаємо!")
        try:
            subscribed = adapter.acknowledgement(callback({**self.started, "subscribed": True}))
            message = adapter.acknowledgement(callback(message_callback({"type": "text", "text": "hi"})))
        finally:
            await adapter.aclose()
        assert subscribed.body == message.body == b""


class TestSend:
    async def test_text_goes_out_with_the_bot_as_sender(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        result = await sender.send(outbound("Ваше замовлення 1042 відправлено"))

        assert result.provider_message_ids == (str(FIRST_MESSAGE_TOKEN),)
        [request] = viber_api.requests
        assert request.path == "/pa/send_message"
        assert request.headers["X-Viber-Auth-Token"] == TOKEN
        assert request.body == {
            "type": "text",
            "text": "Ваше замовлення 1042 відправлено",
            "receiver": USER_ID,
            "sender": {"name": "Omnihub Shop", "avatar": AVATAR},
        }

    async def test_long_text_is_split_at_words_within_7000_characters(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        text = "замовлення " * 1200  # 13200 characters

        result = await sender.send(outbound(text))

        parts = [body["text"] for body in viber_api.accepted]
        assert len(result.provider_message_ids) == len(parts) == 2
        assert all(len(part) <= 7000 and not part.startswith(" ") for part in parts)
        assert " ".join(parts) == text

    def test_split_cuts_at_a_line_break_before_a_space(self) -> None:
        assert split_text("aaaa bb\ncc dd", 10, length=len) == ["aaaa bb", "cc dd"]
        assert split_text("x" * 25, 10, length=len) == ["x" * 10, "x" * 10, "x" * 5]

    async def test_buttons_ride_on_the_last_message_as_a_keyboard(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        message = outbound(
            "Підтвердити доставку?",
            attachments=(Attachment("image", url="https://shop.example.com/p/1042.jpg", caption="Посилка"),),
            buttons=(
                Button("Так", payload="confirm:1042"),
                Button("Трекінг", url="https://shop.example.com/track/1042"),
                Button("Скасувати"),
            ),
        )

        await sender.send(message)

        first, last = viber_api.accepted
        assert "keyboard" not in first and "tracking_data" not in first
        assert (last["type"], last["media"], last["text"]) == (
            "picture",
            "https://shop.example.com/p/1042.jpg",
            "Посилка",
        )
        assert last["keyboard"] == {
            "Type": "keyboard",
            "Buttons": [
                {"ActionType": "reply", "ActionBody": "confirm:1042", "Text": "Так", "Silent": True},
                {
                    "ActionType": "open-url",
                    "ActionBody": "https://shop.example.com/track/1042",
                    "Text": "Трекінг",
                },
                {"ActionType": "reply", "ActionBody": "Скасувати", "Text": "Скасувати", "Silent": False},
            ],
        }
        assert "min_api_version" not in last

    async def test_request_contact_becomes_share_phone_at_api_level_3(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        await sender.send(
            outbound("Поділіться номером", buttons=(Button("Мій номер", request_contact=True),))
        )

        [body] = viber_api.accepted
        assert body["min_api_version"] == 3
        assert body["keyboard"]["Buttons"] == [
            {"ActionType": "share-phone", "ActionBody": "share-phone", "Text": "Мій номер"}
        ]

    async def test_media_goes_natively_and_as_a_link_when_viber_needs_its_size(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        attachments = (
            Attachment("video", url="https://cdn.example.com/v.mp4", size=5_000_000, data={"duration": 12}),
            Attachment("file", url="https://cdn.example.com/docs/invoice.pdf", size=48213),
            Attachment("file", url="https://cdn.example.com/docs/unknown-size.pdf"),
            Attachment("location", data={"latitude": 50.45, "longitude": 30.52}),
        )

        result = await sender.send(outbound(attachments=attachments))

        assert len(result.provider_message_ids) == 4
        video, file, link, location = viber_api.accepted
        assert (video["type"], video["size"], video["duration"]) == ("video", 5_000_000, 12)
        assert (file["type"], file["file_name"], file["size"]) == ("file", "invoice.pdf", 48213)
        assert (link["type"], link["media"]) == ("url", "https://cdn.example.com/docs/unknown-size.pdf")
        assert (location["type"], location["location"]) == ("location", {"lat": 50.45, "lon": 30.52})

    async def test_an_attachment_without_url_is_refused(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        with pytest.raises(PermanentSendError, match="no URL"):
            await sender.send(outbound("see file", attachments=(Attachment("file", filename="a.pdf"),)))
        assert viber_api.requests == []

    async def test_an_empty_message_is_refused(self, sender: ViberAdapter) -> None:
        with pytest.raises(PermanentSendError, match="no text and no attachment"):
            await sender.send(outbound("   ", buttons=(Button("OK"),)))


class TestSendErrors:
    @pytest.mark.parametrize(
        ("status", "status_message", "reason"),
        [
            (6, "notSubscribed", "not subscribed to this Viber bot"),
            (5, "receiverNotRegistered", "not registered on Viber"),
            (2, "invalidAuthToken", "auth token"),
            (99, "generalError", "status 99 (generalError)"),
        ],
    )
    async def test_refusals_are_permanent_with_a_readable_reason(
        self, sender: ViberAdapter, viber_api: FakeViberApi, status: int, status_message: str, reason: str
    ) -> None:
        viber_api.fail_with_status(status, status_message)
        with pytest.raises(PermanentSendError, match=re.escape(reason)):
            await sender.send(outbound("hi"))

    async def test_too_many_messages_without_reply_is_rate_limited_for_an_hour(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        viber_api.fail_with_status(12, "Too many requests")
        with pytest.raises(RateLimited) as caught:
            await sender.send(outbound("hi"))
        assert caught.value.retry_after == 3600.0

    async def test_http_429_is_rate_limited_with_retry_after(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        viber_api.fail_with_http(429, retry_after="7")
        with pytest.raises(RateLimited) as caught:
            await sender.send(outbound("hi"))
        assert caught.value.retry_after == 7.0

    async def test_retry_after_may_be_an_http_date(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        viber_api.fail_with_http(
            429, retry_after=format_datetime(datetime.fromtimestamp(time.time() + 120, UTC), True)
        )
        with pytest.raises(RateLimited) as caught:
            await sender.send(outbound("hi"))
        assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120

    async def test_a_server_error_is_transient(self, sender: ViberAdapter, viber_api: FakeViberApi) -> None:
        viber_api.fail_with_http(503, body=b"Service Unavailable")
        with pytest.raises(TransientSendError, match="HTTP 503") as caught:
            await sender.send(outbound("hi"))
        assert not isinstance(caught.value, RateLimited)

    async def test_a_client_error_is_permanent(self, sender: ViberAdapter, viber_api: FakeViberApi) -> None:
        viber_api.fail_with_http(403)
        with pytest.raises(PermanentSendError, match="HTTP 403"):
            await sender.send(outbound("hi"))

    async def test_a_slow_viber_is_transient_within_the_timeout(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        viber_api.answer_slowly(10)
        started = time.monotonic()
        with pytest.raises(TransientSendError, match=r"within 0\.5 s"):
            await sender.send(outbound("hi"))
        assert time.monotonic() - started < 2

    async def test_a_body_that_is_not_json_is_transient(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        viber_api.answer_malformed()
        with pytest.raises(TransientSendError, match="not JSON"):
            await sender.send(outbound("hi"))

    async def test_an_unreachable_viber_is_transient(self) -> None:
        async with FakeViberApi(auth_token=TOKEN) as gone:
            api_base = gone.api_base
        adapter = build(api_base=api_base, http_timeout=0.5)
        try:
            with pytest.raises(TransientSendError, match="could not reach Viber"):
                await adapter.send(outbound("hi"))
        finally:
            await adapter.aclose()

    async def test_a_retry_sends_only_the_parts_that_failed(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        message = outbound("перша частина " * 600)  # two parts
        viber_api.accept()
        viber_api.fail_with_http(503)

        with pytest.raises(TransientSendError):
            await sender.send(message)
        result = await sender.send(message)

        assert len(viber_api.requests) == 3
        assert [body["text"] for body in viber_api.accepted] == split_text(message.text, 7000, length=len)
        assert result.provider_message_ids == (str(FIRST_MESSAGE_TOKEN), str(FIRST_MESSAGE_TOKEN + 1))

    async def test_the_auth_token_is_never_logged(
        self, sender: ViberAdapter, viber_api: FakeViberApi, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        viber_api.fail_with_status(6, "notSubscribed")
        with pytest.raises(PermanentSendError) as refused:
            await sender.send(outbound("hi"))
        await sender.send(outbound("hi again"))
        assert TOKEN not in caplog.text and TOKEN not in str(refused.value)

    async def test_each_bot_talks_to_its_own_api_base(self, viber_api: FakeViberApi) -> None:
        async with FakeViberApi(auth_token=TOKEN) as other_api:
            first, second = build(api_base=viber_api.api_base), build(api_base=other_api.api_base)
            try:
                await first.send(outbound("to the first"))
                await second.send(outbound("to the second"))
            finally:
                await first.aclose()
                await second.aclose()
            assert [body["text"] for body in viber_api.accepted] == ["to the first"]
            assert [body["text"] for body in other_api.accepted] == ["to the second"]


class TestRepliesToOurButtons:
    """Send through the fake, then feed back the tracking_data Viber would return with the reply."""

    async def test_a_button_press_carries_its_payload_and_title(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        await sender.send(
            outbound("Підтвердити?", buttons=(Button("Так", payload="confirm:1042"), Button("Скасувати")))
        )
        tracking = viber_api.accepted[-1]["tracking_data"]

        reply = {"type": "text", "text": "confirm:1042", "tracking_data": tracking}
        assert sender.parse(callback(message_callback(reply))) == [
            received(text="Так", button_payload="confirm:1042", metadata={"message_type": "text"})
        ]

    async def test_typed_text_is_not_a_button_press(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        await sender.send(outbound("Підтвердити?", buttons=(Button("Так", payload="confirm:1042"),)))
        tracking = viber_api.accepted[-1]["tracking_data"]

        typed = sender.parse(
            callback(message_callback({"type": "text", "text": "так", "tracking_data": tracking}))
        )
        untracked = sender.parse(callback(message_callback({"type": "text", "text": "confirm:1042"})))
        assert [event.button_payload for event in typed + untracked if isinstance(event, InboundMessage)] == [
            None,
            None,
        ]

    async def test_a_shared_phone_becomes_a_verified_e164_identity(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        await sender.send(
            outbound("Поділіться номером", buttons=(Button("Мій номер", request_contact=True),))
        )
        tracking = viber_api.accepted[-1]["tracking_data"]

        shared = {
            "type": "contact",
            "contact": {"name": "Olena Kovalenko", "phone_number": "380501234567"},
            "tracking_data": tracking,
        }
        assert sender.parse(callback(message_callback(shared))) == [
            received(
                attachments=(
                    Attachment("contact", data={"name": "Olena Kovalenko", "phone": "+380501234567"}),
                ),
                extra_identities=(
                    Address(
                        IdentityKind.PHONE, "+380501234567", verified=True, display_name="Olena Kovalenko"
                    ),
                ),
                metadata={"message_type": "contact"},
            )
        ]

    async def test_an_unreadable_shared_phone_is_not_an_identity(
        self, sender: ViberAdapter, viber_api: FakeViberApi
    ) -> None:
        await sender.send(
            outbound("Поділіться номером", buttons=(Button("Мій номер", request_contact=True),))
        )
        tracking = viber_api.accepted[-1]["tracking_data"]

        shared = {
            "type": "contact",
            "contact": {"name": "O", "phone_number": "12"},
            "tracking_data": tracking,
        }
        [event] = sender.parse(callback(message_callback(shared)))
        assert isinstance(event, InboundMessage)
        assert event.extra_identities == ()
        assert event.attachments == (Attachment("contact", data={"name": "O", "phone": "12"}),)


class TestFakeSpeaksViber:
    """The fake answers the way viberbot's own transport expects, so it stands in for Viber faithfully."""

    async def test_viberbot_sends_through_it_and_reads_its_errors(
        self, viber_api: FakeViberApi, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(viberbot.api.api, "VIBER_BOT_API_URL", viber_api.api_base)
        api = Api(BotConfiguration(TOKEN, "Omnihub Shop", AVATAR))

        tokens = await asyncio.to_thread(api.send_messages, USER_ID, [TextMessage(text="hi")])
        viber_api.fail_with_status(6, "notSubscribed")
        with pytest.raises(Exception, match="failed with status: 6, message: notSubscribed"):
            await asyncio.to_thread(api.send_messages, USER_ID, [TextMessage(text="hi")])

        assert tokens == [FIRST_MESSAGE_TOKEN]
        assert viber_api.accepted[0]["auth_token"] == TOKEN


class TestSettings:
    def test_the_registry_finds_the_spec(self) -> None:
        assert spec_for("viber") is SPEC

    def test_the_bot_name_fits_viber(self) -> None:
        with pytest.raises(ValidationError, match="bot_name"):
            ViberSettings(auth_token=TOKEN, bot_name="x" * 29)

    def test_the_token_stays_out_of_reprs(self) -> None:
        assert TOKEN not in repr(ViberSettings(auth_token=TOKEN))
