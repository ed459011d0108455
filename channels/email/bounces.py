"""Delivery status notifications (RFC 3464 bounces) turned into receipts for what we sent.

A bounce is a ``multipart/report; report-type=delivery-status`` message from a mail server: a
human-readable part, a ``message/delivery-status`` part with one block of fields per recipient
(Action, Status, Diagnostic-Code), and the original message or its headers, whose Message-ID is
the provider id we returned from ``send``.
"""

from __future__ import annotations

import email
import logging
import re
from email.message import EmailMessage, Message

from channels.contract import DeliveryReceipt, DeliveryStatus
from channels.email.headers import message_id_of_headers, parsed_date
from channels.email.mime_policy import TOLERANT

log = logging.getLogger(__name__)

_STATUS_PARTS = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ORIGINAL_MESSAGE = frozenset({"message/rfc822", "message/global"})
_ORIGINAL_HEADERS = frozenset({"text/rfc822-headers", "message/global-headers"})
# Delayed, relayed and expanded are progress reports, not outcomes.
_OUTCOMES = {"failed": DeliveryStatus.FAILED, "delivered": DeliveryStatus.DELIVERED}
_WHITESPACE = re.compile(r"\s+")


def is_delivery_report(message: EmailMessage) -> bool:
    """Whether the message is a delivery status notification."""
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def _original_message_id(report: EmailMessage) -> str | None:
    for part in report.iter_parts():
        content_type = part.get_content_type()
        if content_type in _ORIGINAL_MESSAGE:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return message_id_of_headers(inner[0])
        elif content_type in _ORIGINAL_HEADERS:
            payload = part.get_payload(decode=True)
            raw_headers = payload if isinstance(payload, bytes) else b""
            headers = email.message_from_bytes(raw_headers, policy=TOLERANT)
            return message_id_of_headers(headers)
    return None


def _recipient_blocks(report: EmailMessage) -> list[Message]:
    for part in report.iter_parts():
        if part.get_content_type() in _STATUS_PARTS:
            blocks = part.get_payload()
            # The first block describes the reporting MTA; the others one recipient each.
            if isinstance(blocks, list):
                return [block for block in blocks[1:] if isinstance(block, Message)]
    return []


def _error(block: Message) -> str | None:
    diagnostic = block.get("Diagnostic-Code")
    if diagnostic:
        # "smtp; 550 5.1.1 <x@example.org>: User unknown": the type before ";" says nothing useful.
        text = _WHITESPACE.sub(" ", str(diagnostic)).strip()
        kind, separator, detail = text.partition(";")
        return detail.strip() if separator and " " not in kind.strip() else text
    status = block.get("Status")
    return f"delivery failed with status {str(status).strip()}" if status else None


def receipts_from_report(report: EmailMessage) -> list[DeliveryReceipt]:
    """A receipt for the message the report is about; [] when it says nothing final about it or
    does not name it."""
    original_id = _original_message_id(report)
    if original_id is None:
        log.info("delivery report %s does not name the original message; ignored", report.get("Message-ID"))
        return []
    for block in _recipient_blocks(report):
        status = _OUTCOMES.get(str(block.get("Action", "")).strip().lower())
        if status is None:
            continue
        error = _error(block) if status is DeliveryStatus.FAILED else None
        return [DeliveryReceipt(original_id, status, error=error, at=parsed_date(report))]
    log.debug("delivery report about %s has no final outcome; ignored", original_id)
    return []
