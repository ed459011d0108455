"""Twilio Voice: signed call webhooks as CallEvents, and the TwiML call flow the hub answers with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from channels.contract import (
    Address,
    CallEvent,
    CallStatus,
    ChannelAdapter,
    ChannelContext,
    IdentityKind,
    MalformedEvent,
    OutboundMessage,
    PermanentSendError,
    SignatureError,
)
from channels.registry import spec_for
from channels.twilio.voice import TwilioVoiceAdapter
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, call_webhook, signed_request

PUBLIC_URL = "https://hub.example.com"
VOICE_URL = f"{PUBLIC_URL}/webhooks/voice/calls"
CALL_SID = "CA" + "5" * 32
CALLER = "+15558675310"
OUR_NUMBER = "+15005550006"
XML = '<?xml version="1.0" encoding="UTF-8"?>'


def build(**overrides: Any) -> TwilioVoiceAdapter:
    config = {"type": "voice", "provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    config.update(overrides)
    spec = spec_for("voice")
    adapter = spec.build(
        spec.settings.model_validate(config), ChannelContext(account="calls", public_url=PUBLIC_URL)
    )
    assert isinstance(adapter, TwilioVoiceAdapter)
    return adapter


def request(status: str, **kwargs: Any) -> Any:
    return signed_request(VOICE_URL, call_webhook(status, call_sid=CALL_SID, **kwargs))


def dial_result(dial_status: str, **extra: str) -> Any:
    fields = {"DialCallStatus": dial_status, "DialCallSid": "CA" + "6" * 32, "DialBridged": "false", **extra}
    return request("in-progress", extra=fields)


def caller() -> Address:
    return Address(IdentityKind.PHONE, CALLER, verified=True)


class TestSettings:
    def test_adapter_satisfies_the_contract(self) -> None:
        assert isinstance(build(), ChannelAdapter)

    def test_forward_to_must_be_e164(self) -> None:
        with pytest.raises(
            ValidationError, match="forward_to must be a phone number in international format"
        ):
            build(forward_to="0501234567")

    def test_dial_timeout_within_twilio_bounds(self) -> None:
        with pytest.raises(ValidationError, match="dial_timeout"):
            build(forward_to=OUR_NUMBER, dial_timeout=2)

    def test_another_provider_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="set provider: twilio"):
            build(provider="asterisk")


class TestSignature:
    def test_signed_call_passes(self) -> None:
        build().verify(request("ringing"))

    def test_forged_call_is_refused(self) -> None:
        forged = signed_request(VOICE_URL, call_webhook("ringing", call_sid=CALL_SID), auth_token="1" * 32)
        with pytest.raises(SignatureError) as error:
            build().verify(forged)
        assert error.value.status_code == 403

    def test_unsigned_call_is_refused(self) -> None:
        with pytest.raises(SignatureError):
            build().verify(
                signed_request(VOICE_URL, call_webhook("ringing", call_sid=CALL_SID), auth_token=None)
            )


class TestEventId:
    @pytest.mark.parametrize("status", ["ringing", "in-progress", "completed", "no-answer"])
    def test_call_sid_and_status(self, status: str) -> None:
        assert build().event_id(request(status)) == f"{CALL_SID}:{status}"

    def test_dial_result_is_distinct_from_the_callers_leg(self) -> None:
        assert build().event_id(dial_result("no-answer")) == f"{CALL_SID}:dial-no-answer"

    def test_missing_call_status_is_malformed(self) -> None:
        fields = call_webhook("ringing", call_sid=CALL_SID)
        del fields["CallStatus"]
        with pytest.raises(MalformedEvent, match="no CallStatus"):
            build().event_id(signed_request(VOICE_URL, fields))

    def test_missing_call_sid_is_malformed(self) -> None:
        fields = call_webhook("ringing", call_sid="")
        with pytest.raises(MalformedEvent, match="no CallSid"):
            build().event_id(signed_request(VOICE_URL, fields))


class TestParse:
    def test_incoming_call_rings(self) -> None:
        assert build().parse(request("ringing")) == [
            CallEvent(call_id=CALL_SID, caller=caller(), callee=OUR_NUMBER, status=CallStatus.STARTED)
        ]

    def test_answered(self) -> None:
        [event] = build().parse(request("in-progress"))
        assert event.status is CallStatus.ANSWERED
        assert event.duration_seconds is None

    def test_completed_with_duration_recording_and_time(self) -> None:
        recording = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'7' * 32}"
        extra = {
            "CallDuration": "47",
            "Duration": "1",
            "RecordingUrl": recording,
            "RecordingSid": "RE" + "7" * 32,
            "Timestamp": "Tue, 14 May 2024 10:15:47 +0000",
            "CallbackSource": "call-progress-events",
            "SequenceNumber": "0",
        }
        assert build().parse(request("completed", extra=extra)) == [
            CallEvent(
                call_id=CALL_SID,
                caller=caller(),
                callee=OUR_NUMBER,
                status=CallStatus.ENDED,
                direction="inbound",
                duration_seconds=47,
                recording_url=recording,
                at=datetime(2024, 5, 14, 10, 15, 47, tzinfo=UTC),
            )
        ]

    @pytest.mark.parametrize("status", ["busy", "no-answer", "canceled", "failed"])
    def test_unanswered_incoming_call_is_missed(self, status: str) -> None:
        [event] = build().parse(request(status, extra={"CallDuration": "0"}))
        assert event.status is CallStatus.MISSED
        assert (event.caller, event.direction, event.duration_seconds) == (caller(), "inbound", None)

    def test_unanswered_outgoing_call_is_not_missed(self) -> None:
        [event] = build().parse(
            request("no-answer", direction="outbound-api", caller=OUR_NUMBER, called=CALLER)
        )
        assert (event.status, event.direction, event.callee) == (CallStatus.ENDED, "outbound", CALLER)

    def test_forwarded_call_nobody_picked_up_is_missed(self) -> None:
        assert build(forward_to="+15550001111").parse(dial_result("no-answer", DialCallDuration="0")) == [
            CallEvent(call_id=CALL_SID, caller=caller(), callee=OUR_NUMBER, status=CallStatus.MISSED)
        ]

    @pytest.mark.parametrize("dial_status", ["busy", "failed", "canceled"])
    def test_forwarded_call_that_did_not_connect_is_missed(self, dial_status: str) -> None:
        [event] = build().parse(dial_result(dial_status))
        assert event.status is CallStatus.MISSED

    def test_forwarded_call_picked_up_is_answered_with_its_talk_time(self) -> None:
        recording = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
        [event] = build().parse(dial_result("completed", DialCallDuration="93", RecordingUrl=recording))
        assert (event.status, event.duration_seconds, event.recording_url) == (
            CallStatus.ANSWERED,
            93,
            recording,
        )

    def test_withheld_caller_id_is_kept_unverified(self) -> None:
        [event] = build().parse(request("ringing", caller="anonymous"))
        assert event.caller == Address(IdentityKind.PHONE, "anonymous", verified=False)

    def test_unknown_status_is_ignored(self) -> None:
        assert build().parse(request("answering-machine")) == []

    def test_unreadable_duration_is_malformed(self) -> None:
        with pytest.raises(MalformedEvent, match="CallDuration is not a whole number"):
            build().parse(request("completed", extra={"CallDuration": "long"}))


class TestCallFlow:
    def test_forwarding_dials_with_a_status_callback_and_timeout(self) -> None:
        ack = build(forward_to="+15550001111", dial_timeout=25).acknowledgement(request("ringing"))
        assert (ack.status_code, ack.content_type) == (200, "text/xml")
        assert ack.body.decode() == (
            f'{XML}<Response><Dial action="{VOICE_URL}" method="POST" timeout="25">+15550001111</Dial>'
            "</Response>"
        )

    def test_forwarding_can_record(self) -> None:
        ack = build(forward_to="+15550001111", record=True).acknowledgement(request("ringing"))
        assert 'record="record-from-answer"' in ack.body.decode()

    def test_greeting_then_hang_up(self) -> None:
        ack = build(
            greeting="Thanks for calling. We will call you back.", greeting_language="en-GB"
        ).acknowledgement(request("ringing"))
        assert ack.body.decode() == (
            f'{XML}<Response><Say language="en-GB">Thanks for calling. We will call you back.</Say>'
            "<Hangup /></Response>"
        )

    def test_greeting_is_escaped(self) -> None:
        ack = build(greeting="Tom & Jerry <shop>").acknowledgement(request("ringing"))
        assert "<Say>Tom &amp; Jerry &lt;shop&gt;</Say>" in ack.body.decode()

    def test_without_forwarding_or_greeting_the_call_is_rejected_unbilled(self) -> None:
        ack = build().acknowledgement(request("ringing"))
        assert ack.body.decode() == f'{XML}<Response><Reject reason="busy" /></Response>'

    def test_unanswered_forward_plays_the_greeting_and_hangs_up(self) -> None:
        adapter = build(forward_to="+15550001111", greeting="Sorry, nobody is free.")
        ack = adapter.acknowledgement(dial_result("no-answer"))
        assert ack.body.decode() == f"{XML}<Response><Say>Sorry, nobody is free.</Say><Hangup /></Response>"

    def test_unanswered_forward_without_greeting_hangs_up(self) -> None:
        ack = build(forward_to="+15550001111").acknowledgement(dial_result("busy"))
        assert ack.body.decode() == f"{XML}<Response><Hangup /></Response>"

    def test_answered_forward_hangs_up_without_greeting(self) -> None:
        adapter = build(forward_to="+15550001111", greeting="Sorry, nobody is free.")
        ack = adapter.acknowledgement(dial_result("completed", DialCallDuration="60"))
        assert ack.body.decode() == f"{XML}<Response><Hangup /></Response>"

    @pytest.mark.parametrize("status", ["completed", "no-answer", "in-progress"])
    def test_status_callbacks_get_an_empty_response(self, status: str) -> None:
        ack = build(forward_to="+15550001111", greeting="Hello").acknowledgement(request(status))
        assert ack.body.decode() == f"{XML}<Response />"


class TestSend:
    async def test_voice_account_sends_no_text(self) -> None:
        adapter = build()
        with pytest.raises(PermanentSendError, match="a voice account does not send text messages"):
            await adapter.send(OutboundMessage(to=CALLER, text="hi", idempotency_key="k"))
        await adapter.aclose()
