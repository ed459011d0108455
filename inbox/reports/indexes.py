"""Indexes the reports read through, on tables other modules own (declared here, next to the queries
that need them; migration 0015 creates them, and hub.tables imports this module so the schema drift
test sees them).

- conversations by start time: the cohort of a range;
- messages by author kind and time, with what reports read of them: one contiguous range per kind
  (customer messages, agent replies, bot messages of a range) answers volume per day, channel and
  hour, replies per agent and every customer wait from the index alone;
- messages of one conversation by author kind and time: how many agent replies it has (first contact
  resolution) and whether the bot spoke before any agent (containment), one index probe each.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index

from inbox.models import Conversation, Message

_conversations: Any = Conversation.__table__  # type: ignore[attr-defined]
_messages: Any = Message.__table__  # type: ignore[attr-defined]

REPORT_INDEXES = (
    Index("ix_conversations_created", _conversations.c.created_at),
    Index(
        "ix_messages_reports",
        _messages.c.author_kind,
        _messages.c.created_at,
        _messages.c.conversation_id,
        _messages.c.channel_type,
        _messages.c.author_agent_id,
        _messages.c.waited_since,
    ),
    Index(
        "ix_messages_conversation_kind",
        _messages.c.conversation_id,
        _messages.c.author_kind,
        _messages.c.created_at,
    ),
)
