"""A raw RFC 5322 email turned into normalised events.

A delivery status notification becomes a receipt for the message we sent; anything else becomes
one InboundMessage. Parsing is best effort: broken MIME still yields whatever text can be read,
with a note in ``metadata["parse_notes"]`` saying what was wrong. Only an email with no sender at
all (no From address and no envelope sender) cannot become a message.
"""

from __future__ import annotations

import email
import hashlib
from collections.abc import Iterator, Mapping
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any, cast

from channels.contract import (
    Address,
    Attachment,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    NormalizedEvent,
)
from channels.email.authentication import sender_verdict
from channels.email.bounces import is_delivery_report, receipts_from_report
from channels.email.headers import message_id_of_headers, parsed_date, thread_ids
from channels.email.html_text import html_to_text
from channels.email.mime_policy import TOLERANT
from channels.email.quoting import split_quoted

_ATTACHMENT_KINDS = {"image": "image", "audio": "audio", "video": "video"}
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
_AUTOMATED_PRECEDENCE = frozenset({"bulk", "auto_reply", "junk"})
# The SMTP null reverse-path: bounces and other notifications that must never be answered.
NULL_SENDER = "<>"


def _read(raw: bytes) -> EmailMessage:
    # EmailMessage objects with decoded headers (RFC 2047/2231), see mime_policy.
    return email.message_from_bytes(raw, policy=TOLERANT)


def event_key(raw: bytes) -> str:
    """The dedupe key of a raw email: its Message-ID (without brackets).

    Some senders (scripts, old mailers, some bounces) omit the Message-ID; then the key is a hash
    of the exact bytes, which still collapses retries of one SMTP delivery. The same message
    fetched again by IMAP would carry the mailbox's own trace headers and hash differently.
    """
    if not raw.strip():
        raise MalformedEvent("the email is empty")
    headers = BytesHeaderParser(policy=TOLERANT).parsebytes(raw)
    return message_id_of_headers(headers) or "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_email(
    raw: bytes,
    *,
    envelope_sender: str | None = None,
    trusted_authserv_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[NormalizedEvent]:
    """Normalised events of one raw email.

    ``envelope_sender`` is the SMTP MAIL FROM (used when the message has no From);
    ``metadata`` (transport details) is merged into the message's metadata.
    """
    if not raw.strip():
        raise MalformedEvent("the email is empty")
    message = _read(raw)
    if is_delivery_report(message):
        return list(receipts_from_report(message))
    notes: list[str] = []
    sender, verdict = _sender(message, envelope_sender, trusted_authserv_id, notes)
    body_part, text = _body_text(message, notes)
    attachments = tuple(_attachments(message, body_part))
    new_text, quoted = split_quoted(text)
    details: dict[str, Any] = {**(metadata or {}), **_recipients(message)}
    if quoted:
        details["quoted_text"] = quoted
    if verdict:
        details["sender_authentication"] = verdict
    auto_reason = _auto_reply_reason(message, envelope_sender)
    if auto_reason:
        details["auto_reply"] = True
        details["auto_reply_reason"] = auto_reason
    if body_part is not None:
        details["body_type"] = body_part.get_content_type()
    # Decoding registers its own defects (bad base64, say), so they are collected last.
    header_defects = [defect for _, value in message.items() for defect in getattr(value, "defects", ())]
    structure_defects = [defect for part in message.walk() for defect in part.defects]
    notes = [_describe(defect) for defect in header_defects + structure_defects] + notes
    if notes:
        details["parse_notes"] = list(dict.fromkeys(notes))
    subject = message.get("Subject")
    return [
        InboundMessage(
            sender=sender,
            text=new_text,
            attachments=attachments,
            provider_message_id=message_id_of_headers(message),
            sent_at=parsed_date(message),
            subject=str(subject) if subject is not None else None,
            in_reply_to=thread_ids(message),
            metadata=details,
        )
    ]


def _describe(defect: Exception) -> str:
    # The stdlib's defects mostly carry no message; their docstrings say what is wrong.
    return str(defect) or (type(defect).__doc__ or type(defect).__name__).strip()


# Sender ------------------------------------------------------------------------------------------


def _sender(
    message: EmailMessage, envelope_sender: str | None, trusted_authserv_id: str | None, notes: list[str]
) -> tuple[Address, str | None]:
    """The sender and the check that vouches for it (None: unverified)."""
    found = next((a for a in _addresses(message, "From") if a.username and a.domain), None)
    if found is not None:
        value = found.addr_spec.lower()
        results = [str(h) for h in message.get_all("Authentication-Results", [])]
        verdict = sender_verdict(results, value, trusted_authserv_id)
        address = Address(
            IdentityKind.EMAIL, value, verified=verdict is not None, display_name=found.display_name or None
        )
        return address, verdict
    if envelope_sender and envelope_sender != NULL_SENDER:
        notes.append("the From header has no usable address; the envelope sender is used instead")
        return Address(IdentityKind.EMAIL, envelope_sender.lower(), verified=False), None
    raise MalformedEvent("the email has no From address and no envelope sender")


def _addresses(message: EmailMessage, name: str) -> list[HeaderAddress]:
    header = message.get(name)
    if header is None:
        return []
    parsed = getattr(header, "addresses", None)
    if parsed is not None:
        return list(parsed)
    # The structured parser gave up on this header (see mime_policy); the older, more forgiving
    # one still finds the addresses in most such values.
    found = []
    for display_name, addr_spec in getaddresses([str(header)]):
        local, at, domain = addr_spec.rpartition("@")
        if at and local and domain:
            found.append(HeaderAddress(display_name=display_name, username=local, domain=domain))
    return found


def _recipients(message: EmailMessage) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in ("To", "Cc"):
        addresses = [a.addr_spec.lower() for a in _addresses(message, name) if a.username and a.domain]
        if addresses:
            found[name.lower()] = addresses
    return found


def _auto_reply_reason(message: EmailMessage, envelope_sender: str | None) -> str | None:
    """Why the message is machine-sent and must not be answered (RFC 3834), or None."""
    auto_submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in _AUTO_REPLY_HEADERS:
        if message.get(name) is not None:
            return f"{name} header"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in _AUTOMATED_PRECEDENCE:
        return f"Precedence: {precedence}"
    if envelope_sender == NULL_SENDER:
        return "null envelope sender (a bounce or notification)"
    return None


# Text ----------------------------------------------------------------------------------------------


def _decoded_text(part: Message, notes: list[str]) -> str:
    """A text part's content; a wrong or unknown charset is noted, never fatal.

    Text without a charset (or not valid in the one it declares) is read as UTF-8: unlabelled
    8-bit mail is UTF-8 far more often than the ASCII RFC 2045 assumes.
    """
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset()
    problem = None
    if declared:
        try:
            return payload.decode(declared)
        except UnicodeDecodeError:
            problem = f"the text is not valid {declared}"
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            problem = f"unknown charset {declared!r}"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        notes.append(f"{problem or 'the text is not valid UTF-8'}; unreadable bytes were replaced")
        return payload.decode("utf-8", errors="replace")
    if problem:
        notes.append(f"{problem}; it was read as UTF-8")
    return text


def _body_text(message: EmailMessage, notes: list[str]) -> tuple[Message | None, str]:
    """The body part (text/plain preferred, else HTML) and its readable text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        if message.get_content_maintype() == "multipart" and not message.is_multipart():
            # Declared multipart but no part could be split out (a missing or wrong boundary).
            notes.append("the multipart body could not be split into parts; shown as it came")
            return None, _decoded_text(message, notes)
        return None, ""
    text = _decoded_text(part, notes)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return part, text.replace("\r\n", "\n").strip()


# Attachments ---------------------------------------------------------------------------------------


def _leaves(part: Message) -> Iterator[Message]:
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in cast(list[Message], part.get_payload()):
            yield from _leaves(sub)
    else:
        yield part


def _is_alternative_body(part: Message) -> bool:
    """A text part that is another rendering of the body, not a file."""
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_filename() is None
        and part.get_content_disposition() != "attachment"
    )


def _content(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        # A forwarded email (message/rfc822) travels as the whole embedded message.
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            # compat32 writes headers back as they came; the modern policy would refold them and
            # fails on bytes that are not valid in their charset.
            return cast(Message, inner[0]).as_bytes(policy=compat32)
        return b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _attachments(message: EmailMessage, body_part: Message | None) -> Iterator[Attachment]:
    if not message.is_multipart():
        return
    for part in _leaves(message):
        if part is body_part or _is_alternative_body(part):
            continue
        content = _content(part)
        content_type = part.get_content_type()
        data: dict[str, Any] = {}
        content_id = part.get("Content-ID")
        if content_id is not None:
            data["content_id"] = str(content_id).strip().strip("<>")
        if part.get_content_disposition() == "inline":
            data["inline"] = True
        filename = part.get_filename()
        if filename is None and content_type == "message/rfc822":
            filename = "forwarded-message.eml"
        yield Attachment(
            kind=_ATTACHMENT_KINDS.get(part.get_content_maintype(), "file"),
            filename=filename,
            content_type=content_type,
            size=len(content),
            data=data,
            content=content,
        )
