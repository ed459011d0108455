"""Bot API failures as the hub's send outcomes: retry later, slow down, or give up with a reason a
support agent understands."""

from __future__ import annotations

from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from channels.contract import ChannelError, PermanentSendError, RateLimited, TransientSendError


def send_error(exc: AiogramError) -> ChannelError:
    """The outcome of a failed Bot API call. Unknown failures are transient: a wrong "retry" costs a
    few attempts, a wrong "give up" loses the message."""
    if isinstance(exc, TelegramRetryAfter):
        return RateLimited(
            f"Telegram rate limit reached, retry in {exc.retry_after} s", retry_after=float(exc.retry_after)
        )
    # TelegramEntityTooLarge is a TelegramNetworkError, but sending the same file again cannot help.
    if isinstance(exc, TelegramEntityTooLarge):
        return PermanentSendError("the file is too large for Telegram")
    if isinstance(exc, TelegramNetworkError):
        return TransientSendError(f"could not reach Telegram: {exc.message}")
    if isinstance(exc, TelegramServerError):
        return TransientSendError(f"Telegram server error: {exc.message}")
    if isinstance(exc, ClientDecodeError):
        return TransientSendError(
            f"Telegram answered something that is not a Bot API response: {exc.message}"
        )
    if isinstance(exc, TelegramForbiddenError):
        if "blocked" in exc.message:
            return PermanentSendError("the person blocked the bot on Telegram")
        return PermanentSendError(f"Telegram refused to deliver: {_plain(exc)}")
    if isinstance(exc, TelegramBadRequest):
        if "chat not found" in exc.message:
            return PermanentSendError(
                "Telegram chat not found: the person has not started the bot, or the chat id is wrong"
            )
        return PermanentSendError(f"Telegram rejected the message: {_plain(exc)}")
    if isinstance(exc, TelegramUnauthorizedError | TelegramNotFound):
        # Telegram answers 404 as well as 401 to a token it does not know.
        return PermanentSendError("Telegram rejected the bot token: check the token in the channel settings")
    if isinstance(exc, TelegramMigrateToChat):
        return PermanentSendError(
            "the chat was turned into a supergroup; the hub only talks in private chats"
        )
    if isinstance(exc, TelegramAPIError):
        return TransientSendError(f"unexpected answer from Telegram: {exc.message}")
    return TransientSendError(f"unexpected Telegram client error: {type(exc).__name__}")


def _plain(exc: TelegramAPIError) -> str:
    """The description without Telegram's "Bad Request: " / "Forbidden: " prefix."""
    _, sep, rest = exc.message.partition(": ")
    return rest if sep else exc.message
