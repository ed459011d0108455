"""Signed links in campaign messages: tracked clicks and one-click unsubscribe.

A click link (``/c/<token>``) carries the send it belongs to and the destination, signed with the
hub's secret: the hub records the first click on the send and redirects, with no table of links to
keep and nothing a forger could point elsewhere. An unsubscribe link (``/u/<token>``) carries the
customer and the channel; following it withdraws that channel's marketing consent (email adds it as
the List-Unsubscribe header too, so mail clients offer their own button).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

_SEP = "\x1f"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SendRef:
    """Which send a link belongs to (the campaign send's unique key)."""

    campaign: str
    run: str
    step: str
    customer: int


class CampaignLinks:
    def __init__(self, secret: bytes, public_url: str) -> None:
        self._key = hmac.new(secret, b"campaign-links", hashlib.sha256).digest()
        self.public_url = public_url.rstrip("/")

    def _sign(self, kind: str, fields: list[str]) -> str:
        body = _b64(_SEP.join(fields).encode())
        signature = hmac.new(self._key, f"{kind}:{body}".encode(), hashlib.sha256).digest()[:12]
        return f"{body}.{_b64(signature)}"

    def _read(self, kind: str, token: str) -> list[str] | None:
        body, _, signature = token.partition(".")
        try:
            expected = hmac.new(self._key, f"{kind}:{body}".encode(), hashlib.sha256).digest()[:12]
            if not hmac.compare_digest(_b64(expected), signature):
                return None
            return _unb64(body).decode().split(_SEP)
        except (ValueError, UnicodeDecodeError):
            return None

    def click_url(self, ref: SendRef, destination: str) -> str:
        fields = [ref.campaign, ref.run, ref.step, str(ref.customer), destination]
        return f"{self.public_url}/c/{self._sign('click', fields)}"

    def read_click(self, token: str) -> tuple[SendRef, str] | None:
        fields = self._read("click", token)
        if fields is None or len(fields) != 5 or not fields[3].isdigit():
            return None
        return SendRef(fields[0], fields[1], fields[2], int(fields[3])), fields[4]

    def unsubscribe_url(self, customer_id: int, channel: str) -> str:
        return f"{self.public_url}/u/{self._sign('unsubscribe', [str(customer_id), channel])}"

    def read_unsubscribe(self, token: str) -> tuple[int, str] | None:
        fields = self._read("unsubscribe", token)
        if fields is None or len(fields) != 2 or not fields[0].isdigit():
            return None
        return int(fields[0]), fields[1]
