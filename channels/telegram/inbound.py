"""Telegram Updates as normalised events.

The hub talks to people in private chats only: updates from groups and channels, and update kinds a
private-chat bot has no use for (inline queries, polls, payments...), are dropped with a debug log.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    Contact,
    InaccessibleMessage,
    Message,
    Update,
    User,
)
from pydantic import ValidationError

from channels.contract import (
    Address,
    Attachment,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    NormalizedEvent,
    SubscriptionChange,
)

logger = logging.getLogger(__name__)

_PRIVATE = "private"
# "/start", "/start payload", and "/start@SomeBot payload" as typed by hand.
_START = re.compile(r"/start(?:@\w+)?(?:\s+(?P<payload>.*))?", re.DOTALL)
# E.164: a country code and subscriber number, at most 15 digits.
_E164_DIGITS = re.compile(r"\d{7,15}")


def parse_update(body: Any) -> list[NormalizedEvent]:
    """The normalised events in one Update (a decoded webhook body); MalformedEvent if it is not one."""
    if not isinstance(body, dict):
        raise MalformedEvent("body is not a JSON object, so not a Telegram Update")
    try:
        update = Update.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedEvent(f"not a Telegram Update: {where}: {first['msg']}") from None
    if update.message is not None:
        return _message_events(update.message, edited=False)
    if update.edited_message is not None:
        return _message_events(update.edited_message, edited=True)
    if update.callback_query is not None:
        return _callback_events(update.callback_query)
    if update.my_chat_member is not None:
        return _membership_events(update.my_chat_member)
    kinds = sorted(key for key in body if key != "update_id")
    logger.debug("ignoring Telegram update %s of kind %s", update.update_id, ", ".join(kinds) or "none")
    return []


def sender_address(user: User) -> Address:
    """The Telegram user as a verified address: Telegram vouches for its own user ids."""
    return Address(IdentityKind.TELEGRAM, str(user.id), verified=True, display_name=user.full_name)


def provider_message_id(chat_id: int, message_id: int) -> str:
    """The provider id of a message: message ids are only unique within their chat."""
    return f"{chat_id}:{message_id}"


# --------------------------------------------------------------------------------------------------
# Messages


def _message_events(message: Message, *, edited: bool) -> list[NormalizedEvent]:
    if message.chat.type != _PRIVATE or message.from_user is None:
        logger.debug("ignoring a message in a %s chat or without sender", message.chat.type)
        return []
    user = message.from_user
    content = _content(message, user)
    text = message.text or message.caption or content.label
    if not text and not content.attachments:
        logger.debug("ignoring a Telegram message with unsupported content %s", message.content_type)
        return []
    replied = message.reply_to_message
    return [
        InboundMessage(
            sender=sender_address(user),
            text=text,
            attachments=content.attachments,
            provider_message_id=provider_message_id(message.chat.id, message.message_id),
            sent_at=_sent_at(message, edited=edited),
            edited=edited,
            start_payload=_start_payload(message.text, edited=edited),
            extra_identities=content.identities,
            locale=user.language_code,
            in_reply_to=(provider_message_id(message.chat.id, replied.message_id),) if replied else (),
            metadata=_metadata(user, media_group_id=message.media_group_id),
        )
    ]


def _start_payload(text: str | None, *, edited: bool) -> str | None:
    """The deep-link parameter of a "/start" command; "" for a plain "/start" (a start without
    parameter), None for anything else. Editing an old "/start" starts nothing."""
    start = _START.fullmatch(text or "")
    if start is None or edited:
        return None
    return (start.group("payload") or "").strip()


class _Content(NamedTuple):
    """What a message carries besides its text."""

    attachments: tuple[Attachment, ...] = ()
    # Identities Telegram vouches for beyond the sender (a shared own contact).
    identities: tuple[Address, ...] = ()
    # The text shown for content that has none of its own (a sticker).
    label: str = ""


def _content(message: Message, user: User) -> _Content:
    caption = message.caption
    if message.photo:
        # Telegram lists the same photo in several sizes; keep the largest.
        photo = max(message.photo, key=lambda size: size.width * size.height)
        data = {"file_id": photo.file_id, "width": photo.width, "height": photo.height}
        return _Content((Attachment("image", size=photo.file_size, caption=caption, data=data),))
    if message.sticker:
        sticker = message.sticker
        data = {"file_id": sticker.file_id, "emoji": sticker.emoji, "set_name": sticker.set_name}
        label = f"[sticker {sticker.emoji}]" if sticker.emoji else "[sticker]"
        return _Content((Attachment("sticker", data=_present(data)),), label=label)
    if message.contact:
        return _contact(message.contact, user)
    if message.location:
        where = message.location
        data = {"latitude": where.latitude, "longitude": where.longitude}
        return _Content((Attachment("location", data=data),))
    media = _media(message)
    return _Content((media,) if media else ())


def _media(message: Message) -> Attachment | None:
    """Files that are not photos: document, audio, voice, video, round video note."""
    caption = message.caption
    if message.document:
        doc = message.document
        return Attachment(
            "file",
            filename=doc.file_name,
            content_type=doc.mime_type,
            size=doc.file_size,
            caption=caption,
            data={"file_id": doc.file_id},
        )
    if message.audio:
        audio = message.audio
        data = {
            "file_id": audio.file_id,
            "duration": audio.duration,
            "performer": audio.performer,
            "title": audio.title,
        }
        return Attachment(
            "audio",
            filename=audio.file_name,
            content_type=audio.mime_type,
            size=audio.file_size,
            caption=caption,
            data=_present(data),
        )
    if message.voice:
        voice = message.voice
        data = {"file_id": voice.file_id, "duration": voice.duration}
        return Attachment(
            "voice", content_type=voice.mime_type, size=voice.file_size, caption=caption, data=data
        )
    if message.video:
        video = message.video
        data = {
            "file_id": video.file_id,
            "duration": video.duration,
            "width": video.width,
            "height": video.height,
        }
        return Attachment(
            "video",
            filename=video.file_name,
            content_type=video.mime_type,
            size=video.file_size,
            caption=caption,
            data=data,
        )
    if message.video_note:
        note = message.video_note
        # A round video recorded in the chat: a video without file name, type or caption.
        data = {"file_id": note.file_id, "duration": note.duration, "video_note": True}
        return Attachment("video", size=note.file_size, data=data)
    return None


def _contact(contact: Contact, user: User) -> _Content:
    """A shared contact. Only the sender's own contact (shared with the share-phone button, so
    ``user_id`` is theirs) proves a phone number; anyone else's is just a card they forwarded."""
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    own = contact.user_id is not None and contact.user_id == user.id
    phone = _e164(contact.phone_number) if own else None
    if own and phone is None:
        logger.debug("ignoring a shared own contact whose phone number is not E.164")
    data = _present(
        {
            "phone": phone or contact.phone_number,
            "name": name,
            "user_id": str(contact.user_id) if contact.user_id is not None else None,
        }
    )
    identities = (Address(IdentityKind.PHONE, phone, verified=True, display_name=name),) if phone else ()
    return _Content((Attachment("contact", data=data),), identities)


def _e164(phone: str) -> str | None:
    """Telegram sends the account's phone in international form, with or without "+"."""
    digits = re.sub(r"[\s().+-]", "", phone)
    return f"+{digits}" if _E164_DIGITS.fullmatch(digits) else None


# --------------------------------------------------------------------------------------------------
# Button presses and membership


def _callback_events(query: CallbackQuery) -> list[NormalizedEvent]:
    message = query.message
    if message is None or message.chat.type != _PRIVATE or query.data is None:
        # Inline-mode messages, group chats, and game buttons carry nothing for the inbox.
        logger.debug("ignoring a callback query outside a private chat or without data")
        return []
    return [
        InboundMessage(
            sender=sender_address(query.from_user),
            text=_button_title(message, query.data),
            button_payload=query.data,
            locale=query.from_user.language_code,
            metadata=_metadata(
                query.from_user,
                callback_query_id=query.id,
                message_id=provider_message_id(message.chat.id, message.message_id),
            ),
        )
    ]


def _button_title(message: Message | InaccessibleMessage, data: str) -> str:
    """The title of the pressed button, found in the keyboard of the message it sat under."""
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return ""


def _membership_events(change: ChatMemberUpdated) -> list[NormalizedEvent]:
    """In a private chat Telegram reports only the bot being blocked ("kicked") or unblocked ("member")."""
    status = change.new_chat_member.status
    if change.chat.type != _PRIVATE or status not in ("member", "kicked"):
        logger.debug("ignoring a chat member change to %s in a %s chat", status, change.chat.type)
        return []
    subscribed = status == "member"
    return [
        SubscriptionChange(
            sender=sender_address(change.from_user),
            subscribed=subscribed,
            purpose="channel",
            reason="unblocked the bot" if subscribed else "blocked the bot",
        )
    ]


# --------------------------------------------------------------------------------------------------


def _metadata(user: User, **fields: Any) -> dict[str, Any]:
    return _present({"username": user.username, **fields})


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the ones Telegram left out."""
    return {key: value for key, value in fields.items() if value is not None}


def _sent_at(message: Message, *, edited: bool) -> datetime:
    """When the message was written, or for an edit when it was edited (a Unix time in aiogram)."""
    if edited and message.edit_date is not None:
        return datetime.fromtimestamp(message.edit_date, UTC)
    return message.date.astimezone(UTC)
