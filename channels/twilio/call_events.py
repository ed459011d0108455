"""Twilio voice webhooks as CallEvents.

Three kinds of form reach a voice account's webhook, all with ``CallSid``, ``From``, ``To``,
``CallStatus`` and ``Direction``:

* the request for an incoming call, with ``CallStatus=ringing``;
* status callbacks ("Call status changes" on the number), above all the final one: ``completed``
  with ``CallDuration`` (and ``RecordingUrl`` for a recorded call), or ``busy`` / ``no-answer`` /
  ``canceled`` / ``failed`` for a call nobody picked up;
* the ``<Dial action>`` request when a forwarded call's second leg ends: ``DialCallStatus``,
  ``DialCallDuration`` and, when recorded, ``RecordingUrl``.

A forwarded call nobody answers yields STARTED, MISSED (from the dial) and then ENDED (the caller's
leg completes after hearing the greeting); the hub should keep a call it saw MISSED as missed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from channels.contract import CallEvent, CallStatus, MalformedEvent, NormalizedEvent
from channels.twilio.addresses import phone_address

logger = logging.getLogger(__name__)

_PROGRESS = {
    "queued": CallStatus.STARTED,
    "initiated": CallStatus.STARTED,
    "ringing": CallStatus.STARTED,
    "in-progress": CallStatus.ANSWERED,
    "completed": CallStatus.ENDED,
}
# Statuses of a call that was never picked up: missed when a customer called us.
_UNANSWERED = frozenset({"busy", "no-answer", "canceled", "failed"})
# DialCallStatus of a forwarded leg someone picked up ("answered" when the dial continues elsewhere).
DIAL_ANSWERED = frozenset({"completed", "answered"})


def is_dial_result(fields: Mapping[str, str]) -> bool:
    """Whether the form is the ``<Dial action>`` request reporting a forwarded leg's outcome."""
    return "DialCallStatus" in fields


def call_event_id(fields: Mapping[str, str]) -> str:
    """``CallSid:CallStatus``; the dial result ``CallSid:dial-DialCallStatus`` (its own CallStatus is
    the caller's leg, which a status callback may report as well)."""
    sid = _required(fields, "CallSid")
    if is_dial_result(fields):
        return f"{sid}:dial-{fields['DialCallStatus']}"
    return f"{sid}:{_required(fields, 'CallStatus')}"


def parse_call_webhook(fields: Mapping[str, str]) -> list[NormalizedEvent]:
    """The CallEvent in one voice webhook form; [] for a status this hub does not track."""
    sid = _required(fields, "CallSid")
    direction = "outbound" if fields.get("Direction", "inbound").startswith("outbound") else "inbound"
    if is_dial_result(fields):
        twilio_status = fields["DialCallStatus"]
        answered = twilio_status in DIAL_ANSWERED
        status: CallStatus | None = CallStatus.ANSWERED if answered else _unanswered(direction)
        duration = _integer(fields, "DialCallDuration") if answered else None
    else:
        twilio_status = _required(fields, "CallStatus")
        status = _unanswered(direction) if twilio_status in _UNANSWERED else _PROGRESS.get(twilio_status)
        duration = _integer(fields, "CallDuration") if status is CallStatus.ENDED else None
    if status is None:
        logger.debug("ignoring Twilio call status %r of %s", twilio_status, sid)
        return []
    return [
        CallEvent(
            call_id=sid,
            caller=phone_address(_required(fields, "From")),
            callee=fields.get("To", ""),
            status=status,
            direction=direction,
            duration_seconds=duration,
            recording_url=fields.get("RecordingUrl") or None,
            at=_timestamp(fields.get("Timestamp")),
        )
    ]


def _unanswered(direction: str) -> CallStatus:
    # An outbound call the customer did not pick up is not a call they missed from us to answer.
    return CallStatus.MISSED if direction == "inbound" else CallStatus.ENDED


def _timestamp(raw: str | None) -> datetime | None:
    """Status callbacks carry ``Timestamp`` in RFC 2822 form; other requests have none."""
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        logger.debug("ignoring unreadable Twilio Timestamp %r", raw)
        return None


def _integer(fields: Mapping[str, str], name: str) -> int | None:
    raw = fields.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MalformedEvent(f"{name} is not a whole number of seconds: {raw!r}") from None


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise MalformedEvent(f"the request has no {name}, so it is not a Twilio voice webhook")
    return value
