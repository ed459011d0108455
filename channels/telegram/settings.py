"""Settings of one Telegram bot account in hub.yaml."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from channels.spec import ChannelSettings

# BotFather tokens are "<bot id>:<35 url-safe characters>"; aiogram refuses anything else.
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
# setWebhook's secret_token: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettings(ChannelSettings):
    """A bot's token and the secret Telegram echoes back on every webhook call.

    ``webhook_secret`` must be the ``secret_token`` given to ``setWebhook``; Telegram sends it in the
    ``X-Telegram-Bot-Api-Secret-Token`` header and requests without it are rejected.
    """

    # Validation errors must not echo the token or the secret they rejected.
    model_config = ConfigDict(hide_input_in_errors=True)

    type: Literal["telegram"] = "telegram"
    token: SecretStr
    webhook_secret: SecretStr
    # The bot's @username, for deep links (https://t.me/<username>?start=<token>).
    bot_username: str | None = Field(default=None, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError(
                "a Telegram bot token looks like '123456789:AA...' (the bot id, a colon, then letters, "
                "digits, '_' or '-'), as given by @BotFather"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_charset(cls, value: SecretStr) -> SecretStr:
        if not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "the webhook secret must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-' "
                "(Telegram refuses any other secret_token)"
            )
        return value
