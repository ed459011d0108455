"""An OutboundMessage written as an email: threading headers, a text body with an HTML
alternative, and attachments.

Email has no buttons: quick replies become "reply with" lines, link buttons become links, a
share-your-phone button asks for the number in words. Attachments that arrive as bytes are
attached; attachments known by URL become links, so nothing large travels through the relay.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from channels.contract import Attachment, OutboundMessage, PermanentSendError
from channels.email.settings import EmailSettings, normalise_address

_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
# A URL in running text; punctuation right after it ends the sentence, not the URL.
_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)]")
# The key in OutboundMessage.metadata under which the hub passes the subject of the message being
# answered, when the reply has no subject of its own.
ORIGINAL_SUBJECT = "original_subject"


@dataclass(frozen=True)
class _Link:
    """A line in the body pointing at something: a link button, a file by URL, an attached file."""

    title: str
    url: str | None
    note: str | None = None

    def as_text(self) -> str:
        shown = f"{self.title}: {self.url}" if self.url else self.title
        return shown + (f" ({self.note})" if self.note else "")

    def as_html(self) -> str:
        title = html.escape(self.title)
        shown = f'<a href="{html.escape(self.url)}">{title}</a>' if self.url else title
        return shown + (f" ({html.escape(self.note)})" if self.note else "")


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID (without brackets) of an outbox message.

    Derived from the idempotency key rather than random, so every retry of one outbox message
    carries the same Message-ID: if a send timed out after the relay had in fact accepted it, the
    retry is recognisably the same message (recipients' mail systems collapse it, and a bounce
    for either attempt names the id the hub recorded).
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"{digest}@{domain}"


def subject_for(message: OutboundMessage, fallback: str) -> str:
    """The message's own subject; else "Re: " + the subject it answers; else ``fallback``."""
    subject = message.subject or ""
    if not subject.strip():
        original = message.metadata.get(ORIGINAL_SUBJECT)
        if isinstance(original, str) and original.strip():
            subject = original if _REPLY_PREFIX.match(original) else f"Re: {original.strip()}"
        else:
            subject = fallback
    # A header value must not contain line breaks (header injection); fold to one line.
    return _WHITESPACE.sub(" ", subject).strip()


def _replies(message: OutboundMessage) -> list[str]:
    return [button.title for button in message.buttons if not button.url and not button.request_contact]


def _asks_for_phone(message: OutboundMessage) -> bool:
    return any(button.request_contact for button in message.buttons)


def _location_url(data: Mapping[str, Any]) -> str | None:
    latitude, longitude = data.get("latitude"), data.get("longitude")
    if latitude is None or longitude is None:
        return None
    return f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=16/{latitude}/{longitude}"


def _attachment_link(attachment: Attachment) -> _Link | None:
    """How an attachment appears in the body; None for an attached file that needs no mention."""
    if attachment.content is not None:
        # Attached as a file: mentioned only to carry its caption.
        if not attachment.caption:
            return None
        return _Link(attachment.filename or attachment.kind, None, attachment.caption)
    name_in_url = urlsplit(attachment.url).path.rstrip("/").rpartition("/")[2] if attachment.url else ""
    url = attachment.url or _location_url(attachment.data)
    return _Link(attachment.filename or name_in_url or attachment.kind, url, attachment.caption)


def _mime_type(content_type: str | None) -> tuple[str, str]:
    """(maintype, subtype) to attach bytes as. Containers (multipart/*, message/*) cannot travel
    base64-encoded, so they and anything unreadable go as application/octet-stream."""
    maintype, _, subtype = (content_type or "").strip().lower().partition("/")
    if not maintype or not subtype or maintype in ("multipart", "message"):
        return "application", "octet-stream"
    return maintype, subtype


def _links(message: OutboundMessage) -> list[_Link]:
    return [_Link(button.title, button.url) for button in message.buttons if button.url]


def _plain_body(message: OutboundMessage, files: list[_Link]) -> str:
    sections = [message.text.strip()]
    replies = _replies(message)
    if replies:
        sections.append("Reply with one of:\n" + "\n".join(f"- {title}" for title in replies))
    if _asks_for_phone(message):
        sections.append("Reply with your phone number.")
    links = _links(message)
    if links:
        sections.append("Links:\n" + "\n".join(f"- {link.as_text()}" for link in links))
    if files:
        sections.append("Attachments:\n" + "\n".join(f"- {file.as_text()}" for file in files))
    return "\n\n".join(section for section in sections if section) + "\n"


def _html_text(text: str) -> str:
    """Escaped text with paragraphs, line breaks and clickable URLs."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(paragraph, quote=False)
        linked = _URL.sub(lambda match: f'<a href="{match.group(0)}">{match.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "\n".join(paragraphs)


def _html_list(heading: str, items: list[str]) -> str:
    return f"<p>{heading}</p>\n<ul>\n" + "".join(f"<li>{item}</li>\n" for item in items) + "</ul>"


def _html_body(message: OutboundMessage, files: list[_Link]) -> str:
    parts = [_html_text(message.text)] if message.text.strip() else []
    replies = _replies(message)
    if replies:
        parts.append(_html_list("Reply with one of:", [html.escape(title) for title in replies]))
    if _asks_for_phone(message):
        parts.append("<p>Reply with your phone number.</p>")
    links = _links(message)
    if links:
        parts.append(_html_list("Links:", [link.as_html() for link in links]))
    if files:
        parts.append(_html_list("Attachments:", [file.as_html() for file in files]))
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>\n"


def compose(message: OutboundMessage, settings: EmailSettings, now: datetime) -> EmailMessage:
    """The email for ``message``; PermanentSendError when the recipient is not an email address."""
    try:
        recipient = normalise_address(message.to)
    except ValueError as exc:
        raise PermanentSendError(f"cannot send email: {exc}") from None
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = recipient
    fallback_subject = f"Message from {settings.display_name or settings.domain}"
    email["Subject"] = subject_for(message, fallback=fallback_subject)
    email["Date"] = format_datetime(now)
    email["Message-ID"] = f"<{message_id_for(message.idempotency_key, settings.domain)}>"
    references = [ref.strip().strip("<>") for ref in message.reply_to if ref.strip().strip("<>")]
    if references:
        email["In-Reply-To"] = f"<{references[-1]}>"
        email["References"] = " ".join(f"<{ref}>" for ref in references)
    unsubscribe = message.metadata.get("list_unsubscribe")
    if isinstance(unsubscribe, str) and unsubscribe.startswith("https://"):
        # RFC 2369 and RFC 8058: mail clients show their own unsubscribe button, one click, no login.
        email["List-Unsubscribe"] = f"<{unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    files = [link for link in map(_attachment_link, message.attachments) if link is not None]
    email.set_content(_plain_body(message, files))
    email.add_alternative(_html_body(message, files), subtype="html")
    for attachment in message.attachments:
        if attachment.content is not None:
            maintype, subtype = _mime_type(attachment.content_type)
            filename = attachment.filename or attachment.kind
            email.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=filename)
    return email
