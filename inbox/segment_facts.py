"""Conversation facts segments can use (crm_core knows only the customer record; the hub registers
these next to it): ``open_conversation: true`` — the customer has an unresolved conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, not_
from sqlalchemy.sql.elements import ColumnElement

from inbox.conversations import UNRESOLVED
from inbox.models import Conversation

_CONVERSATIONS = Conversation.__table__.c  # type: ignore[attr-defined]


def open_conversation(value: Any, customer_id: ColumnElement[Any], now: datetime) -> ColumnElement[bool]:
    has_open = exists().where(
        _CONVERSATIONS.customer_id == customer_id,
        _CONVERSATIONS.status.in_([status.value for status in UNRESOLVED]),
    )
    return has_open if value else not_(has_open)


SEGMENT_FACTS = {"open_conversation": open_conversation}
