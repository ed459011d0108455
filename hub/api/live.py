"""GET /api/v1/live: the agent screens' live stream (new messages, status changes, assignments)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.deps import get_hub, require
from hub.api.schemas import ConversationOut, MessageOut, NoteOut
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission, allows
from hub.live import LiveEvent
from hub.runtime import Hub
from hub.sse import sse_frame, sse_response
from inbox.models import Conversation, Message, Note

router = APIRouter(prefix="/api/v1", tags=["live"])


async def record_frames(
    session: AsyncSession, kind: str, payload: Mapping[str, Any], *, can_read_notes: bool
) -> list[str]:
    """The frame of an inbox event about a stored record (a message, a note, a conversation), read
    back as the API shows it; none when it is gone or the caller may not read it. Shared by this
    stream and the workspace's (hub/api/workspace.py)."""
    if kind.startswith("message.") and (message := await session.get(Message, payload.get("message_id"))):
        return [sse_frame(kind, MessageOut.model_validate(message).model_dump(mode="json"))]
    if (
        kind == "note.created"
        and can_read_notes
        and (note := await session.get(Note, payload.get("note_id")))
    ):
        return [sse_frame(kind, NoteOut.model_validate(note).model_dump(mode="json"))]
    if kind == "conversation.updated" and (
        conversation := await session.get(Conversation, payload.get("conversation_id"))
    ):
        return [sse_frame(kind, ConversationOut.model_validate(conversation).model_dump(mode="json"))]
    return []


@router.get("/live", summary="Server-sent events for agent screens")
async def live(
    request: Request,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> StreamingResponse:
    can_read_notes = allows(principal.role, Permission.NOTES_READ)

    async def render(live_event: LiveEvent) -> list[str]:
        kind = live_event.payload.get("type", "")
        if kind == "customer.updated":
            return [sse_frame(kind, {"customer_id": live_event.payload.get("customer_id")})]
        async with hub.db.session() as session:
            return await record_frames(session, kind, live_event.payload, can_read_notes=can_read_notes)

    return sse_response(request, lambda: hub.bus.subscribe("inbox"), render)
