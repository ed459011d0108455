"""Telegram bots (Bot API through aiogram 3): private chats with people who started the bot.

Inbound
    Telegram POSTs one JSON Update per webhook call and echoes the ``secret_token`` given to
    ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``; that header is the only proof of origin.
    ``update_id`` is the dedupe key (Telegram keeps it when it re-delivers). Updates are read with
    aiogram's models: messages (text, photo, document, audio, voice, video, video note, location,
    contact, sticker), edits, inline-button presses and the bot being blocked or unblocked. Groups,
    channels and other update kinds are ignored. A button press is answered inside the webhook reply
    (``answerCallbackQuery``), so the button stops spinning without an extra API call.

    Media arrive as a ``file_id`` in ``Attachment.data`` and no URL: Telegram's download URL embeds
    the bot token, so it must not be stored; fetching the file needs ``getFile`` with the token.
    A plain ``/start`` sets ``start_payload`` to "" and ``/start <payload>`` to the payload, so a start
    without deep link can be told from ordinary text.

Outbound
    aiogram's Bot, created on the first send inside the running loop; ``api_base`` points it at another
    Bot API server (a local one, or the tests' fake). Text is plain (no parse mode), split past 4096
    UTF-16 units. Buttons are an inline keyboard; a payload over Telegram's 64 bytes is refused rather
    than shortened, since nothing could map a shortened payload back. A share-phone button needs a reply
    keyboard, so the payload buttons beside it become reply-keyboard buttons whose titles come back as
    text. No delivery or read receipts exist on Telegram.
"""

from __future__ import annotations

from channels.spec import ChannelSpec
from channels.telegram.adapter import TelegramAdapter
from channels.telegram.settings import TelegramSettings

SPEC = ChannelSpec(
    type="telegram",
    settings=TelegramSettings,
    build=TelegramAdapter,
    description="Telegram bot: text, media, buttons, share-phone, deep links",
)

__all__ = ["SPEC", "TelegramAdapter", "TelegramSettings"]
