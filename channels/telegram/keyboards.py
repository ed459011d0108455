"""Normalised buttons as Telegram reply markup.

Inline buttons (payload and link buttons) sit under the message and come back as a callback_query.
A share-phone button only exists on a reply keyboard, which replaces the phone's keyboard; a message
carries one markup or the other, never both, so a share-phone button turns every payload button of
the same message into a reply-keyboard button as well (its title then comes back as plain text).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from channels.contract import Button, PermanentSendError

# Bot API: InlineKeyboardButton.callback_data is 1-64 bytes.
CALLBACK_DATA_LIMIT = 64


def reply_markup(buttons: Sequence[Button]) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """The markup for ``buttons``, one button per row; None without buttons.

    A payload longer than 64 bytes is refused rather than shortened: the adapter keeps no state to
    map a shortened payload back, and a silently different payload would trigger the wrong flow.
    A button without payload or link uses its title as payload.
    """
    if not buttons:
        return None
    if any(button.request_contact for button in buttons):
        return _reply_keyboard(buttons)
    return InlineKeyboardMarkup(inline_keyboard=[[_inline_button(button)] for button in buttons])


def _inline_button(button: Button) -> InlineKeyboardButton:
    if button.url:
        return InlineKeyboardButton(text=button.title, url=button.url)
    data = button.payload or button.title
    if len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT:
        raise PermanentSendError(
            f"the payload of button {button.title!r} is longer than Telegram's {CALLBACK_DATA_LIMIT} bytes"
        )
    return InlineKeyboardButton(text=button.title, callback_data=data)


def _reply_keyboard(buttons: Sequence[Button]) -> ReplyKeyboardMarkup:
    links = [button.title for button in buttons if button.url and not button.request_contact]
    if links:
        raise PermanentSendError(
            f"Telegram cannot show link button {links[0]!r} next to a share-phone button in one message"
        )
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=button.title, request_contact=button.request_contact or None)]
            for button in buttons
        ],
        one_time_keyboard=True,
        resize_keyboard=True,
    )
