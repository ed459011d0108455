"""Settings of Twilio SMS, WhatsApp and Voice accounts in hub.yaml.

``from`` is a Python keyword, so the sender lives in the field ``from_`` under the alias ``from``:
hub.yaml writes ``from: "+15005550006"``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from channels.spec import ChannelSettings
from channels.twilio.addresses import E164, WHATSAPP_PREFIX

# Twilio SIDs are two letters naming the resource and 32 hex digits.
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


class TwilioSettings(ChannelSettings):
    """The account every Twilio channel signs in with.

    The auth token both authenticates REST calls and signs webhooks (``X-Twilio-Signature``), so one
    secret serves both directions.
    """

    # Validation errors must not echo the auth token they rejected.
    model_config = ConfigDict(hide_input_in_errors=True)

    provider: str
    account_sid: str
    auth_token: SecretStr

    @field_validator("provider")
    @classmethod
    def _twilio_only(cls, value: str) -> str:
        if value != "twilio":
            raise ValueError(
                f"SMS, WhatsApp and voice go through Twilio only; set provider: twilio (got {value!r})"
            )
        return value

    @field_validator("account_sid")
    @classmethod
    def _account_sid_shape(cls, value: str) -> str:
        if not _ACCOUNT_SID.fullmatch(value):
            raise ValueError(
                "the account SID is 'AC' followed by 32 hexadecimal digits, as shown on the Twilio console"
            )
        return value

    @field_validator("auth_token")
    @classmethod
    def _auth_token_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the auth token is empty; copy it from the Twilio console")
        return value


class SmsSettings(TwilioSettings):
    """An SMS sender: a Twilio phone number, or a Messaging Service that picks one from its pool.

    With ``messaging_service_sid`` the number in ``from`` is optional; when both are set Twilio sends
    from that number through the service (its opt-out handling and status callbacks apply).
    """

    type: Literal["sms"] = "sms"
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = None

    @field_validator("from_")
    @classmethod
    def _sender_is_e164(cls, value: str | None) -> str | None:
        return _phone_number(value, "the SMS sender 'from'")

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid_shape(cls, value: str | None) -> str | None:
        if value is not None and not _MESSAGING_SERVICE_SID.fullmatch(value):
            raise ValueError("the messaging service SID is 'MG' followed by 32 hexadecimal digits")
        return value

    @model_validator(mode="after")
    def _has_a_sender(self) -> SmsSettings:
        if self.from_ is None and self.messaging_service_sid is None:
            raise ValueError(
                "an SMS account needs 'from' (its Twilio phone number) or 'messaging_service_sid'"
            )
        return self


class WhatsAppSettings(TwilioSettings):
    """A WhatsApp sender registered on Twilio, written ``whatsapp:+E164``."""

    type: Literal["whatsapp"] = "whatsapp"
    from_: str = Field(alias="from")

    @field_validator("from_")
    @classmethod
    def _sender_is_whatsapp_address(cls, value: str) -> str:
        number = value.removeprefix(WHATSAPP_PREFIX)
        if not value.startswith(WHATSAPP_PREFIX) or not E164.fullmatch(number):
            raise ValueError(
                "the WhatsApp sender is written 'whatsapp:' and the phone number in international format, "
                f"like whatsapp:+14155238886 (got {value!r})"
            )
        return value


class VoiceSettings(TwilioSettings):
    """A Twilio phone number taking calls, and what a caller hears.

    With ``forward_to`` the call rings that phone for ``dial_timeout`` seconds; if nobody answers the
    caller hears ``greeting`` (when set) and the hub records a missed call. Without ``forward_to`` the
    caller hears ``greeting`` and the call ends; without either the call is rejected unanswered (the
    caller pays nothing) and still shows up as missed.
    """

    type: Literal["voice"] = "voice"
    forward_to: str | None = None
    greeting: str | None = None
    # A BCP-47 tag Twilio's <Say> knows, e.g. "en-US", "es-ES"; None uses Twilio's default voice.
    greeting_language: str | None = None
    # Twilio's <Dial timeout> accepts 5 to 600 seconds.
    dial_timeout: int = Field(default=20, ge=5, le=600)
    # Record forwarded conversations (check the callers' consent rules where you operate).
    record: bool = False

    @field_validator("forward_to")
    @classmethod
    def _forward_to_is_e164(cls, value: str | None) -> str | None:
        return _phone_number(value, "forward_to")

    @field_validator("greeting")
    @classmethod
    def _greeting_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the greeting is empty; remove it or write what the caller should hear")
        return value


def _phone_number(value: str | None, what: str) -> str | None:
    if value is not None and not E164.fullmatch(value):
        raise ValueError(
            f"{what} must be a phone number in international format, like +15005550006 (got {value!r})"
        )
    return value
