"""The website chat channel: an embeddable widget talking to the hub over HTTP, with live replies.

Wire format (what the widget sends to ``POST /webhooks/webchat/{account}``), JSON::

    {"type": "message", "id": "<client message uuid>", "text": "...",
     "name": "optional visitor name", "locale": "es"}
    {"type": "read", "id": "<client event uuid>", "message_ids": ["webchat:..."]}

with headers ``X-Webchat-Visitor: <visitor id>`` and ``X-Webchat-Token: <token>``. The token is an
HMAC of the account and visitor id under a key the hub derives for the account, handed out by
``POST /webchat/{account}/session``; a request whose token does not match is forged. The widget
generates the message id and reuses it when it retries, so a retry is recognised as a duplicate.

Replies reach the visitor through the live bus topic ``webchat:{account}:{visitor}``, which the
visitor's event stream forwards.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from channels.contract import (
    Acknowledgement,
    Address,
    Capabilities,
    ChannelContext,
    DeliveryReceipt,
    DeliveryStatus,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    NormalizedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimits,
    SendResult,
    SignatureError,
    WebhookRequest,
)
from channels.spec import ChannelSettings, ChannelSpec

MAX_TEXT = 4000
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class WebchatSettings(ChannelSettings):
    type: str = "webchat"
    title: str = "Chat with us"
    # Origins allowed to embed the widget (CORS); empty = same origin only.
    allowed_origins: tuple[str, ...] = ()


def visitor_topic(account: str, visitor_id: str) -> str:
    return f"webchat:{account}:{visitor_id}"


def visitor_token(signing_key: bytes, account: str, visitor_id: str) -> str:
    return hmac.new(signing_key, f"{account}\x00{visitor_id}".encode(), hashlib.sha256).hexdigest()


def valid_visitor_id(visitor_id: str | None) -> bool:
    return bool(visitor_id) and bool(_ID.match(visitor_id or ""))


class WebchatChannel:
    type = "webchat"
    capabilities = Capabilities(buttons=True, media=True, max_text_length=MAX_TEXT, read_receipts=True)
    # Our own channel: the limit only protects visitors' browsers from floods.
    rate_limits = RateLimits(per_second=200.0, per_recipient_per_second=20.0, burst=20)

    def __init__(self, settings: WebchatSettings, context: ChannelContext) -> None:
        if not context.signing_key:
            raise ValueError("the webchat channel needs a signing key from the hub")
        self.settings = settings
        self.context = context

    def token_for(self, visitor_id: str) -> str:
        return visitor_token(self.context.signing_key, self.context.account, visitor_id)

    def check_visitor(self, visitor_id: str | None, token: str | None) -> str:
        """The visitor id if the token is the one we issued for it; SignatureError otherwise."""
        if not visitor_id or not token:
            raise SignatureError("missing X-Webchat-Visitor or X-Webchat-Token")
        if not valid_visitor_id(visitor_id):
            raise SignatureError("malformed visitor id")
        if not hmac.compare_digest(self.token_for(visitor_id), token):
            raise SignatureError("visitor token does not match")
        return visitor_id

    def verify(self, request: WebhookRequest) -> None:
        self.check_visitor(request.header("x-webchat-visitor"), request.header("x-webchat-token"))

    def _body(self, request: WebhookRequest) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise MalformedEvent("body must be a JSON object")
        kind = body.get("type", "message")
        if kind not in ("message", "read"):
            raise MalformedEvent(f"unknown type {kind!r}: expected 'message' or 'read'")
        event_id = body.get("id")
        if not isinstance(event_id, str) or not _ID.match(event_id):
            raise MalformedEvent("'id' must be a string of 8-64 letters, digits, - or _")
        if kind == "message":
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                raise MalformedEvent("'text' must be a non-empty string")
            if len(text) > MAX_TEXT:
                raise MalformedEvent(f"'text' is longer than {MAX_TEXT} characters")
        else:
            ids = body.get("message_ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 100:
                raise MalformedEvent("'message_ids' must be a list of at most 100 strings")
        for key, longest in (("name", 200), ("locale", 16)):
            if body.get(key) is not None and (not isinstance(body[key], str) or len(body[key]) > longest):
                raise MalformedEvent(f"'{key}' must be a string of at most {longest} characters")
        return body

    def event_id(self, request: WebhookRequest) -> str:
        body = self._body(request)
        return f"{request.header('x-webchat-visitor')}:{body['id']}"

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        return Acknowledgement()

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        body = self._body(request)
        visitor = request.header("x-webchat-visitor") or ""
        if body.get("type") == "read":
            return [
                DeliveryReceipt(provider_message_id=i, status=DeliveryStatus.READ, recipient=visitor)
                for i in body["message_ids"]
            ]
        name = (body.get("name") or "").strip()[:200] or None
        return [
            InboundMessage(
                sender=Address(IdentityKind.WEBCHAT, visitor, verified=True, display_name=name),
                text=body["text"].strip(),
                provider_message_id=f"{visitor}:{body['id']}",
                locale=(body.get("locale") or None),
            )
        ]

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.context.publish is None:
            raise PermanentSendError("web chat replies need the hub's live bus")
        if not valid_visitor_id(message.to):
            raise PermanentSendError(f"{message.to!r} is not a web chat visitor")
        provider_id = f"webchat:{message.idempotency_key}"
        await self.context.publish(
            visitor_topic(self.context.account, message.to),
            {"type": "message", "message_id": message.metadata.get("message_id"), "provider_id": provider_id},
        )
        return SendResult((provider_id,))

    async def aclose(self) -> None:
        return None


SPEC = ChannelSpec(
    type="webchat",
    settings=WebchatSettings,
    build=WebchatChannel,
    description="Website chat widget",
)
