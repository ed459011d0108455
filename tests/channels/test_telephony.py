"""The generic PBX webhook: signature, replay window, every call event, and the problems it names."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from channels.contract import (
    Acknowledgement,
    Address,
    CallEvent,
    CallStatus,
    ChannelContext,
    IdentityKind,
    MalformedEvent,
    OutboundMessage,
    PermanentSendError,
    SignatureError,
    WebhookRequest,
)
from channels.registry import spec_for
from channels.telephony import SPEC, TelephonyAdapter, TelephonySettings

SECRET = "b7f3c1e9a2d84f60b1c5e7a9d3f2c4b8"
URL = "https://hub.example.com/webhooks/telephony/office"
CALLER = Address(IdentityKind.PHONE, "+380501234567", verified=True)


def build(**settings: Any) -> TelephonyAdapter:
    config = TelephonySettings(secret=SECRET, **settings)
    return SPEC.build(config, ChannelContext(account="office", public_url="https://hub.example.com"))


def call_event(**fields: Any) -> dict[str, Any]:
    event = {
        "call_id": "1714557600.42",
        "event": "answered",
        "caller": "+380501234567",
        "callee": "0441234567",
        "direction": "inbound",
        "timestamp": "2024-05-01T13:00:05+03:00",
    }
    return {key: value for key, value in (event | fields).items() if value is not None}


def signed(
    payload: Any, *, secret: str = SECRET, at: float | None = None, body: bytes | None = None
) -> WebhookRequest:
    """A request as a PBX following the documented recipe sends it."""
    raw = json.dumps(payload).encode() if body is None else body
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    headers = {"x-omnihub-timestamp": timestamp, "x-omnihub-signature": f"sha256={digest}"}
    return WebhookRequest("POST", URL, headers, raw)


@pytest.fixture
async def pbx() -> AsyncIterator[TelephonyAdapter]:
    adapter = build()
    yield adapter
    await adapter.aclose()


class TestVerify:
    def test_accepts_a_fresh_signed_request(self, pbx: TelephonyAdapter) -> None:
        pbx.verify(signed(call_event()))

    def test_rejects_a_body_changed_after_signing(self, pbx: TelephonyAdapter) -> None:
        genuine = signed(call_event())
        forged = WebhookRequest("POST", URL, genuine.headers, genuine.body.replace(b"answered", b"missed"))
        with pytest.raises(SignatureError, match="does not match"):
            pbx.verify(forged)

    def test_rejects_another_secret(self, pbx: TelephonyAdapter) -> None:
        with pytest.raises(SignatureError, match="does not match"):
            pbx.verify(signed(call_event(), secret="someone-else-entirely"))

    def test_rejects_a_timestamp_swapped_for_a_fresh_one(self, pbx: TelephonyAdapter) -> None:
        old = signed(call_event(), at=time.time() - 3600)
        replayed = WebhookRequest(
            "POST", URL, {**old.headers, "x-omnihub-timestamp": str(int(time.time()))}, old.body
        )
        with pytest.raises(SignatureError, match="does not match"):
            pbx.verify(replayed)

    @pytest.mark.parametrize("age", [301, -301])
    def test_rejects_a_stale_or_future_timestamp(self, pbx: TelephonyAdapter, age: int) -> None:
        with pytest.raises(SignatureError, match="away from the hub's clock"):
            pbx.verify(signed(call_event(), at=time.time() - age))

    def test_accepts_a_timestamp_within_five_minutes(self, pbx: TelephonyAdapter) -> None:
        pbx.verify(signed(call_event(), at=time.time() - 290))

    @pytest.mark.parametrize("header", ["x-omnihub-timestamp", "x-omnihub-signature"])
    def test_rejects_a_missing_header(self, pbx: TelephonyAdapter, header: str) -> None:
        request = signed(call_event())
        headers = {name: value for name, value in request.headers.items() if name != header}
        with pytest.raises(SignatureError, match=f"(?i)no {header} header"):
            pbx.verify(WebhookRequest("POST", URL, headers, request.body))

    @pytest.mark.parametrize(
        ("header", "value", "problem"),
        [
            ("x-omnihub-timestamp", "2024-05-01T10:00:00Z", "unix time in whole seconds"),
            ("x-omnihub-signature", "sha1=0123abcd", "must look like sha256="),
            ("x-omnihub-signature", "подпись", "must look like sha256="),
        ],
    )
    def test_rejects_a_malformed_header(
        self, pbx: TelephonyAdapter, header: str, value: str, problem: str
    ) -> None:
        request = signed(call_event())
        with pytest.raises(SignatureError, match=problem):
            pbx.verify(WebhookRequest("POST", URL, {**request.headers, header: value}, request.body))


class TestEvents:
    def test_event_id_is_the_call_and_its_event(self, pbx: TelephonyAdapter) -> None:
        assert pbx.event_id(signed(call_event(event="ended", duration=65))) == "1714557600.42:ended"

    def test_a_numeric_call_id_is_kept_as_text(self, pbx: TelephonyAdapter) -> None:
        assert pbx.event_id(signed(call_event(call_id=88412, event="missed"))) == "88412:missed"

    @pytest.mark.parametrize("status", list(CallStatus))
    def test_every_event(self, pbx: TelephonyAdapter, status: CallStatus) -> None:
        assert pbx.parse(signed(call_event(event=status.value))) == [
            CallEvent(
                call_id="1714557600.42",
                caller=CALLER,
                callee="+380441234567",
                status=status,
                direction="inbound",
                at=datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC),
            )
        ]

    def test_an_ended_call_keeps_duration_and_recording(self, pbx: TelephonyAdapter) -> None:
        payload = call_event(event="ended", duration=125, recording_url="https://pbx.example.com/rec/42.mp3")
        [event] = pbx.parse(signed(payload))
        assert isinstance(event, CallEvent)
        assert (event.duration_seconds, event.recording_url) == (125, "https://pbx.example.com/rec/42.mp3")

    def test_an_outbound_call_with_the_minimum_of_fields(self, pbx: TelephonyAdapter) -> None:
        payload = {"call_id": "c-7", "event": "started", "caller": "0441234567", "callee": "+48 601 234 567"}
        assert pbx.parse(signed({**payload, "direction": "outbound"})) == [
            CallEvent(
                call_id="c-7",
                caller=Address(IdentityKind.PHONE, "+380441234567", verified=True),
                callee="+48601234567",
                status=CallStatus.STARTED,
                direction="outbound",
            )
        ]
        [default] = pbx.parse(signed(payload))
        assert isinstance(default, CallEvent) and default.direction == "inbound"

    async def test_national_numbers_are_read_in_the_default_region(self) -> None:
        adapter = build(default_region="pl")
        try:
            [event] = adapter.parse(signed(call_event(caller="601 234 567", callee="+380441234567")))
        finally:
            await adapter.aclose()
        assert isinstance(event, CallEvent)
        assert event.caller == Address(IdentityKind.PHONE, "+48601234567", verified=True)

    def test_the_answer_is_a_json_ok(self, pbx: TelephonyAdapter) -> None:
        assert pbx.acknowledgement(signed(call_event())) == Acknowledgement()


class TestBadEvents:
    def test_every_problem_is_named_in_one_sentence(self, pbx: TelephonyAdapter) -> None:
        payload = {
            "event": "ringing",
            "caller": "12ab",
            "callee": "101",
            "direction": "sideways",
            "duration": -3,
            "recording_url": "ftp://pbx/rec.mp3",
            "timestamp": "2024-05-01 13:00:05",
        }
        with pytest.raises(MalformedEvent) as caught:
            pbx.event_id(signed(payload))
        assert str(caught.value) == (
            "The call event cannot be used: call_id is missing; "
            "event 'ringing' is not one of started, answered, ended, missed; "
            "caller '12ab' is not a phone number; "
            "callee '101' is not a valid phone number (read in region UA); "
            "direction 'sideways' is not one of inbound, outbound; "
            "duration must be a whole number of seconds, not -3; "
            "recording_url must be an http(s) URL, not 'ftp://pbx/rec.mp3'; "
            "timestamp '2024-05-01 13:00:05' has no UTC offset (add Z or e.g. +03:00)."
        )

    @pytest.mark.parametrize(
        ("fields", "problem"),
        [
            ({"caller": None}, "caller is missing"),
            ({"caller": 380501234567}, "caller must be a phone number as a string"),
            ({"call_id": ""}, "call_id is missing"),
            ({"call_id": ["a"]}, "call_id must be a string"),
            ({"duration": True}, "duration must be a whole number of seconds"),
            ({"duration": 12.5}, "duration must be a whole number of seconds"),
            ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not an ISO 8601 date and time"),
        ],
    )
    def test_a_bad_field_is_named(self, pbx: TelephonyAdapter, fields: dict[str, Any], problem: str) -> None:
        payload = call_event() | fields
        with pytest.raises(MalformedEvent, match=problem):
            pbx.parse(signed({key: value for key, value in payload.items() if value is not None}))

    def test_a_body_that_is_not_an_object(self, pbx: TelephonyAdapter) -> None:
        with pytest.raises(MalformedEvent, match="not a JSON object"):
            pbx.event_id(signed([call_event()]))

    def test_a_body_that_is_not_json(self, pbx: TelephonyAdapter) -> None:
        with pytest.raises(MalformedEvent, match="not valid JSON"):
            pbx.event_id(signed(None, body=b"call_id=1&event=started"))


class TestAccount:
    async def test_cannot_send(self, pbx: TelephonyAdapter) -> None:
        with pytest.raises(PermanentSendError, match="a telephony account cannot send messages"):
            await pbx.send(OutboundMessage(to="+380501234567", text="hi", idempotency_key="k"))

    def test_offers_no_sending_capabilities(self, pbx: TelephonyAdapter) -> None:
        caps = pbx.capabilities
        assert not (caps.buttons or caps.media or caps.delivery_receipts or caps.read_receipts)

    def test_the_registry_finds_the_spec(self) -> None:
        assert spec_for("telephony") is SPEC

    def test_settings_refuse_a_short_secret_and_an_unknown_region(self) -> None:
        with pytest.raises(ValidationError, match="secret"):
            TelephonySettings(secret="short")
        with pytest.raises(ValidationError, match="'XX' is not a region code"):
            TelephonySettings(secret=SECRET, default_region="XX")

    def test_the_secret_stays_out_of_reprs(self) -> None:
        assert SECRET not in repr(TelephonySettings(secret=SECRET))
