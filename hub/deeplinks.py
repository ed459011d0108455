"""Deep-link tokens: a link that carries a customer's identity to a new channel.

The hub issues a token per customer (``c<id>-<expiry day>-<signature>``, at most 64 characters of
``A-Za-z0-9_-``, which Telegram's ``/start`` payload and Viber's ``context`` both accept). When a
person opens ``t.me/<bot>?start=<token>`` or a Viber link with ``context=<token>``, the channel
reports the payload, and the identity they arrived with is bound to that customer. Tokens are
signed with the hub's secret, so they cannot be guessed or altered, expire, and bind once per
channel account: a forwarded link opened by somebody else later binds nobody (``DeepLinkUse``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import datetime
from urllib.parse import quote

from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, UTCDateTime, utcnow

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


class DeepLinkUse(SQLModel, table=True):
    """A token that has bound a channel identity. A link works once: opened again by someone else
    (a forwarded SMS), it binds nobody."""

    __tablename__ = "deep_link_uses"

    token_hash: str = Field(primary_key=True, max_length=64)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId, index=True)
    used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def token_hash(token: str, account: str) -> str:
    """One use per channel account: the Telegram and the Viber link of one set each bind once."""
    return hashlib.sha256(f"{account}\x00{token}".encode()).hexdigest()
