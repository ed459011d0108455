"""The custom API channel: connect any system you run (an app's in-app chat, a kiosk, another
messenger gateway) as a channel.

Inbound: your system POSTs JSON to ``/webhooks/api/{account}``, signed as described in
channels.signing::

    {"id": "<your unique event id>", "type": "message", "from": "<user id in your system>",
     "name": "optional display name", "text": "...", "locale": "en"}
    {"id": "...", "type": "receipt", "message_id": "<the id you returned for our message>",
     "status": "delivered" | "read" | "failed", "error": "optional reason"}

``from`` may instead be ``{"phone": "+380..."}`` or ``{"email": "..."}`` when your system knows
the person by a verified phone or email, so they join the same customer record as on other channels.

Outbound: the hub POSTs ``{"id", "to", "text", "buttons", "attachments", "metadata"}`` to your
``callback_url``, signed the same way. Answer 2xx with ``{"id": "<your message id>"}``; 429 with
Retry-After to slow us down; 5xx to have us retry; any other 4xx marks the message failed with
your body's ``error`` as the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import httpx
from pydantic import SecretStr

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
    RateLimited,
    RateLimits,
    SendResult,
    TransientSendError,
    WebhookRequest,
)
from channels.signing import signed_headers, verify_signed
from channels.spec import ChannelSettings, ChannelSpec

MAX_TEXT = 10_000
_RECEIPT_STATUS = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}


class ApiChannelSettings(ChannelSettings):
    type: str = "api"
    secret: SecretStr
    callback_url: str | None = None
    rate_per_second: float = 50.0


class ApiChannel:
    type = "api"
    capabilities = Capabilities(
        buttons=True, media=True, max_text_length=MAX_TEXT, delivery_receipts=True, read_receipts=True
    )

    def __init__(self, settings: ApiChannelSettings, context: ChannelContext) -> None:
        self.settings = settings
        self.context = context
        self.rate_limits = RateLimits(
            per_second=settings.rate_per_second, burst=max(1, int(settings.rate_per_second))
        )
        self._client: httpx.AsyncClient | None = None

    def verify(self, request: WebhookRequest) -> None:
        verify_signed(request, self.settings.secret.get_secret_value())

    def _body(self, request: WebhookRequest) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise MalformedEvent("body must be a JSON object")
        if not isinstance(body.get("id"), str) or not body["id"] or len(body["id"]) > 200:
            raise MalformedEvent("'id' must be a non-empty string of at most 200 characters")
        kind = body.get("type", "message")
        if kind not in ("message", "receipt"):
            raise MalformedEvent(f"unknown type {kind!r}: expected 'message' or 'receipt'")
        return body

    def event_id(self, request: WebhookRequest) -> str:
        return str(self._body(request)["id"])

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        return Acknowledgement()

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        body = self._body(request)
        if body.get("type") == "receipt":
            status = _RECEIPT_STATUS.get(str(body.get("status")))
            if status is None or not isinstance(body.get("message_id"), str):
                raise MalformedEvent("a receipt needs 'message_id' and 'status' (delivered, read or failed)")
            return [DeliveryReceipt(body["message_id"], status, error=body.get("error"))]
        text = body.get("text", "")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise MalformedEvent(f"'text' must be a string of at most {MAX_TEXT} characters")
        for key, longest in (("name", 200), ("locale", 16)):
            if body.get(key) is not None and (not isinstance(body[key], str) or len(body[key]) > longest):
                raise MalformedEvent(f"'{key}' must be a string of at most {longest} characters")
        name = body.get("name")
        return [
            InboundMessage(
                sender=self._sender(body.get("from"), name),
                text=text,
                provider_message_id=body["id"],
                locale=body.get("locale") if isinstance(body.get("locale"), str) else None,
            )
        ]

    def _sender(self, raw: Any, name: str | None) -> Address:
        if isinstance(raw, str) and raw:
            if len(raw) > 100:
                raise MalformedEvent("'from' user ids are at most 100 characters")
            # An opaque user id of the integrator's system: unique within this account only.
            return Address(
                IdentityKind.API, f"{self.context.account}.{raw}", verified=True, display_name=name
            )
        if isinstance(raw, dict) and isinstance(raw.get("phone"), str):
            return Address(IdentityKind.PHONE, raw["phone"], verified=True, display_name=name)
        if isinstance(raw, dict) and isinstance(raw.get("email"), str):
            return Address(IdentityKind.EMAIL, raw["email"], verified=True, display_name=name)
        raise MalformedEvent('\'from\' must be a user id string, {"phone": ...} or {"email": ...}')

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.settings.callback_url:
            raise PermanentSendError("this API channel has no callback_url to deliver replies to")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.context.http_timeout)
        body = json.dumps(
            {
                "id": message.idempotency_key,
                "to": message.to,
                "text": message.text,
                "buttons": [asdict(b) for b in message.buttons],
                "attachments": [
                    {k: v for k, v in asdict(a).items() if k != "content"} for a in message.attachments
                ],
                "metadata": dict(message.metadata),
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(self.settings.secret.get_secret_value(), body),
        }
        try:
            response = await self._client.post(self.settings.callback_url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientSendError(f"callback timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientSendError(f"callback unreachable ({exc})") from None
        if response.status_code == 429:
            raise RateLimited("callback answered 429 Too Many Requests", retry_after=_retry_after(response))
        if response.status_code >= 500:
            raise TransientSendError(
                f"callback answered {response.status_code}", retry_after=_retry_after(response)
            )
        if response.status_code >= 400:
            raise PermanentSendError(
                f"callback refused the message ({response.status_code}: {_error_text(response)})"
            )
        try:
            provider_id = response.json()["id"]
        except (ValueError, KeyError, TypeError):
            provider_id = message.idempotency_key
        return SendResult((str(provider_id),))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)[:300]
    except (ValueError, AttributeError):
        return response.text[:300]


SPEC = ChannelSpec(
    type="api", settings=ApiChannelSettings, build=ApiChannel, description="Custom API channel"
)
