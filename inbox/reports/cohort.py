"""Which conversations a report is about: those opened in the range (their ``created_at``, the
customer's first message), narrowed by the channel and team filters. Conversation figures (response
and resolution times, first contact resolution, bot containment) are over this cohort, so one
conversation counts once, in the range it started in, however long it lasts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from inbox.models import Conversation, Message
from inbox.reports.scope import ReportScope


def opened_in(scope: ReportScope) -> list[ColumnElement[bool]]:
    conversation: Any = Conversation
    conditions = [conversation.created_at >= scope.start, conversation.created_at < scope.end]
    if scope.channel is not None:
        conditions.append(conversation.channel_type == scope.channel)
    if scope.team_id is not None:
        conditions.append(conversation.team_id == scope.team_id)
    return conditions


def sent_in(scope: ReportScope) -> list[ColumnElement[bool]]:
    """Messages written in the range (by their own time) on the filtered channel. The team filter
    needs the conversation: callers join it and add ``Conversation.team_id``."""
    message: Any = Message
    conditions = [message.created_at >= scope.start, message.created_at < scope.end]
    if scope.channel is not None:
        conditions.append(message.channel_type == scope.channel)
    return conditions


def dialect_of(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None
    return bind.dialect.name
