"""SMS segments and the WhatsApp 24-hour window, as the reply box shows them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_core.columns import utcnow
from inbox.reply_limits import sms_segments, whatsapp_window

# (text, encoding, segments, units); the browser's counter is held to these too
# (tests/browser/test_inbox_workspace.py).
SMS_CASES = [
    ("", "GSM-7", 0, 0),
    ("Hello!", "GSM-7", 1, 6),
    ("x" * 160, "GSM-7", 1, 160),
    ("x" * 161, "GSM-7", 2, 161),
    ("x" * 306, "GSM-7", 2, 306),
    ("x" * 307, "GSM-7", 3, 307),
    ("€" * 80, "GSM-7", 1, 160),  # extension characters cost two
    ("x" * 152 + "€", "GSM-7", 1, 154),
    ("x" * 152 + "€" + "x" * 152, "GSM-7", 3, 306),  # ...and are never split across parts
    ("¿Dónde está mi pedido?", "UCS-2", 1, 22),  # ó is not GSM-7: the whole text is UCS-2
    ("Ñandù ü à", "GSM-7", 1, 9),
    ("Ñandú", "UCS-2", 1, 5),  # ú, unlike ù, is not
    ("я" * 70, "UCS-2", 1, 70),
    ("я" * 71, "UCS-2", 2, 71),
    ("😀" * 35, "UCS-2", 1, 70),  # outside the BMP: two UTF-16 units each
    ("x" * 66 + "😀" + "x" * 66, "UCS-2", 3, 134),  # a surrogate pair is not split either
]


@pytest.mark.parametrize(("text", "encoding", "segments", "units"), SMS_CASES)
def test_sms_segments(text: str, encoding: str, segments: int, units: int) -> None:
    counted = sms_segments(text)
    assert (counted.encoding, counted.segments, counted.units) == (encoding, segments, units)


def test_whatsapp_window() -> None:
    now = utcnow()
    assert whatsapp_window(now - timedelta(hours=23), now).open
    closed = whatsapp_window(now - timedelta(hours=25), now)
    assert not closed.open and closed.closes_at == now - timedelta(hours=1)
    never = whatsapp_window(None, now)
    assert not never.open and never.closes_at is None
