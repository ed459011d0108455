"""What the reply box tells an agent about a channel's limits before they send.

* SMS is billed and delivered in segments: 160 GSM-7 characters in one, 153 per part of a longer
  message (the rest carries the reassembly header); a single character outside GSM-7 (most emoji,
  Cyrillic, curly quotes) switches the whole text to UCS-2 at 70 / 67 UTF-16 units. Characters of the
  GSM-7 extension table (``{}[]~^|\\€``) cost two, and no character is split across parts. The same
  rules run in the browser as the agent types (hub/web/static/inbox-compose.js); this is the
  reference the tests hold both to.
* WhatsApp lets a business send free-form messages only within 24 hours of the customer's last
  message; after that only approved templates go out (Twilio error 63016).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class SmsSegments:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    # Units one segment holds at this length (160/153 or 70/67).
    per_segment: int


def _is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _costs(text: str, gsm7: bool) -> list[int]:
    if gsm7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def sms_segments(text: str) -> SmsSegments:
    """How many SMS segments ``text`` takes, and in which encoding."""
    gsm7 = _is_gsm7(text)
    single, part = (160, 153) if gsm7 else (70, 67)
    costs = _costs(text, gsm7)
    units = sum(costs)
    encoding = "GSM-7" if gsm7 else "UCS-2"
    if units == 0:
        return SmsSegments(encoding, 0, 0, single)
    if units <= single:
        return SmsSegments(encoding, 1, units, single)
    segments, used = 1, 0
    for cost in costs:
        # A character that does not fit whole starts the next part.
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return SmsSegments(encoding, segments, units, part)


@dataclass(frozen=True)
class ReplyWindow:
    open: bool
    closes_at: datetime | None  # None: the customer never wrote on this channel


def whatsapp_window(last_customer_message_at: datetime | None, now: datetime) -> ReplyWindow:
    """Whether a free-form WhatsApp message can still reach the customer, and until when."""
    if last_customer_message_at is None:
        return ReplyWindow(open=False, closes_at=None)
    closes_at = last_customer_message_at + WHATSAPP_WINDOW
    return ReplyWindow(open=now < closes_at, closes_at=closes_at)
