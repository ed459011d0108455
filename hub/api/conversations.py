"""/api/v1/conversations: the inbox — list, read, reply, notes, assign, status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query
from sqlalchemy import func, select

from channels.contract import Button
from crm_core.models import Customer
from hub.actions import conversations as actions
from hub.api.deps import get_hub, require
from hub.api.schemas import (
    AssignIn,
    ConversationListItem,
    ConversationOut,
    ConversationUpdateIn,
    MessageOut,
    NoteIn,
    NoteOut,
    ReplyIn,
    StatusIn,
)
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.runtime import Hub
from inbox import conversations as inbox
from inbox.models import ConversationStatus, Message

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("", response_model=list[ConversationListItem])
async def list_conversations(
    status: ConversationStatus | None = None,
    assignee_id: int | None = Query(default=None, description="an agent id"),
    assignee: str | None = Query(
        default=None, pattern="^(me|none)$", description="'me' or 'none' (unassigned)"
    ),
    channel: str | None = Query(default=None, description="channel type, e.g. webchat"),
    account: str | None = Query(default=None, description="channel account name"),
    team_id: int | None = None,
    customer_id: int | None = None,
    before_id: int | None = None,
    limit: int = Query(default=50, ge=1, le=200),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[ConversationListItem]:
    filters = inbox.ConversationFilter(
        status=status,
        assignee_id=principal.agent_id if assignee == "me" else assignee_id,
        unassigned=assignee == "none",
        channel_type=channel,
        channel_account=account,
        team_id=team_id,
        customer_id=customer_id,
    )
    async with hub.db.session() as session:
        conversations = await inbox.list_conversations(session, filters, limit, before_id)
        ids = [c.id for c in conversations]
        names = dict(
            (
                await session.execute(
                    select(Customer.id, Customer.display_name).where(
                        Customer.id.in_({c.customer_id for c in conversations})
                    )
                )
            ).all()
        )
        last_ids = (
            select(func.max(Message.id))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        )
        last_texts = dict(
            (
                await session.execute(
                    select(Message.conversation_id, Message.text).where(Message.id.in_(last_ids))
                )
            ).all()
        )
    return [
        ConversationListItem.model_validate(
            {
                **ConversationOut.model_validate(c).model_dump(),
                "customer_name": names.get(c.customer_id) or f"Customer {c.customer_id}",
                "last_message_text": (last_texts.get(c.id) or "")[:200] or None,
            }
        )
        for c in conversations
    ]


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> ConversationOut:
    async with hub.db.session() as session:
        return ConversationOut.model_validate(await inbox.get_conversation(session, conversation_id))


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
async def list_messages(
    conversation_id: int,
    after_id: int | None = Query(default=None, description="only messages newer than this one"),
    before_id: int | None = Query(default=None, description="the page of history before this one"),
    limit: int = Query(default=200, ge=1, le=1000),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[MessageOut]:
    """Oldest first; by default the latest ``limit`` messages."""
    async with hub.db.session() as session:
        await inbox.get_conversation(session, conversation_id)
        messages = await inbox.messages_of(session, conversation_id, limit, after_id, before_id)
    return [MessageOut.model_validate(m) for m in messages]


@router.post("/{conversation_id}/messages", response_model=MessageOut, status_code=201)
async def reply(
    conversation_id: int,
    body: ReplyIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> MessageOut:
    buttons = [Button(title=b.title, payload=b.payload, url=b.url) for b in body.buttons]
    message = await actions.reply(
        hub, conversation_id, principal, body.text, buttons, idempotency_key, body.channel_account
    )
    return MessageOut.model_validate(message)


@router.post("/{conversation_id}/messages/{message_id}/retry", response_model=MessageOut)
async def retry(
    conversation_id: int,
    message_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> MessageOut:
    return MessageOut.model_validate(await actions.retry_message(hub, message_id))


@router.get("/{conversation_id}/notes", response_model=list[NoteOut])
async def list_notes(
    conversation_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.NOTES_READ)),
) -> list[NoteOut]:
    async with hub.db.session() as session:
        await inbox.get_conversation(session, conversation_id)
        return [NoteOut.model_validate(n) for n in await inbox.notes_of(session, conversation_id)]


@router.post("/{conversation_id}/notes", response_model=NoteOut, status_code=201)
async def add_note(
    conversation_id: int,
    body: NoteIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.NOTES_WRITE)),
) -> NoteOut:
    return NoteOut.model_validate(await actions.add_note(hub, conversation_id, principal, body.text))


@router.post("/{conversation_id}/assign", response_model=ConversationOut)
async def assign(
    conversation_id: int,
    body: AssignIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    return ConversationOut.model_validate(
        await actions.assign(hub, conversation_id, body.agent_id, body.team_id)
    )


@router.post("/{conversation_id}/status", response_model=ConversationOut)
async def change_status(
    conversation_id: int,
    body: StatusIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    conversation = await actions.set_status(hub, conversation_id, body.status, body.snoozed_until)
    return ConversationOut.model_validate(conversation)


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: int,
    body: ConversationUpdateIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    return ConversationOut.model_validate(
        await actions.update(hub, conversation_id, body.priority, body.labels)
    )
