"""Twilio SMS and WhatsApp: settings, signatures, inbound parsing, receipts and sending through the
real twilio SDK to a local fake of Twilio's Messages API."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import ValidationError

from channels.contract import (
    Address,
    Attachment,
    Button,
    ChannelAdapter,
    ChannelContext,
    DeliveryReceipt,
    DeliveryStatus,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimited,
    SendResult,
    SignatureError,
    SubscriptionChange,
    TransientSendError,
)
from channels.registry import spec_for
from channels.twilio.messaging import TwilioMessagingAdapter
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioApi,
    Fault,
    inbound_sms,
    inbound_whatsapp,
    message_status,
    signed_json_request,
    signed_request,
)

PUBLIC_URL = "https://hub.example.com"
SMS_URL = f"{PUBLIC_URL}/webhooks/sms/main"
WHATSAPP_URL = f"{PUBLIC_URL}/webhooks/whatsapp/main"
CUSTOMER = "+15558675310"


def sms_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "type": "sms",
        "provider": "twilio",
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from": "+15005550006",
    }
    config.update(overrides)
    return config


def whatsapp_config(**overrides: Any) -> dict[str, Any]:
    return sms_config(type="whatsapp", **{"from": "whatsapp:+14155238886", **overrides})


def build(config: dict[str, Any], http_timeout: float = 5.0) -> TwilioMessagingAdapter:
    spec = spec_for(config["type"])
    context = ChannelContext(account="main", public_url=PUBLIC_URL, http_timeout=http_timeout)
    adapter = spec.build(spec.settings.model_validate(config), context)
    assert isinstance(adapter, TwilioMessagingAdapter)
    return adapter


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilioApi]:
    async with FakeTwilioApi() as api:
        yield api


@pytest.fixture
async def sms(fake: FakeTwilioApi) -> AsyncIterator[TwilioMessagingAdapter]:
    adapter = build(sms_config(api_base=fake.base_url))
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def whatsapp(fake: FakeTwilioApi) -> AsyncIterator[TwilioMessagingAdapter]:
    adapter = build(whatsapp_config(api_base=fake.base_url))
    yield adapter
    await adapter.aclose()


def parse(adapter: TwilioMessagingAdapter, url: str, params: dict[str, str]) -> list[Any]:
    request = signed_request(url, params)
    adapter.verify(request)
    return adapter.parse(request)


class TestSettings:
    def test_adapters_satisfy_the_contract(self) -> None:
        assert isinstance(build(sms_config()), ChannelAdapter)
        assert isinstance(build(whatsapp_config()), ChannelAdapter)

    def test_from_is_read_from_its_yaml_name(self) -> None:
        settings = spec_for("sms").settings.model_validate(sms_config())
        assert settings.from_ == "+15005550006"  # type: ignore[attr-defined]

    def test_another_provider_is_refused_plainly(self) -> None:
        with pytest.raises(ValidationError, match="set provider: twilio \\(got 'vonage'\\)"):
            spec_for("sms").settings.model_validate(sms_config(provider="vonage"))

    @pytest.mark.parametrize("sender", ["15005550006", "+0500555", "whatsapp:+15005550006"])
    def test_sms_sender_must_be_e164(self, sender: str) -> None:
        with pytest.raises(ValidationError, match="must be a phone number in international format"):
            spec_for("sms").settings.model_validate(sms_config(**{"from": sender}))

    def test_whatsapp_sender_needs_its_prefix(self) -> None:
        with pytest.raises(ValidationError, match="written 'whatsapp:'"):
            spec_for("whatsapp").settings.model_validate(whatsapp_config(**{"from": "+14155238886"}))

    def test_sms_may_send_through_a_messaging_service_alone(self) -> None:
        config = sms_config(messaging_service_sid="MG" + "a" * 32)
        del config["from"]
        assert spec_for("sms").settings.model_validate(config).from_ is None  # type: ignore[attr-defined]

    def test_sms_needs_a_sender(self) -> None:
        config = sms_config()
        del config["from"]
        with pytest.raises(ValidationError, match="needs 'from'"):
            spec_for("sms").settings.model_validate(config)

    def test_account_sid_shape_is_checked(self) -> None:
        with pytest.raises(ValidationError, match="'AC' followed by 32 hexadecimal digits"):
            spec_for("sms").settings.model_validate(sms_config(account_sid="SK123"))

    def test_auth_token_never_shows(self) -> None:
        settings = spec_for("sms").settings.model_validate(sms_config())
        assert AUTH_TOKEN not in repr(settings)
        with pytest.raises(ValidationError) as error:
            spec_for("sms").settings.model_validate(sms_config(auth_token=AUTH_TOKEN, account_sid="bad"))
        assert AUTH_TOKEN not in str(error.value)


class TestCapabilities:
    def test_sms(self) -> None:
        adapter = build(sms_config())
        assert (adapter.capabilities.buttons, adapter.capabilities.media) == (False, True)
        assert adapter.capabilities.max_text_length == 1600
        assert (adapter.capabilities.delivery_receipts, adapter.capabilities.read_receipts) == (True, False)
        assert adapter.rate_limits.per_second == 1.0

    def test_whatsapp(self) -> None:
        adapter = build(whatsapp_config(**{"from": "whatsapp:+15005550006"}))
        assert adapter.capabilities.buttons is False
        assert (adapter.capabilities.delivery_receipts, adapter.capabilities.read_receipts) == (True, True)
        assert adapter.rate_limits.per_second == 80.0

    def test_whatsapp_sandbox_sender_is_throttled_to_its_limit(self) -> None:
        assert build(whatsapp_config()).rate_limits.per_second == pytest.approx(1 / 3)


class TestSignature:
    def test_twilio_signed_request_passes(self) -> None:
        build(sms_config()).verify(signed_request(SMS_URL, inbound_sms("hi")))

    def test_signature_with_another_token_is_refused(self) -> None:
        request = signed_request(SMS_URL, inbound_sms("hi"), auth_token="0" * 32)
        with pytest.raises(SignatureError) as error:
            build(sms_config()).verify(request)
        assert error.value.status_code == 403

    def test_unsigned_request_is_refused(self) -> None:
        with pytest.raises(SignatureError, match="no X-Twilio-Signature") as error:
            build(sms_config()).verify(signed_request(SMS_URL, inbound_sms("hi"), auth_token=None))
        assert error.value.status_code == 403

    def test_tampered_body_is_refused(self) -> None:
        genuine = signed_request(SMS_URL, inbound_sms("hi", sender=CUSTOMER))
        forged = signed_request(SMS_URL, inbound_sms("hi", sender="+15550000000"))
        tampered = type(genuine)(genuine.method, genuine.url, genuine.headers, forged.body, genuine.query)
        with pytest.raises(SignatureError):
            build(sms_config()).verify(tampered)

    def test_public_url_behind_a_proxy_validates(self) -> None:
        # Twilio called and signed the public URL; the hub rebuilt the same URL from public_url.
        request = signed_request(f"{SMS_URL}?tenant=a", inbound_sms("hi"), signed_url=f"{SMS_URL}?tenant=a")
        build(sms_config()).verify(request)

    def test_internal_url_does_not_validate_a_public_signature(self) -> None:
        # A hub that used its internal address instead of public_url must not accept the request.
        internal = "http://127.0.0.1:8000/webhooks/sms/main"
        with pytest.raises(SignatureError, match="public_url"):
            build(sms_config()).verify(signed_request(internal, inbound_sms("hi"), signed_url=SMS_URL))

    def test_explicit_default_port_in_the_url_still_validates(self) -> None:
        request = signed_request(
            "https://hub.example.com:443/webhooks/sms/main", inbound_sms("hi"), signed_url=SMS_URL
        )
        build(sms_config()).verify(request)

    def test_json_body_is_checked_through_its_hash(self) -> None:
        adapter = build(sms_config())
        request = signed_json_request(SMS_URL, {"MessageSid": "SM1"})
        adapter.verify(request)
        altered = type(request)(
            request.method, request.url, request.headers, b'{"MessageSid": "SM2"}', request.query
        )
        with pytest.raises(SignatureError):
            adapter.verify(altered)

    def test_body_that_is_not_utf8_is_refused_as_unsigned(self) -> None:
        genuine = signed_request(SMS_URL, inbound_sms("hi"))
        broken = type(genuine)(genuine.method, genuine.url, genuine.headers, b"Body=\xff", genuine.query)
        with pytest.raises(SignatureError, match="not UTF-8"):
            build(sms_config()).verify(broken)


class TestEventId:
    def test_inbound_message_is_its_sid(self) -> None:
        params = inbound_sms("hi", message_sid="SM" + "1" * 32)
        assert build(sms_config()).event_id(signed_request(SMS_URL, params)) == "SM" + "1" * 32

    def test_status_callback_is_sid_and_status(self) -> None:
        request = signed_request(SMS_URL, message_status("SM42", "delivered"))
        assert build(sms_config()).event_id(request) == "SM42:delivered"

    def test_missing_sid_is_malformed(self) -> None:
        params = inbound_sms("hi")
        del params["MessageSid"]
        with pytest.raises(MalformedEvent, match="no MessageSid"):
            build(sms_config()).event_id(signed_request(SMS_URL, params))


class TestInboundSms:
    def test_text_message(self) -> None:
        params = inbound_sms("Is my order ready?", sender=CUSTOMER, message_sid="SM" + "a" * 32)
        assert parse(build(sms_config()), SMS_URL, params) == [
            InboundMessage(
                sender=Address(IdentityKind.PHONE, CUSTOMER, verified=True),
                text="Is my order ready?",
                provider_message_id="SM" + "a" * 32,
                metadata={"channel": "sms", "to": "+15005550006"},
            )
        ]

    def test_mms_media_become_attachments_by_content_type(self) -> None:
        media_base = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media"
        media = [
            (f"{media_base}/ME1", "image/jpeg"),
            (f"{media_base}/ME2", "video/mp4"),
            (f"{media_base}/ME3", "audio/amr"),
            (f"{media_base}/ME4", "text/vcard"),
        ]
        [message] = parse(build(sms_config()), SMS_URL, inbound_sms("photos", media=media))
        assert message.attachments == (
            Attachment(kind="image", url=f"{media_base}/ME1", content_type="image/jpeg"),
            Attachment(kind="video", url=f"{media_base}/ME2", content_type="video/mp4"),
            Attachment(kind="audio", url=f"{media_base}/ME3", content_type="audio/amr"),
            Attachment(kind="file", url=f"{media_base}/ME4", content_type="text/vcard"),
        )
        assert message.text == "photos"

    def test_media_count_without_its_url_is_malformed(self) -> None:
        params = inbound_sms("x", media=[("https://example.com/a.jpg", "image/jpeg")])
        del params["MediaUrl0"]
        with pytest.raises(MalformedEvent, match="NumMedia is 1 but MediaUrl0 is missing"):
            parse(build(sms_config()), SMS_URL, params)

    @pytest.mark.parametrize(
        ("body", "keyword"),
        [("STOP", "STOP"), (" stop\n", "STOP"), ("StopAll", "STOPALL"), ("unsubscribe", "UNSUBSCRIBE"),
         ("cancel", "CANCEL"), ("END", "END"), ("quit", "QUIT"), ("Baja", "BAJA")],
    )  # fmt: skip
    def test_opt_out_keyword_unsubscribes_and_keeps_the_message(self, body: str, keyword: str) -> None:
        params = inbound_sms(body, sender=CUSTOMER)
        change, message = parse(build(sms_config()), SMS_URL, params)
        sender = Address(IdentityKind.PHONE, CUSTOMER, verified=True)
        assert change == SubscriptionChange(
            sender=sender, subscribed=False, purpose="marketing", reason=keyword
        )
        assert message == InboundMessage(
            sender=sender,
            text=body,
            provider_message_id=params["MessageSid"],
            metadata={"channel": "sms", "to": "+15005550006"},
        )

    @pytest.mark.parametrize(
        ("body", "keyword"), [("START", "START"), ("yes", "YES"), ("Unstop", "UNSTOP"), ("alta ", "ALTA")]
    )
    def test_opt_in_keyword_resubscribes(self, body: str, keyword: str) -> None:
        change, message = parse(build(sms_config()), SMS_URL, inbound_sms(body, sender=CUSTOMER))
        assert change == SubscriptionChange(
            sender=Address(IdentityKind.PHONE, CUSTOMER), subscribed=True, purpose="marketing", reason=keyword
        )
        assert isinstance(message, InboundMessage)

    @pytest.mark.parametrize("body", ["HELP", "ayuda", "please stop", "STOP!", "stop it", "yes please"])
    def test_anything_else_is_only_a_message(self, body: str) -> None:
        events = parse(build(sms_config()), SMS_URL, inbound_sms(body))
        assert [type(event) for event in events] == [InboundMessage]
        assert events[0].text == body


class TestInboundWhatsApp:
    def test_text_message_from_a_phone_with_profile_name(self) -> None:
        params = inbound_whatsapp(
            "Добрий день", sender="+380501234567", profile_name="Olena", message_sid="SM9"
        )
        assert parse(build(whatsapp_config()), WHATSAPP_URL, params) == [
            InboundMessage(
                sender=Address(IdentityKind.PHONE, "+380501234567", verified=True, display_name="Olena"),
                text="Добрий день",
                provider_message_id="SM9",
                metadata={"channel": "whatsapp", "to": "whatsapp:+14155238886", "wa_id": "380501234567"},
            )
        ]

    def test_shared_location(self) -> None:
        extra = {
            "Latitude": "50.4501",
            "Longitude": "30.5234",
            "Address": "Khreshchatyk 1, Kyiv",
            "Label": "Office",
        }
        params = inbound_whatsapp("", message_type="location", extra=extra)
        [message] = parse(build(whatsapp_config()), WHATSAPP_URL, params)
        assert message.text == ""
        assert message.attachments == (
            Attachment(
                kind="location",
                data={
                    "latitude": 50.4501,
                    "longitude": 30.5234,
                    "label": "Office",
                    "address": "Khreshchatyk 1, Kyiv",
                },
            ),
        )

    def test_unreadable_location_is_malformed(self) -> None:
        params = inbound_whatsapp(
            "", message_type="location", extra={"Latitude": "north", "Longitude": "30.5"}
        )
        with pytest.raises(MalformedEvent, match="not numeric"):
            parse(build(whatsapp_config()), WHATSAPP_URL, params)

    def test_quick_reply_button_press(self) -> None:
        extra = {
            "ButtonText": "Yes, confirm",
            "ButtonPayload": "confirm-order-17",
            "OriginalRepliedMessageSid": "SM" + "b" * 32,
            "OriginalRepliedMessageSender": "whatsapp:+14155238886",
        }
        params = inbound_whatsapp("Yes, confirm", message_type="button", extra=extra)
        [message] = parse(build(whatsapp_config()), WHATSAPP_URL, params)
        assert (message.text, message.button_payload) == ("Yes, confirm", "confirm-order-17")
        assert message.in_reply_to == ("SM" + "b" * 32,)

    def test_button_text_stands_in_for_an_empty_body(self) -> None:
        extra = {"ButtonText": "No", "ButtonPayload": "no"}
        [message] = parse(build(whatsapp_config()), WHATSAPP_URL, inbound_whatsapp("", extra=extra))
        assert (message.text, message.button_payload) == ("No", "no")

    def test_voice_note(self) -> None:
        extra = {
            "NumMedia": "1",
            "MediaUrl0": "https://api.twilio.com/m/ME1",
            "MediaContentType0": "audio/ogg",
        }
        [message] = parse(
            build(whatsapp_config()), WHATSAPP_URL, inbound_whatsapp("", message_type="audio", extra=extra)
        )
        assert message.attachments == (
            Attachment(kind="audio", url="https://api.twilio.com/m/ME1", content_type="audio/ogg"),
        )

    def test_stop_on_whatsapp_unsubscribes_the_phone(self) -> None:
        change, _ = parse(
            build(whatsapp_config()), WHATSAPP_URL, inbound_whatsapp("stop", sender="+380501234567")
        )
        assert change.sender == Address(IdentityKind.PHONE, "+380501234567", display_name="Olena")
        assert change.subscribed is False


class TestStatusCallbacks:
    @pytest.mark.parametrize(
        ("twilio_status", "status"),
        [("sending", DeliveryStatus.SENT), ("sent", DeliveryStatus.SENT),
         ("delivered", DeliveryStatus.DELIVERED), ("read", DeliveryStatus.READ)],
    )  # fmt: skip
    def test_progress(self, twilio_status: str, status: DeliveryStatus) -> None:
        events = parse(build(sms_config()), SMS_URL, message_status("SM1", twilio_status))
        assert events == [DeliveryReceipt(provider_message_id="SM1", status=status)]

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            (30003, "ErrorCode 30003: the recipient's phone is unreachable "
                    "(switched off or out of coverage)"),
            (30004, "ErrorCode 30004: the message was blocked: "
                    "the recipient blocked this number or their carrier refuses it"),
            (30005, "ErrorCode 30005: the recipient's number does not exist or is no longer in service"),
            (30006, "ErrorCode 30006: the recipient's number is a landline "
                    "or its carrier cannot receive text messages"),
            (30007, "ErrorCode 30007: the carrier filtered the message as spam or unregistered traffic"),
            (30008, "ErrorCode 30008: the carrier reported an unknown delivery error"),
            (21610, "ErrorCode 21610: the recipient unsubscribed from this number by texting STOP; "
                    "they must text START to receive messages again"),
            (21211, "ErrorCode 21211: the recipient's phone number is not valid"),
            (63016, "ErrorCode 63016: WhatsApp allows free-form messages only within 24 hours "
                    "of the customer's last message; "
                    "outside that window only an approved template can be sent"),
            (12345, "ErrorCode 12345: see https://www.twilio.com/docs/errors/12345"),
        ],
    )  # fmt: skip
    @pytest.mark.parametrize("twilio_status", ["failed", "undelivered"])
    def test_failure_names_its_cause(self, twilio_status: str, code: int, reason: str) -> None:
        events = parse(build(sms_config()), SMS_URL, message_status("SM1", twilio_status, error_code=code))
        assert events == [
            DeliveryReceipt(provider_message_id="SM1", status=DeliveryStatus.FAILED, error=reason)
        ]

    def test_failure_without_a_code(self) -> None:
        [receipt] = parse(build(sms_config()), SMS_URL, message_status("SM1", "undelivered"))
        assert receipt.error == "Twilio reported the message undelivered without an error code"

    @pytest.mark.parametrize("twilio_status", ["queued", "accepted", "scheduled", "canceled", "receiving"])
    def test_statuses_below_sent_are_ignored(self, twilio_status: str) -> None:
        assert parse(build(sms_config()), SMS_URL, message_status("SM1", twilio_status)) == []

    def test_whatsapp_read_receipt(self) -> None:
        params = message_status("SM7", "read", sender="whatsapp:+14155238886", to="whatsapp:+380501234567")
        params.update(ChannelPrefix="whatsapp", ChannelToAddress="+380501234567", EventType="READ")
        assert parse(build(whatsapp_config()), WHATSAPP_URL, params) == [
            DeliveryReceipt(provider_message_id="SM7", status=DeliveryStatus.READ)
        ]


class TestAcknowledgement:
    def test_empty_twiml_response(self) -> None:
        ack = build(sms_config()).acknowledgement(signed_request(SMS_URL, inbound_sms("hi")))
        assert (ack.status_code, ack.content_type) == (200, "text/xml")
        assert ack.body == b'<?xml version="1.0" encoding="UTF-8"?><Response />'


class TestSend:
    async def test_text_goes_through_the_messages_api(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        result = await sms.send(
            OutboundMessage(to=CUSTOMER, text="Your order is ready", idempotency_key="k1")
        )
        [request] = fake.messages
        assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert request.username == ACCOUNT_SID
        assert request.form == {
            "To": [CUSTOMER],
            "From": ["+15005550006"],
            "Body": ["Your order is ready"],
            "StatusCallback": [SMS_URL],
        }
        assert result == SendResult(provider_message_ids=(result.provider_message_ids[0],))
        assert result.provider_message_ids[0].startswith("SM") and len(result.provider_message_ids[0]) == 34

    async def test_sms_buttons_become_a_numbered_list(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        buttons = (
            Button("Tomorrow", payload="day-1"),
            Button("Friday", payload="day-5"),
            Button("Call me", payload="call"),
            Button("Opening hours", url="https://shop.example.com/hours"),
            Button("Share my phone", request_contact=True),
        )
        await sms.send(
            OutboundMessage(to=CUSTOMER, text="When shall we deliver?", idempotency_key="k", buttons=buttons)
        )
        assert fake.messages[0].param("Body") == (
            "When shall we deliver?\n\n"
            "1. Tomorrow\n2. Friday\n3. Call me\n\n"
            "Opening hours: https://shop.example.com/hours\n\n"
            "Reply 1, 2 or 3"
        )

    async def test_whatsapp_buttons_become_a_numbered_list(
        self, fake: FakeTwilioApi, whatsapp: TwilioMessagingAdapter
    ) -> None:
        buttons = (Button("Yes", payload="yes"), Button("No", payload="no"))
        await whatsapp.send(
            OutboundMessage(to="+380501234567", text="Confirm?", idempotency_key="k", buttons=buttons)
        )
        [request] = fake.messages
        assert request.param("To") == "whatsapp:+380501234567"
        assert request.param("From") == "whatsapp:+14155238886"
        assert request.param("Body") == "Confirm?\n\n1. Yes\n2. No\n\nReply with a number"
        assert request.param("StatusCallback") == WHATSAPP_URL

    async def test_whatsapp_recipient_may_carry_its_prefix(
        self, fake: FakeTwilioApi, whatsapp: TwilioMessagingAdapter
    ) -> None:
        await whatsapp.send(OutboundMessage(to="whatsapp:+380501234567", text="hi", idempotency_key="k"))
        assert fake.messages[0].param("To") == "whatsapp:+380501234567"

    async def test_mms_carries_all_media_in_one_message(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        media = tuple(Attachment(kind="image", url=f"https://cdn.example.com/{n}.jpg") for n in range(3))
        result = await sms.send(
            OutboundMessage(to=CUSTOMER, text="Catalogue", idempotency_key="k", attachments=media)
        )
        [request] = fake.messages
        assert request.form["MediaUrl"] == [f"https://cdn.example.com/{n}.jpg" for n in range(3)]
        assert request.param("Body") == "Catalogue"
        assert len(result.provider_message_ids) == 1

    async def test_whatsapp_sends_one_media_per_message(
        self, fake: FakeTwilioApi, whatsapp: TwilioMessagingAdapter
    ) -> None:
        media = (
            Attachment(kind="image", url="https://cdn.example.com/a.jpg"),
            Attachment(kind="file", url="https://cdn.example.com/b.pdf"),
        )
        result = await whatsapp.send(
            OutboundMessage(to="+380501234567", text="Invoice", idempotency_key="k", attachments=media)
        )
        assert [(r.param("Body"), r.form["MediaUrl"]) for r in fake.messages] == [
            ("Invoice", ["https://cdn.example.com/a.jpg"]),
            (None, ["https://cdn.example.com/b.pdf"]),
        ]
        assert len(result.provider_message_ids) == 2

    async def test_media_without_a_url_is_refused_before_calling_twilio(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        media = (Attachment(kind="image", content=b"\x89PNG"),)
        with pytest.raises(PermanentSendError, match="image attachment has no URL"):
            await sms.send(OutboundMessage(to=CUSTOMER, text="", idempotency_key="k", attachments=media))
        assert fake.requests == []

    async def test_long_text_is_split_at_1600(self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter) -> None:
        paragraphs = [f"Paragraph {n}: " + "lorem ipsum " * 60 for n in range(5)]
        text = "\n\n".join(paragraphs)
        assert len(text) > 3200
        result = await sms.send(OutboundMessage(to=CUSTOMER, text=text, idempotency_key="k"))
        bodies = [request.param("Body") or "" for request in fake.messages]
        assert len(bodies) == 3 == len(result.provider_message_ids)
        assert all(len(body) <= 1600 for body in bodies)
        assert all(body.startswith("Paragraph") for body in bodies)  # cut between paragraphs
        assert "\n\n".join(bodies) == text

    async def test_text_of_exactly_1600_stays_one_message(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        await sms.send(OutboundMessage(to=CUSTOMER, text="x" * 1600, idempotency_key="k"))
        assert len(fake.messages) == 1

    async def test_emoji_count_double_towards_the_limit(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        await sms.send(OutboundMessage(to=CUSTOMER, text="🎉" * 900, idempotency_key="k"))
        assert [len(request.param("Body") or "") for request in fake.messages] == [800, 100]

    async def test_messaging_service_picks_the_sender(self, fake: FakeTwilioApi) -> None:
        config = sms_config(api_base=fake.base_url, messaging_service_sid="MG" + "c" * 32)
        del config["from"]
        adapter = build(config)
        try:
            await adapter.send(OutboundMessage(to=CUSTOMER, text="hi", idempotency_key="k"))
        finally:
            await adapter.aclose()
        [request] = fake.messages
        assert request.param("MessagingServiceSid") == "MG" + "c" * 32
        assert request.param("From") is None

    async def test_recipient_that_is_no_phone_number_is_refused(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        with pytest.raises(PermanentSendError, match="not a phone number in international format"):
            await sms.send(OutboundMessage(to="0501234567", text="hi", idempotency_key="k"))
        assert fake.requests == []

    async def test_empty_message_is_refused(self, sms: TwilioMessagingAdapter) -> None:
        with pytest.raises(PermanentSendError, match="neither text nor media"):
            await sms.send(OutboundMessage(to=CUSTOMER, text="", idempotency_key="k"))

    async def test_the_client_is_reopened_after_aclose(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        await sms.send(OutboundMessage(to=CUSTOMER, text="one", idempotency_key="k1"))
        await sms.aclose()
        await sms.send(OutboundMessage(to=CUSTOMER, text="two", idempotency_key="k2"))
        assert [request.param("Body") for request in fake.messages] == ["one", "two"]


class TestSendErrors:
    async def send(self, adapter: TwilioMessagingAdapter) -> SendResult:
        return await adapter.send(OutboundMessage(to=CUSTOMER, text="hi", idempotency_key="k"))

    async def test_429_is_rate_limited_with_retry_after(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        fake.fail_next(Fault.rate_limited(retry_after=7))
        with pytest.raises(RateLimited) as error:
            await self.send(sms)
        assert error.value.retry_after == 7.0
        assert "Too Many Requests" in str(error.value)

    async def test_429_without_retry_after(self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter) -> None:
        fake.fail_next(Fault.rate_limited())
        with pytest.raises(RateLimited) as error:
            await self.send(sms)
        assert error.value.retry_after is None

    async def test_retry_after_as_an_http_date(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        fake.fail_next(Fault(429, Fault.rate_limited().body, {"Retry-After": later}))
        with pytest.raises(RateLimited) as error:
            await self.send(sms)
        assert error.value.retry_after == pytest.approx(30, abs=2)

    async def test_retry_after_comes_from_the_failing_answer(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        fake.fail_next(Fault.rate_limited(retry_after=7), Fault.server_error(503))
        with pytest.raises(RateLimited):
            await self.send(sms)
        with pytest.raises(TransientSendError) as error:
            await self.send(sms)
        assert error.value.retry_after is None

    @pytest.mark.parametrize("status", [500, 502, 503])
    async def test_server_errors_are_transient(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter, status: int
    ) -> None:
        fake.fail_next(Fault.server_error(status))
        with pytest.raises(TransientSendError, match=f"HTTP {status}") as error:
            await self.send(sms)
        assert not isinstance(error.value, RateLimited)

    async def test_server_error_then_success(self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter) -> None:
        fake.fail_next(Fault.server_error(503))
        with pytest.raises(TransientSendError):
            await self.send(sms)
        result = await self.send(sms)
        assert len(fake.messages) == 2 and len(result.provider_message_ids) == 1

    async def test_timeout_is_transient(self, fake: FakeTwilioApi) -> None:
        adapter = build(sms_config(api_base=fake.base_url), http_timeout=0.3)
        fake.fail_next(Fault.slow(30))
        try:
            with pytest.raises(TransientSendError, match="could not reach Twilio"):
                await self.send(adapter)
        finally:
            await adapter.aclose()

    async def test_connection_refused_is_transient(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        adapter = build(sms_config(api_base=f"http://127.0.0.1:{port}"))
        try:
            with pytest.raises(TransientSendError, match="could not reach Twilio"):
                await self.send(adapter)
        finally:
            await adapter.aclose()

    async def test_unreadable_success_is_transient(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        fake.fail_next(Fault.malformed())
        with pytest.raises(TransientSendError, match="not JSON"):
            await self.send(sms)

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            (21211, "the recipient's phone number is not valid"),
            (21610, "the recipient unsubscribed from this number by texting STOP"),
            (21408, "sending to this country is not enabled on the Twilio account"),
            (63016, "WhatsApp allows free-form messages only within 24 hours of the customer's last message"),
        ],
    )
    async def test_refusals_are_permanent_with_a_plain_reason(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter, code: int, reason: str
    ) -> None:
        fake.fail_next(Fault.refused(code))
        with pytest.raises(PermanentSendError, match=f"ErrorCode {code}: {reason}"):
            await self.send(sms)

    async def test_unlisted_refusal_keeps_twilio_message(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        fake.fail_next(Fault.refused(21602))
        with pytest.raises(PermanentSendError) as error:
            await self.send(sms)
        assert str(error.value) == (
            "Twilio refused the message: Unable to create record: Message body is required. "
            "(ErrorCode 21602: see https://www.twilio.com/docs/errors/21602)"
        )

    async def test_problem_details_error_keeps_its_detail(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        # Newer Twilio endpoints answer RFC 9457 problem details, which the SDK raises differently.
        problem = {
            "type": "https://www.twilio.com/docs/errors/21612",
            "title": "Unreachable destination",
            "status": 400,
            "code": 21612,
            "detail": "The 'To' phone number is not currently reachable via SMS.",
        }
        fake.fail_next(Fault(400, json.dumps(problem)))
        with pytest.raises(PermanentSendError) as error:
            await self.send(sms)
        assert str(error.value) == (
            "Twilio refused the message: The 'To' phone number is not currently reachable via SMS. "
            "(ErrorCode 21612: see https://www.twilio.com/docs/errors/21612)"
        )

    async def test_wrong_credentials_are_permanent(self, fake: FakeTwilioApi) -> None:
        adapter = build(sms_config(api_base=fake.base_url, auth_token="0" * 32))
        try:
            with pytest.raises(PermanentSendError) as error:
                await self.send(adapter)
        finally:
            await adapter.aclose()
        assert str(error.value) == "Twilio rejected the account credentials"
        assert fake.messages[0].username == ACCOUNT_SID

    async def test_a_later_part_failing_fails_the_send(
        self, fake: FakeTwilioApi, sms: TwilioMessagingAdapter
    ) -> None:
        fake.fail_next(Fault(status=201, body='{"sid": "SM1"}'), Fault.refused(21610))
        with pytest.raises(PermanentSendError, match="21610"):
            await sms.send(OutboundMessage(to=CUSTOMER, text="word " * 400, idempotency_key="k"))
        assert len(fake.messages) == 2
