"""Twilio messaging webhooks (SMS and WhatsApp) as normalised events.

Twilio POSTs two kinds of form to a messaging webhook:

* an inbound message: ``MessageSid``, ``From``, ``To``, ``Body``, ``NumMedia`` with ``MediaUrl{N}`` /
  ``MediaContentType{N}``; WhatsApp adds ``ProfileName``, ``WaId``, ``ButtonText`` / ``ButtonPayload``
  for a quick-reply press and ``Latitude`` / ``Longitude`` / ``Address`` / ``Label`` for a shared
  location;
* a status callback for a message we sent: ``MessageSid``, ``MessageStatus`` and, on failure,
  ``ErrorCode``. Only status callbacks carry ``MessageStatus``.

An inbound opt-out or opt-in keyword yields the SubscriptionChange first and then the message itself,
so the customer's STOP is in the conversation and the hub has unsubscribed them before any bot
answers the message (Twilio would refuse that answer with error 21610 anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from channels.contract import (
    Attachment,
    DeliveryReceipt,
    DeliveryStatus,
    InboundMessage,
    MalformedEvent,
    NormalizedEvent,
)
from channels.twilio import error_codes
from channels.twilio.addresses import phone_address
from channels.twilio.keywords import subscription_change

logger = logging.getLogger(__name__)

# queued, accepted, scheduled, canceled, receiving, received and partially_delivered say nothing
# the customer saw, and a receipt never moves a message backwards, so they are ignored.
_DELIVERY_STATUSES = {
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}

_MEDIA_KINDS = {"image/": "image", "audio/": "audio", "video/": "video"}


def message_event_id(fields: Mapping[str, str]) -> str:
    """``MessageSid`` for an inbound message, ``MessageSid:MessageStatus`` for a status callback
    (one message gets one callback per status, each retried under the same pair)."""
    sid = _required(fields, "MessageSid")
    status = fields.get("MessageStatus")
    return f"{sid}:{status}" if status else sid


def parse_message_webhook(fields: Mapping[str, str], channel: str) -> list[NormalizedEvent]:
    """The events in one messaging webhook form; ``channel`` ("sms" or "whatsapp") is noted on
    inbound messages."""
    if "MessageStatus" in fields:
        return _status_callback(fields)
    return _inbound_message(fields, channel)


def _inbound_message(fields: Mapping[str, str], channel: str) -> list[NormalizedEvent]:
    sender = phone_address(_required(fields, "From"), display_name=fields.get("ProfileName"))
    body = fields.get("Body", "")
    replied_to = fields.get("OriginalRepliedMessageSid")
    message = InboundMessage(
        sender=sender,
        # A quick-reply press normally repeats the button's text as Body; fall back to ButtonText.
        text=body or fields.get("ButtonText", ""),
        attachments=(*_media(fields), *_location(fields)),
        provider_message_id=_required(fields, "MessageSid"),
        button_payload=fields.get("ButtonPayload") or None,
        in_reply_to=(replied_to,) if replied_to else (),
        metadata=_metadata(fields, channel),
    )
    change = subscription_change(sender, body)
    return [change, message] if change else [message]


def _media(fields: Mapping[str, str]) -> list[Attachment]:
    count = _integer(fields, "NumMedia") or 0
    attachments = []
    for index in range(count):
        url = fields.get(f"MediaUrl{index}")
        if not url:
            raise MalformedEvent(f"NumMedia is {count} but MediaUrl{index} is missing")
        content_type = fields.get(f"MediaContentType{index}") or None
        attachments.append(Attachment(kind=_media_kind(content_type), url=url, content_type=content_type))
    return attachments


def _media_kind(content_type: str | None) -> str:
    for prefix, kind in _MEDIA_KINDS.items():
        if content_type and content_type.startswith(prefix):
            return kind
    return "file"


def _location(fields: Mapping[str, str]) -> list[Attachment]:
    if "Latitude" not in fields or "Longitude" not in fields:
        return []
    try:
        data: dict[str, float | str] = {
            "latitude": float(fields["Latitude"]),
            "longitude": float(fields["Longitude"]),
        }
    except ValueError:
        raise MalformedEvent(
            "the shared location is not numeric: "
            f"Latitude {fields['Latitude']!r}, Longitude {fields['Longitude']!r}"
        ) from None
    # A shared place (rather than the sender's own position) also has a name and a street address.
    for field, key in (("Label", "label"), ("Address", "address")):
        if fields.get(field):
            data[key] = fields[field]
    return [Attachment(kind="location", data=data)]


def _metadata(fields: Mapping[str, str], channel: str) -> dict[str, str]:
    metadata = {"channel": channel, "to": fields.get("To", "")}
    if fields.get("WaId"):
        metadata["wa_id"] = fields["WaId"]
    return metadata


def _status_callback(fields: Mapping[str, str]) -> list[NormalizedEvent]:
    sid = _required(fields, "MessageSid")
    twilio_status = fields["MessageStatus"]
    status = _DELIVERY_STATUSES.get(twilio_status)
    if status is None:
        logger.debug("ignoring Twilio message status %r of %s", twilio_status, sid)
        return []
    error = _failure_reason(fields, twilio_status) if status is DeliveryStatus.FAILED else None
    return [DeliveryReceipt(provider_message_id=sid, status=status, error=error)]


def _failure_reason(fields: Mapping[str, str], twilio_status: str) -> str:
    code = _integer(fields, "ErrorCode")
    if code is None:
        return f"Twilio reported the message {twilio_status} without an error code"
    return error_codes.describe(code)


def _integer(fields: Mapping[str, str], name: str) -> int | None:
    raw = fields.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MalformedEvent(f"{name} is not a whole number: {raw!r}") from None


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise MalformedEvent(f"the request has no {name}, so it is not a Twilio messaging webhook")
    return value
