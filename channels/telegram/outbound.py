"""Sending normalised messages through the Bot API with aiogram."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import AiogramError
from aiogram.types import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup
from pydantic import SecretStr

from channels.contract import Attachment, OutboundMessage, PermanentSendError, SendResult
from channels.telegram.errors import send_error
from channels.telegram.inbound import provider_message_id
from channels.telegram.keyboards import reply_markup
from channels.text_split import split_text, utf16_length

# Bot API limits: sendMessage text 1-4096 characters, media captions 0-1024.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Media:
    kind: str
    url: str
    caption: str | None


_Part = _Text | _Media


class TelegramSender:
    """Sends through one bot. The aiogram Bot and its HTTP session are created on the first use,
    inside the running event loop, and closed by ``aclose``."""

    def __init__(self, token: SecretStr, api_base: str | None, timeout: float) -> None:
        self._token = token
        self._api = TelegramAPIServer.from_base(api_base) if api_base else PRODUCTION
        self._timeout = timeout
        self._bot: Bot | None = None

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send ``message`` as one or more Telegram messages, buttons on the last one.

        Attachments go first (by URL; the text rides as caption on the last one when it fits), then
        the text, split on paragraph, line or word boundaries past 4096 characters. Telegram has no
        idempotency key: if a later part fails, a retry sends the earlier parts again.
        """
        chat_id = _chat_id(message.to)
        markup = reply_markup(message.buttons)
        parts = _parts(message)
        bot = self.bot()
        ids: list[str] = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                sent = await _deliver(bot, chat_id, part, markup if last else None)
            except AiogramError as exc:
                raise send_error(exc) from exc
            ids.append(provider_message_id(sent.chat.id, sent.message_id))
        return SendResult(provider_message_ids=tuple(ids))

    async def aclose(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    def bot(self) -> Bot:
        """The aiogram Bot of this token, created on first use (inside the running event loop)."""
        if self._bot is None:
            session = AiohttpSession(api=self._api, timeout=self._timeout)
            self._bot = Bot(self._token.get_secret_value(), session=session)
        return self._bot


def _chat_id(to: str) -> int:
    try:
        return int(to)
    except ValueError:
        raise PermanentSendError(f"{to!r} is not a Telegram chat id (a number)") from None


def _parts(message: OutboundMessage) -> list[_Part]:
    parts: list[_Part] = [_media(attachment) for attachment in message.attachments]
    text = message.text
    last = parts[-1] if parts else None
    if isinstance(last, _Media) and last.caption is None and text and utf16_length(text) <= CAPTION_LIMIT:
        parts[-1] = _Media(last.kind, last.url, text)
    elif text:
        parts.extend(_Text(chunk) for chunk in split_text(text, TEXT_LIMIT))
    if not parts:
        raise PermanentSendError("the message has neither text nor attachments")
    return parts


def _media(attachment: Attachment) -> _Media:
    if not attachment.url:
        raise PermanentSendError(f"the {attachment.kind} attachment has no URL Telegram could fetch")
    return _Media(attachment.kind, attachment.url, attachment.caption)


async def _deliver(bot: Bot, chat_id: int, part: _Part, markup: Markup | None) -> Message:
    if isinstance(part, _Text):
        return await bot.send_message(chat_id, part.text, reply_markup=markup)
    # Telegram fetches the URL itself; files it cannot show natively go as documents.
    if part.kind == "image":
        return await bot.send_photo(chat_id, part.url, caption=part.caption, reply_markup=markup)
    if part.kind == "audio":
        return await bot.send_audio(chat_id, part.url, caption=part.caption, reply_markup=markup)
    if part.kind == "video":
        return await bot.send_video(chat_id, part.url, caption=part.caption, reply_markup=markup)
    return await bot.send_document(chat_id, part.url, caption=part.caption, reply_markup=markup)
