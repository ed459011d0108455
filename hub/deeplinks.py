"""Deep-link tokens: a link that carries a customer's identity to a new channel.

The hub issues a token per customer (``c<id>-<expiry day>-<signature>``, at most 64 characters of
``A-Za-z0-9_-``, which Telegram's ``/start`` payload and Viber's ``context`` both accept). When a
person opens ``t.me/<bot>?start=<token>`` or a Viber link with ``context=<token>``, the channel
reports the payload, and the identity they arrived with is bound to that customer. Tokens are
signed with the hub's secret, so they cannot be guessed or altered, and expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import quote

_TOKEN = re.compile(r"^c(\d{1,18})-(\d{1,6})-([A-Za-z0-9_-]{16})$")
DAY = 86_400
DEFAULT_TTL_DAYS = 30


def _signature(secret: bytes, customer_id: int, expires_day: int) -> str:
    digest = hmac.new(secret, f"deeplink:{customer_id}:{expires_day}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")


def issue(secret: bytes, customer_id: int, ttl_days: int = DEFAULT_TTL_DAYS, now: float | None = None) -> str:
    expires_day = int((time.time() if now is None else now) // DAY) + ttl_days
    return f"c{customer_id}-{expires_day}-{_signature(secret, customer_id, expires_day)}"


def resolve(secret: bytes, token: str | None, now: float | None = None) -> int | None:
    """The customer id a valid, unexpired token was issued for; None for anything else (a plain
    /start, someone else's payload, a forged or expired token)."""
    match = _TOKEN.match((token or "").strip())
    if match is None:
        return None
    customer_id, expires_day, signature = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(_signature(secret, customer_id, expires_day), signature):
        return None
    if (time.time() if now is None else now) // DAY > expires_day:
        return None
    return customer_id


def telegram_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"


def viber_link(chat_uri: str, token: str) -> str:
    return f"viber://pa?chatURI={quote(chat_uri)}&context={token}"
