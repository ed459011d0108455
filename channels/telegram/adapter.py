"""The Telegram bot adapter: webhook checks, Update parsing, sending."""

from __future__ import annotations

import hmac
import json

from channels.contract import (
    Acknowledgement,
    Capabilities,
    ChannelContext,
    MalformedEvent,
    NormalizedEvent,
    OutboundMessage,
    RateLimits,
    SendResult,
    SignatureError,
    WebhookRequest,
)
from channels.telegram.inbound import parse_update
from channels.telegram.outbound import TEXT_LIMIT, TelegramSender
from channels.telegram.settings import TelegramSettings

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramAdapter:
    """One bot, receiving by webhook (registered with ``secret_token`` = the settings' webhook secret)."""

    type = "telegram"
    # Telegram reports neither delivery nor reading of a bot's messages.
    capabilities = Capabilities(buttons=True, media=True, max_text_length=TEXT_LIMIT)
    # Bots FAQ: about 30 messages per second overall, no more than one per second in one chat.
    rate_limits = RateLimits(per_second=30.0, per_recipient_per_second=1.0)

    def __init__(self, settings: TelegramSettings, context: ChannelContext) -> None:
        self._secret = settings.webhook_secret
        self._sender = TelegramSender(settings.token, settings.api_base, context.http_timeout)

    def verify(self, request: WebhookRequest) -> None:
        """Telegram echoes the webhook's secret_token in a header; anything else is not Telegram."""
        given = request.header(SECRET_HEADER)
        if given is None:
            raise SignatureError(f"the {SECRET_HEADER} header is missing")
        expected = self._secret.get_secret_value().encode()
        if not hmac.compare_digest(given.encode(), expected):
            raise SignatureError(f"the {SECRET_HEADER} header does not match the webhook secret")

    def event_id(self, request: WebhookRequest) -> str:
        """The Update's ``update_id``, which Telegram keeps when it re-delivers an update."""
        body = request.json()
        update_id = body.get("update_id") if isinstance(body, dict) else None
        # bool is an int subclass, but `true` is not an update id.
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise MalformedEvent("the body has no integer update_id, so it is not a Telegram Update")
        return str(update_id)

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """A button press is answered inside the webhook reply (the Bot API runs a method given
        there), which stops the spinner on the button without a separate call; anything else gets
        a plain 200."""
        body = request.json()
        query = body.get("callback_query") if isinstance(body, dict) else None
        query_id = query.get("id") if isinstance(query, dict) else None
        if not isinstance(query_id, str):
            return Acknowledgement()
        answer = {"method": "answerCallbackQuery", "callback_query_id": query_id}
        return Acknowledgement(body=json.dumps(answer, separators=(",", ":")).encode())

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """The events of one Update: messages, edits, button presses, bot blocked/unblocked."""
        return parse_update(request.json())

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send to the private chat ``message.to`` (the person's Telegram user id)."""
        return await self._sender.send(message)

    async def aclose(self) -> None:
        await self._sender.aclose()
