"""The Telegram bot adapter: webhook checks, Update parsing, sending, and setting up the webhook."""

from __future__ import annotations

import hmac
import json
from datetime import UTC

from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import User, WebhookInfo

from channels.contract import (
    Acknowledgement,
    Capabilities,
    ChannelContext,
    ChannelError,
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
# The updates the hub reads (channels.telegram.inbound); setWebhook asks for these and no others.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
# More undelivered updates than this means the webhook has not been taking them for a while.
PENDING_UPDATES_WARNING = 100


class TelegramAdapter:
    """One bot, receiving by webhook (registered with ``secret_token`` = the settings' webhook secret)."""

    type = "telegram"
    # Telegram reports neither delivery nor reading of a bot's messages.
    capabilities = Capabilities(buttons=True, media=True, max_text_length=TEXT_LIMIT)
    # Bots FAQ: about 30 messages per second overall, no more than one per second in one chat.
    rate_limits = RateLimits(per_second=30.0, per_recipient_per_second=1.0)

    def __init__(self, settings: TelegramSettings, context: ChannelContext) -> None:
        self._account = context.account
        self._secret = settings.webhook_secret
        self._bot_username = settings.bot_username
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

    async def check(self, webhook_url: str) -> list[str]:
        """Ask Telegram whether the token works, belongs to ``bot_username``, and whether the webhook
        is set to ``webhook_url`` and delivering."""
        bot = self._sender.bot()
        try:
            me = await bot.get_me()
            webhook = await bot.get_webhook_info()
        except AiogramError as exc:
            return [_api_problem(exc)]
        return [
            *_identity_problems(me, self._bot_username),
            *_webhook_problems(webhook, webhook_url, self._account),
        ]

    async def connect(self, webhook_url: str) -> str:
        """setWebhook with the webhook secret, asking only for the updates the hub reads."""
        try:
            await self._sender.bot().set_webhook(
                webhook_url,
                secret_token=self._secret.get_secret_value(),
                allowed_updates=list(ALLOWED_UPDATES),
            )
        except AiogramError as exc:
            raise ChannelError(_api_problem(exc)) from None
        return f"Telegram now delivers the bot's updates to {webhook_url}, with the webhook secret"

    async def aclose(self) -> None:
        await self._sender.aclose()


def _identity_problems(me: User, configured: str | None) -> list[str]:
    """A bot_username in the settings that is not the token's bot would make deep links open another bot."""
    if configured is None:
        return []
    wanted = configured.removeprefix("@")
    if (me.username or "").lower() == wanted.lower():
        return []
    return [
        f"bot_username is @{wanted}, but the token belongs to @{me.username}: "
        "deep links (t.me/<bot>?start=...) would open the wrong bot"
    ]


def _webhook_problems(webhook: WebhookInfo, webhook_url: str, account: str) -> list[str]:
    """What getWebhookInfo says is wrong: not set, set elsewhere, failing deliveries, missing updates."""
    connect = f"run `hub channels connect {account}`"
    if not webhook.url:
        return [f"the webhook is not set: {connect}"]
    problems = []
    if webhook.url != webhook_url:
        problems.append(f"the webhook is set to {webhook.url}, not to {webhook_url}: {connect}")
    if webhook.last_error_message:
        when = webhook.last_error_date
        at = f" on {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if when else ""
        error = webhook.last_error_message
        problems.append(f'Telegram\'s last delivery to the webhook failed{at}: "{error}"')
    if webhook.pending_update_count >= PENDING_UPDATES_WARNING:
        problems.append(
            f"{webhook.pending_update_count} updates are waiting at Telegram: the webhook has not been "
            "taking them (is `hub serve` running and reachable at that URL?)"
        )
    subscribed = webhook.allowed_updates or ALLOWED_UPDATES
    missing = [kind for kind in ALLOWED_UPDATES if kind not in subscribed]
    if missing:
        problems.append(f"the webhook does not receive {', '.join(missing)} updates: {connect}")
    return problems


def _api_problem(exc: AiogramError) -> str:
    """A failed Bot API call in words a newcomer can act on."""
    if isinstance(exc, TelegramUnauthorizedError | TelegramNotFound):
        # Telegram answers 404 as well as 401 to a token it does not know.
        return "Telegram rejected the bot token: copy it again from @BotFather (/mybots, API Token)"
    if isinstance(exc, TelegramNetworkError):
        return f"could not reach Telegram ({exc.message})"
    if isinstance(exc, TelegramServerError):
        return f"could not reach Telegram (server error: {exc.message})"
    if isinstance(exc, ClientDecodeError):
        return "could not reach Telegram (the answer was not a Bot API response)"
    if isinstance(exc, TelegramRetryAfter):
        return f"Telegram asks to wait {exc.retry_after} s before the next call: try again then"
    if isinstance(exc, TelegramBadRequest):
        return f"Telegram refused the request: {exc.message.removeprefix('Bad Request: ')}"
    if isinstance(exc, TelegramAPIError):
        return f"Telegram answered: {exc.message}"
    return f"the Telegram client failed ({type(exc).__name__})"
