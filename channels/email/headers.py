"""Reading the headers threading and dedupe rely on: Message-ID, In-Reply-To, References, Date.

Message ids are kept without their angle brackets everywhere in the hub (provider ids, reply_to);
they get their brackets back only when written into a header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import Message

_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: object) -> list[str]:
    """The ids in a Message-ID, In-Reply-To or References value, in order.

    Ids are written ``<local@domain>``; a few mailers leave the brackets out, so without any
    bracketed id the words that look like ``local@domain`` count.
    """
    text = str(value or "")
    return _BRACKETED_ID.findall(text) or [word for word in text.split() if "@" in word]


def message_id_of_headers(message: Message) -> str | None:
    """The message's own Message-ID without brackets, or None when it has none."""
    ids = message_ids(message.get("Message-ID"))
    return ids[0] if ids else None


def thread_ids(message: Message) -> tuple[str, ...]:
    """The ids the message replies to: In-Reply-To first, then References, without repeats."""
    ids = message_ids(message.get("In-Reply-To")) + message_ids(message.get("References"))
    return tuple(dict.fromkeys(ids))


def parsed_date(message: Message) -> datetime | None:
    """The Date header as an aware datetime; None when missing or unreadable.

    "-0000" (RFC 5322: the sender's zone is unknown) parses as a naive time that is in UTC.
    """
    header = message.get("Date")
    moment = getattr(header, "datetime", None)
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
