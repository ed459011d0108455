"""Twilio error codes in words a support agent understands.

Twilio reports why a message failed with a numeric code, both in REST API errors and in status
callbacks (``ErrorCode``). The codes below are the ones a messaging hub meets day to day; any other
code is shown with the link to Twilio's page about it.
"""

from __future__ import annotations

AUTHENTICATION_FAILED = 20003
TOO_MANY_REQUESTS = 20429

_MEANINGS: dict[int, str] = {
    AUTHENTICATION_FAILED: "Twilio rejected the account credentials",
    TOO_MANY_REQUESTS: "too many requests at once to the Twilio API",
    21211: "the recipient's phone number is not valid",
    21408: "sending to this country is not enabled on the Twilio account (Messaging Geo Permissions)",
    21610: (
        "the recipient unsubscribed from this number by texting STOP; "
        "they must text START to receive messages again"
    ),
    21614: "the recipient's number is not a mobile number that can receive text messages",
    30003: "the recipient's phone is unreachable (switched off or out of coverage)",
    30004: "the message was blocked: the recipient blocked this number or their carrier refuses it",
    30005: "the recipient's number does not exist or is no longer in service",
    30006: "the recipient's number is a landline or its carrier cannot receive text messages",
    30007: "the carrier filtered the message as spam or unregistered traffic",
    30008: "the carrier reported an unknown delivery error",
    63016: (
        "WhatsApp allows free-form messages only within 24 hours of the customer's last message; "
        "outside that window only an approved template can be sent"
    ),
}


def describe(code: int) -> str:
    """``ErrorCode <code>: <plain meaning>``, or a pointer to Twilio's page for an unlisted code."""
    meaning = _MEANINGS.get(code, f"see https://www.twilio.com/docs/errors/{code}")
    return f"ErrorCode {code}: {meaning}"


def meaning(code: int) -> str | None:
    """The plain meaning of a listed code, None for any other."""
    return _MEANINGS.get(code)
