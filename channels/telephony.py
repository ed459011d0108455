"""Generic PBX call events: one signed JSON webhook that any phone system can call.

Many PBXs can only say "call a URL when something happens", and many of their own webhooks trust the
caller's IP address. This adapter defines one small, signed format instead.

Request
    ``POST {public_url}/webhooks/telephony/{account}``, ``Content-Type: application/json``::

        {
          "call_id": "1714557600.42",
          "event": "ended",
          "caller": "+380501234567",
          "callee": "0441234567",
          "direction": "inbound",
          "duration": 125,
          "recording_url": "https://pbx.example.com/recordings/1714557600.42.mp3",
          "timestamp": "2024-05-01T10:02:05+03:00"
        }

    ============== ========= ================================================================================
    field          required  meaning
    ============== ========= ================================================================================
    call_id        yes       the PBX's id of the call, the same in every event of that call (string or number)
    event          yes       ``started`` (ringing), ``answered``, ``ended`` or ``missed``
    caller         yes       the number that placed the call
    callee         yes       the number that was called
    direction      no        ``inbound`` (default: the customer called you) or ``outbound`` (you called them);
                             on an outbound call the caller is your line and the callee the customer
    duration       no        seconds of conversation, a whole number (on ``ended``)
    recording_url  no        an http(s) URL of the call's recording
    timestamp      no        when it happened, ISO 8601 with a UTC offset (``Z`` or ``+03:00``)
    ============== ========= ================================================================================

    Numbers are E.164 (``+380501234567``) or national numbers of the account's ``default_region``
    (``0501234567`` with ``UA``); the hub stores them as E.164. Internal extensions are not accepted: send
    the external line number. Other fields are ignored, so a PBX may send more.

Signature
    Two headers, computed with the account's ``secret``::

        X-Omnihub-Timestamp: 1714557725
        X-Omnihub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

    The timestamp is the unix time in whole seconds when the PBX sends the request, and the signed
    content is that number in decimal, a full stop, then the raw body bytes: the same scheme as the
    custom API channel's (channels.signing). The hub refuses a request whose timestamp is more than
    5 minutes away from its clock, so a captured request cannot be replayed later; a replay within
    those minutes repeats ``(call_id, event)`` and is dropped as a duplicate.
    In Python::

        timestamp = str(int(time.time()))
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"X-Omnihub-Timestamp": timestamp, "X-Omnihub-Signature": f"sha256={digest}"}

    In a shell::

        ts=$(date +%s)
        sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
        curl -H "X-Omnihub-Timestamp: $ts" -H "X-Omnihub-Signature: sha256=$sig" \\
             -H "Content-Type: application/json" --data "$body" "$URL"

Answers
    ``200 {"ok":true}`` once the event is stored (a repeated event is answered the same way); ``401`` for
    a missing, forged or stale signature; ``400`` with a sentence naming every problem of a body that
    cannot be used. A PBX should retry on any other answer or on no answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, SecretStr, field_validator

from channels.contract import (
    Acknowledgement,
    Address,
    CallEvent,
    CallStatus,
    Capabilities,
    ChannelContext,
    IdentityKind,
    MalformedEvent,
    NormalizedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimits,
    SendResult,
    WebhookRequest,
)
from channels.signing import verify_signed
from channels.spec import ChannelSettings, ChannelSpec

_DIRECTIONS = ("inbound", "outbound")


class TelephonySettings(ChannelSettings):
    """A PBX sending signed call events."""

    type: Literal["telephony"] = "telephony"
    # Shared with the PBX; long and random, e.g. ``openssl rand -hex 32``.
    secret: SecretStr = Field(min_length=16)
    # The region numbers without a leading + (or international prefix) are read in.
    default_region: str = "UA"

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code phonenumbers knows (e.g. UA, PL, US)")
        return region


class _Invalid(ValueError):
    """One field's problem, worded to follow the field's name."""


class TelephonyAdapter:
    """One PBX. It only receives: a phone system is not a channel to write to."""

    type = "telephony"
    capabilities = Capabilities(buttons=False, media=False, max_text_length=0)
    rate_limits = RateLimits()

    def __init__(self, settings: TelephonySettings, context: ChannelContext) -> None:
        self._secret = settings.secret
        self._region = settings.default_region

    def verify(self, request: WebhookRequest) -> None:
        """Check the timestamp is fresh and the signature covers it and the body (channels.signing)."""
        verify_signed(request, self._secret.get_secret_value())

    def event_id(self, request: WebhookRequest) -> str:
        """``call_id:event``. The whole event is checked here already, so that a PBX sending something
        unusable gets a 400 naming the problems rather than a 200 for an event the hub then drops."""
        event = self._read(request)
        return f"{event.call_id}:{event.status.value}"

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """``{"ok":true}``: the event is stored."""
        return Acknowledgement()

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """The call event, caller as a verified phone identity."""
        return [self._read(request)]

    async def send(self, message: OutboundMessage) -> SendResult:
        """Always refused: the webhook only receives."""
        raise PermanentSendError("a telephony account cannot send messages")

    async def aclose(self) -> None:
        """Nothing to release: the adapter holds no connections."""

    def _read(self, request: WebhookRequest) -> CallEvent:
        payload = request.json()
        if not isinstance(payload, dict):
            raise MalformedEvent("the call event is not a JSON object")
        readers: dict[str, Callable[[Any], Any]] = {
            "call_id": _call_id,
            "event": _call_status,
            "caller": self._phone,
            "callee": self._phone,
            "direction": _direction,
            "duration": _duration,
            "recording_url": _recording_url,
            "timestamp": _timestamp,
        }
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, read in readers.items():
            try:
                values[name] = read(payload.get(name))
            except _Invalid as exc:
                problems.append(f"{name} {exc}")
        if problems:
            raise MalformedEvent(f"The call event cannot be used: {'; '.join(problems)}.")
        return CallEvent(
            call_id=values["call_id"],
            caller=Address(IdentityKind.PHONE, values["caller"], verified=True),
            callee=values["callee"],
            status=values["event"],
            direction=values["direction"],
            duration_seconds=values["duration"],
            recording_url=values["recording_url"],
            at=values["timestamp"],
        )

    def _phone(self, value: object) -> str:
        if value is None or value == "":
            raise _Invalid("is missing")
        if not isinstance(value, str):
            raise _Invalid(f"must be a phone number as a string, not {value!r}")
        try:
            number = phonenumbers.parse(value, self._region)
        except phonenumbers.NumberParseException as exc:
            raise _Invalid(f"{value!r} is not a phone number") from exc
        if not phonenumbers.is_valid_number(number):
            raise _Invalid(f"{value!r} is not a valid phone number (read in region {self._region})")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _call_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("is missing" if value is None or value == "" else f"must be a string, not {value!r}")
    return value.strip()


def _call_status(value: object) -> CallStatus:
    if value is None:
        raise _Invalid("is missing")
    try:
        return CallStatus(value)
    except ValueError:
        raise _Invalid(f"{value!r} is not one of {', '.join(CallStatus)}") from None


def _direction(value: object) -> str:
    if value is None:
        return "inbound"
    if value not in _DIRECTIONS:
        raise _Invalid(f"{value!r} is not one of {', '.join(_DIRECTIONS)}")
    return str(value)


def _duration(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"must be a whole number of seconds, not {value!r}")
    return value


def _recording_url(value: object) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(f"must be an http(s) URL, not {value!r}")
    return str(value)


def _timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"must be an ISO 8601 string, not {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"{value!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise _Invalid(f"{value!r} has no UTC offset (add Z or e.g. +03:00)")
    return moment.astimezone(UTC)


SPEC = ChannelSpec(
    type="telephony",
    settings=TelephonySettings,
    build=TelephonyAdapter,
    description="Any PBX: signed JSON call events (started, answered, ended, missed)",
)
