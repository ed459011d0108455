"""/api/v1/conversations: the inbox — list (views, filters, search), read, reply, notes, assign,
status and snooze, labels and priority, hand back to the bot, read positions, typing."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from fastapi import APIRouter, Depends, Header, Query
from sqlalchemy import select

from channels.contract import Button
from crm_core.columns import utcnow
from crm_core.models import Customer
from hub.actions import conversations as actions
from hub.api import canned, uploads, workspace
from hub.api.deps import get_hub, require
from hub.api.schemas import (
    AssignIn,
    ConversationCountsOut,
    ConversationListItem,
    ConversationOut,
    ConversationUpdateIn,
    LabelCountOut,
    MessageOut,
    NoteIn,
    NoteOut,
    ReadIn,
    ReadOut,
    ReplyIn,
    ReplyOptionOut,
    StatusIn,
    TypingIn,
)
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub
from inbox import conversations as inbox
from inbox import listing
from inbox.listing import DEFAULT_AT_RISK_MINUTES, MAX_SEARCH_LENGTH, ConversationFilter, InvalidFilter
from inbox.models import Agent, ConversationStatus, Priority
from inbox.reads import unread_conversations_assigned, unread_counts

conversations_router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


class View(StrEnum):
    ALL = "all"
    MINE = "mine"
    UNASSIGNED = "unassigned"
    TEAM = "team"


async def _team_of(hub: Hub, principal: Principal) -> int | None:
    if principal.agent_id is None:
        return None
    async with hub.db.session() as session:
        agent = await session.get(Agent, principal.agent_id)
    return agent.team_id if agent is not None else None


def _at_risk_since(minutes: int) -> datetime:
    return utcnow() - timedelta(minutes=minutes)


@conversations_router.get("", response_model=list[ConversationListItem])
async def list_conversations(
    view: View = Query(default=View.ALL, description="mine, unassigned, team (the caller's) or all"),
    status: ConversationStatus | None = Query(default=None, description="any status when absent"),
    assignee_id: int | None = Query(default=None, description="an agent id"),
    assignee: str | None = Query(
        default=None, pattern="^(me|none)$", description="'me' or 'none' (unassigned); same as view"
    ),
    channel: str | None = Query(default=None, description="channel type, e.g. webchat"),
    account: str | None = Query(default=None, description="channel account name"),
    label: str | None = Query(default=None, max_length=64),
    priority: Priority | None = None,
    at_risk: bool = Query(default=False, description="waiting for a person longer than waiting_minutes"),
    sla_at_risk: bool = Query(
        default=False, description="an SLA policy's target at risk or breached (open or pending)"
    ),
    waiting_minutes: int = Query(default=DEFAULT_AT_RISK_MINUTES, ge=1, le=7 * 24 * 60),
    q: str | None = Query(
        default=None, max_length=MAX_SEARCH_LENGTH, description="customer name or address, or message text"
    ),
    team_id: int | None = None,
    customer_id: int | None = None,
    before_id: int | None = Query(default=None, description="the last conversation of the previous page"),
    limit: int = Query(default=50, ge=1, le=200),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[ConversationListItem]:
    """Most recently active first, keyset-paged with ``before_id``; each row carries the customer's
    name, the last message, and the caller's unread count."""
    if assignee == "me":
        view = View.MINE
    elif assignee == "none":
        view = View.UNASSIGNED
    if view is View.MINE and principal.agent_id is None:
        raise ApiError(422, "invalid_filter", "view=mine needs a signed-in agent; API tokens have no inbox")
    if view is View.TEAM:
        team_id = await _team_of(hub, principal)
        if team_id is None:
            raise ApiError(422, "invalid_filter", "view=team: you belong to no team")
    filters = ConversationFilter(
        status=status,
        assignee_id=principal.agent_id if view is View.MINE else assignee_id,
        unassigned=view is View.UNASSIGNED,
        channel_type=channel,
        channel_account=account,
        team_id=team_id,
        customer_id=customer_id,
        label=label,
        priority=priority,
        waiting_since_before=_at_risk_since(waiting_minutes) if at_risk else None,
        sla_at_risk_at=utcnow() if sla_at_risk else None,
        search=q,
    )
    async with hub.db.session() as session:
        try:
            conversations = await listing.list_conversations(session, filters, limit, before_id)
        except InvalidFilter as exc:
            raise ApiError(422, "invalid_filter", str(exc)) from None
        ids = [c.id for c in conversations if c.id is not None]
        names = dict(
            (
                await session.execute(
                    select(Customer.id, Customer.display_name).where(
                        Customer.id.in_({c.customer_id for c in conversations})
                    )
                )
            ).all()
        )
        last = await listing.last_messages(session, ids)
        unread = await unread_counts(session, principal.agent_id, ids) if principal.agent_id else {}
        matches = await listing.matching_messages(session, ids, q) if q else {}
    items = []
    for c in conversations:
        message = last.get(c.id)  # type: ignore[arg-type]
        items.append(
            ConversationListItem.model_validate(
                {
                    **ConversationOut.model_validate(c).model_dump(),
                    "customer_name": names.get(c.customer_id) or f"Customer {c.customer_id}",
                    "last_message_text": (message.text[:200] or None) if message else None,
                    "last_message_author": message.author_kind if message else None,
                    "unread_count": unread.get(c.id, 0),  # type: ignore[arg-type]
                    "match_text": (matches.get(c.id) or "")[:200] or None,  # type: ignore[arg-type]
                }
            )
        )
    return items


@conversations_router.get("/counts", response_model=ConversationCountsOut)
async def counts(
    waiting_minutes: int = Query(default=DEFAULT_AT_RISK_MINUTES, ge=1, le=7 * 24 * 60),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> ConversationCountsOut:
    """Open conversations per view (the numbers beside the list's tabs)."""
    team_id = await _team_of(hub, principal)
    open_ = ConversationStatus.OPEN
    async with hub.db.session() as session:
        count = partial(listing.count_conversations, session)
        mine = (
            await count(ConversationFilter(status=open_, assignee_id=principal.agent_id))
            if principal.agent_id
            else 0
        )
        return ConversationCountsOut(
            mine=mine,
            unassigned=await count(ConversationFilter(status=open_, unassigned=True)),
            team=await count(ConversationFilter(status=open_, team_id=team_id)) if team_id else None,
            all=await count(ConversationFilter(status=open_)),
            at_risk=await count(ConversationFilter(waiting_since_before=_at_risk_since(waiting_minutes))),
            sla_at_risk=await count(ConversationFilter(sla_at_risk_at=utcnow())),
            unread_mine=(
                await unread_conversations_assigned(session, principal.agent_id) if principal.agent_id else 0
            ),
        )


@conversations_router.get("/labels", response_model=list[LabelCountOut])
async def labels(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[LabelCountOut]:
    """Labels in use, most used first (the label filter and the label editor suggest these)."""
    async with hub.db.session() as session:
        return [LabelCountOut(label=label, count=n) for label, n in await listing.labels_in_use(session)]


@conversations_router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> ConversationOut:
    async with hub.db.session() as session:
        return ConversationOut.model_validate(await inbox.get_conversation(session, conversation_id))


@conversations_router.get("/{conversation_id}/messages", response_model=list[MessageOut])
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


@conversations_router.get("/{conversation_id}/history", response_model=list[MessageOut])
async def customer_history(
    conversation_id: int,
    before_id: int = Query(description="the oldest message on screen"),
    limit: int = Query(default=50, ge=1, le=200),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[MessageOut]:
    """Earlier messages of the conversation's customer, from every channel and every conversation
    (resolved ones included), oldest first: what the pane shows above the conversation."""
    async with hub.db.session() as session:
        conversation = await inbox.get_conversation(session, conversation_id)
        messages = await inbox.customer_messages(session, conversation.customer_id, before_id, limit)
    return [MessageOut.model_validate(m) for m in messages]


@conversations_router.post("/{conversation_id}/messages", response_model=MessageOut, status_code=201)
async def reply(
    conversation_id: int,
    body: ReplyIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> MessageOut:
    buttons = [Button(title=b.title, payload=b.payload, url=b.url) for b in body.buttons]
    if not body.text.strip() and not body.attachments:
        raise ApiError(422, "empty_reply", "write a reply or attach a file")
    message = await actions.reply(
        hub,
        conversation_id,
        principal,
        body.text,
        buttons,
        idempotency_key,
        body.channel_account,
        attachments=[a.model_dump() for a in body.attachments],
    )
    return MessageOut.model_validate(message)


@conversations_router.get("/{conversation_id}/reply-options", response_model=list[ReplyOptionOut])
async def reply_options(
    conversation_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> list[ReplyOptionOut]:
    """The channels a reply can go out on: where the customer last wrote first, then every other
    configured account the customer has an address for, with each one's limits."""
    return [
        ReplyOptionOut(
            channel_account=o.channel_account,
            channel_type=o.channel_type,
            address=o.address,
            default=o.default,
            max_text_length=o.max_text_length,
            whatsapp_window_open=o.whatsapp_window.open if o.whatsapp_window else None,
            whatsapp_window_closes_at=o.whatsapp_window.closes_at if o.whatsapp_window else None,
        )
        for o in await actions.reply_options(hub, conversation_id)
    ]


@conversations_router.post("/{conversation_id}/messages/{message_id}/retry", response_model=MessageOut)
async def retry(
    conversation_id: int,
    message_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> MessageOut:
    return MessageOut.model_validate(await actions.retry_message(hub, message_id))


@conversations_router.get("/{conversation_id}/notes", response_model=list[NoteOut])
async def list_notes(
    conversation_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.NOTES_READ)),
) -> list[NoteOut]:
    async with hub.db.session() as session:
        await inbox.get_conversation(session, conversation_id)
        return [NoteOut.model_validate(n) for n in await inbox.notes_of(session, conversation_id)]


@conversations_router.post("/{conversation_id}/notes", response_model=NoteOut, status_code=201)
async def add_note(
    conversation_id: int,
    body: NoteIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.NOTES_WRITE)),
) -> NoteOut:
    note = await actions.add_note(hub, conversation_id, principal, body.text, body.mentions)
    return NoteOut.model_validate(note)


@conversations_router.post("/{conversation_id}/assign", response_model=ConversationOut)
async def assign(
    conversation_id: int,
    body: AssignIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    return ConversationOut.model_validate(
        await actions.assign(hub, conversation_id, body.agent_id, body.team_id, principal)
    )


@conversations_router.post("/{conversation_id}/status", response_model=ConversationOut)
async def change_status(
    conversation_id: int,
    body: StatusIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    conversation = await actions.set_status(hub, conversation_id, body.status, body.snoozed_until)
    return ConversationOut.model_validate(conversation)


@conversations_router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: int,
    body: ConversationUpdateIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    return ConversationOut.model_validate(
        await actions.update(hub, conversation_id, body.priority, body.labels)
    )


@conversations_router.post("/{conversation_id}/bot", response_model=ConversationOut)
async def hand_back_to_bot(
    conversation_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_MANAGE)),
) -> ConversationOut:
    """The bot answers the customer again; the assigned agent lets go."""
    return ConversationOut.model_validate(await actions.hand_back_to_bot(hub, conversation_id))


@conversations_router.post("/{conversation_id}/read", response_model=ReadOut)
async def mark_read(
    conversation_id: int,
    body: ReadIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> ReadOut:
    position = await actions.mark_read(hub, conversation_id, principal, body.message_id)
    return ReadOut(conversation_id=conversation_id, last_read_message_id=position)


@conversations_router.post("/{conversation_id}/typing", status_code=204)
async def typing(
    conversation_id: int,
    body: TypingIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> None:
    """Tell colleagues you are writing here (send it every few seconds while typing)."""
    await actions.typing(hub, conversation_id, principal, body.mode)


# hub/app.py mounts ``router``: the conversations and the rest of the agents' workspace API (canned
# responses, uploads, the workspace's preferences, panel figures and live stream).
router = APIRouter()
for _part in (conversations_router, canned.router, uploads.router, workspace.router):
    router.include_router(_part)
