"""The website chat's visitor endpoints: start a session, read the history, follow replies live,
say "I am typing" (and hear that an agent is).

Visitors send messages through the ordinary webhook (POST /webhooks/webchat/{account}), so they take
the same durable, deduplicated path as every provider's events.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from channels.webchat import WebchatChannel, WebchatSettings, visitor_topic
from crm_core.models import Customer, Identity, IdentityKind
from hub.accounts import Account
from hub.api.deps import get_hub
from hub.live import LiveEvent
from hub.runtime import Hub
from hub.sse import sse_frame, sse_response
from inbox.conversations import UNRESOLVED
from inbox.models import Conversation, Direction, Message, MessageStatus

router = APIRouter(prefix="/webchat", tags=["webchat"])
# The widget shows the latest part of a long history.
HISTORY_LIMIT = 500


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visitor_id: str | None = Field(default=None, max_length=64)
    token: str | None = Field(default=None, max_length=128)


class SessionOut(BaseModel):
    visitor_id: str
    token: str
    title: str


class VisitorMessage(BaseModel):
    id: int
    direction: Direction
    author: str
    text: str
    buttons: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    provider_id: str | None
    created_at: datetime


def _webchat(hub: Hub, account_name: str) -> tuple[Account, WebchatChannel]:
    account = hub.accounts.get(account_name, "webchat")
    assert isinstance(account.adapter, WebchatChannel)
    return account, account.adapter


def _visible(message: Message) -> VisitorMessage | None:
    """What a visitor may see: their messages and replies that actually went out."""
    if message.direction is Direction.OUTBOUND and message.status in (
        MessageStatus.QUEUED,
        MessageStatus.FAILED,
    ):
        return None
    return VisitorMessage(
        id=message.id,  # type: ignore[arg-type]
        direction=message.direction,
        author=message.author_kind.value,
        text=message.text,
        buttons=message.buttons,
        attachments=message.attachments,
        provider_id=message.provider_message_id,
        created_at=message.created_at,
    )


@router.post("/{account_name}/session", response_model=SessionOut)
async def start_session(account_name: str, body: SessionIn, hub: Hub = Depends(get_hub)) -> SessionOut:
    """Resume the visitor's session if its token is valid, otherwise start a new visitor."""
    account, adapter = _webchat(hub, account_name)
    visitor_id = body.visitor_id
    if not (visitor_id and body.token and secrets.compare_digest(adapter.token_for(visitor_id), body.token)):
        visitor_id = secrets.token_urlsafe(18)
    settings = account.settings
    assert isinstance(settings, WebchatSettings)
    return SessionOut(visitor_id=visitor_id, token=adapter.token_for(visitor_id), title=settings.title)


@router.get("/{account_name}/messages", response_model=list[VisitorMessage])
async def history(
    account_name: str,
    visitor: str = Header(alias="X-Webchat-Visitor", max_length=64),
    token: str = Header(alias="X-Webchat-Token", max_length=128),
    hub: Hub = Depends(get_hub),
) -> list[VisitorMessage]:
    """The visitor's conversation on this site (their messages and the replies that went out)."""
    _, adapter = _webchat(hub, account_name)
    adapter.check_visitor(visitor, token)
    async with hub.db.session() as session:
        newest = (
            await session.execute(
                select(Message)
                .where(Message.channel_account == account_name, Message.address == visitor)
                .order_by(Message.id.desc())
                .limit(HISTORY_LIMIT)
            )
        ).scalars()
        return [v for m in reversed(list(newest)) if (v := _visible(m)) is not None]


@router.post("/{account_name}/typing", status_code=204)
async def visitor_typing(
    account_name: str,
    visitor: str = Header(alias="X-Webchat-Visitor", max_length=64),
    token: str = Header(alias="X-Webchat-Token", max_length=128),
    hub: Hub = Depends(get_hub),
) -> None:
    """The visitor is writing: agents with the conversation open see it (nothing is stored)."""
    _, adapter = _webchat(hub, account_name)
    adapter.check_visitor(visitor, token)
    async with hub.db.session() as session:
        found = (
            await session.execute(
                select(Conversation.id, Customer.display_name)
                .join(Identity, Identity.customer_id == Conversation.customer_id)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(
                    Identity.kind == IdentityKind.WEBCHAT,
                    Identity.address == visitor,
                    Conversation.status.in_(UNRESOLVED),
                )
                .order_by(Conversation.last_message_at.desc())
                .limit(1)
            )
        ).first()
    if found is not None:
        conversation_id, name = found
        await hub.bus.publish(
            "inbox",
            {
                "type": "typing",
                "conversation_id": conversation_id,
                "agent_id": None,
                "name": name,
                "mode": "customer",
            },
        )


@router.get("/{account_name}/stream", summary="Server-sent events with replies for one visitor")
async def stream(
    request: Request,
    account_name: str,
    visitor: str = Query(max_length=64),
    token: str = Query(
        max_length=128, description="EventSource cannot send headers, so the token rides here"
    ),
    hub: Hub = Depends(get_hub),
) -> StreamingResponse:
    _, adapter = _webchat(hub, account_name)
    adapter.check_visitor(visitor, token)

    async def render(live_event: LiveEvent) -> list[str]:
        if live_event.payload.get("type") == "typing":
            return [sse_frame("typing", {})]  # an agent is writing a reply
        async with hub.db.session() as session:
            message = await session.get(Message, live_event.payload.get("message_id"))
        if message is None or message.address != visitor or message.channel_account != account_name:
            return []
        if message.direction is Direction.OUTBOUND:
            # The outbox publishes just before it records "sent": show it as sent.
            message.status = MessageStatus.SENT
        message.provider_message_id = message.provider_message_id or live_event.payload.get("provider_id")
        visible = _visible(message)
        return [sse_frame("message", visible.model_dump(mode="json"))] if visible else []

    return sse_response(request, lambda: hub.bus.subscribe(visitor_topic(account_name, visitor)), render)
