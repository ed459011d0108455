"""Turning one normalised outbound message into the Twilio messages that carry it.

Twilio's Messages API takes a body of at most 1600 characters and media by public URL. Everything
richer degrades here:

* buttons become a numbered list the customer answers by number ("1. Yes / 2. No / Reply 1 or 2");
  link buttons become "Title: URL" lines; share-phone buttons are dropped, as Twilio already delivers
  the customer's verified number. A numbered answer comes back as plain text ("1"): mapping it to the
  button's payload needs the conversation's state, which the hub has and the adapter does not;
* a longer text is split into several messages on paragraph, line or word boundaries. SMS segments
  (160 GSM-7 / 70 UCS-2 characters) are the carrier's business: one Twilio message up to 1600
  characters is reassembled on the phone;
* media go by URL, as many per message as the channel takes, extra media in further messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import zip_longest

from channels.contract import Attachment, Button, OutboundMessage, PermanentSendError
from channels.text_split import split_text

# "Body ... can be up to 1,600 characters" (Messages API; error 21617 beyond). Characters outside the
# Basic Multilingual Plane are counted twice, as UCS-2 does, to stay under the limit with emoji.
BODY_LIMIT = 1600


@dataclass(frozen=True)
class MessageRules:
    """What one Twilio channel accepts in a single message."""

    media_per_message: int
    # The line after a numbered button list telling the customer how to answer, given the count.
    reply_hint: Callable[[int], str]


@dataclass(frozen=True)
class MessagePart:
    """One Messages API request: a body (may be empty when media carry the message) and media URLs."""

    body: str
    media_urls: tuple[str, ...] = ()


def compose(message: OutboundMessage, rules: MessageRules) -> list[MessagePart]:
    """The Twilio messages carrying ``message``, in sending order; the first one carries the first
    media, so a caption stays with its picture."""
    text = with_buttons(message.text, message.buttons, rules.reply_hint)
    urls = media_urls(message.attachments)
    if not text and not urls:
        raise PermanentSendError("the message has neither text nor media, so there is nothing to send")
    bodies = split_text(text, BODY_LIMIT) if text else []
    step = rules.media_per_message
    groups = [tuple(urls[start : start + step]) for start in range(0, len(urls), step)]
    return [
        MessagePart(body=body or "", media_urls=group or ()) for body, group in zip_longest(bodies, groups)
    ]


def with_buttons(text: str, buttons: Sequence[Button], reply_hint: Callable[[int], str]) -> str:
    """``text`` followed by the buttons as a numbered list of replies and lines of links."""
    replies = [button.title for button in buttons if not button.url and not button.request_contact]
    links = [f"{button.title}: {button.url}" for button in buttons if button.url]
    blocks = [text] if text else []
    if replies:
        blocks.append("\n".join(f"{number}. {title}" for number, title in enumerate(replies, start=1)))
    if links:
        blocks.append("\n".join(links))
    if replies:
        blocks.append(reply_hint(len(replies)))
    return "\n\n".join(blocks)


def media_urls(attachments: Sequence[Attachment]) -> list[str]:
    """The URLs Twilio fetches the media from; an attachment without one cannot be sent."""
    urls = []
    for attachment in attachments:
        if not attachment.url:
            raise PermanentSendError(
                f"the {attachment.kind} attachment has no URL; "
                "Twilio only sends media it can download from a public URL"
            )
        urls.append(attachment.url)
    return urls
