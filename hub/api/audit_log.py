"""/api/v1/audit: the audit log, newest first, filtered and paged (audit:read).

Paging is keyset on the log's own order (time, then id) with the last entry's id as the cursor, so a
page never skips or repeats an entry while new ones are written; each page reads about ``limit``
rows through the (at, id) index whatever the log's size.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.sql import Select

from hub.api.deps import get_hub, require
from hub.audit import AuditEntry
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.runtime import Hub
from inbox.models import Agent

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

AUDIT_READ = Depends(require(Permission.AUDIT_READ))


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_agent_id: int | None
    # The agent's current name, for people reading the log (None for tokens and the system).
    actor_name: str | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    # Pass as ``cursor`` for the next (older) page; None on the last page.
    next_cursor: int | None


def _filtered(
    statement: Select[Any],
    actor: str | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    if actor:
        # An agent by id (what the screen's people picker sends), or the exact label otherwise.
        statement = statement.where(
            AuditEntry.actor_agent_id == int(actor) if actor.isdigit() else AuditEntry.actor == actor
        )
    if action:
        statement = statement.where(
            AuditEntry.action.startswith(action[:-1], autoescape=True)
            if action.endswith(".*")
            else AuditEntry.action == action  # type: ignore[attr-defined]
        )
    if target_type:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id:
        statement = statement.where(AuditEntry.target_id == target_id)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    return statement


@router.get("", response_model=AuditPageOut)
async def audit_entries(
    actor: str | None = Query(
        None, max_length=200, description='an agent id, or a label: "token 7 (crm)", "system"'
    ),
    action: str | None = Query(None, max_length=64, description='"customer.erase", or a family: "agent.*"'),
    target_type: str | None = Query(None, max_length=32, description="customer, agent, team, token, ..."),
    target_id: str | None = Query(None, max_length=64),
    since: AwareDatetime | None = Query(None, alias="from", description="entries at or after this time"),
    until: AwareDatetime | None = Query(None, alias="to", description="entries before this time"),
    cursor: int | None = Query(None, ge=1, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=200),
    hub: Hub = Depends(get_hub),
    _: Principal = AUDIT_READ,
) -> AuditPageOut:
    statement = select(AuditEntry, Agent.name).outerjoin(Agent, Agent.id == AuditEntry.actor_agent_id)
    statement = _filtered(statement, actor, action, target_type, target_id, since, until)
    if cursor is not None:
        reference = select(AuditEntry.at).where(AuditEntry.id == cursor).scalar_subquery()
        statement = statement.where(
            or_(AuditEntry.at < reference, and_(AuditEntry.at == reference, AuditEntry.id < cursor))  # type: ignore[operator]
        )
    statement = statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)  # type: ignore[attr-defined,union-attr]
    async with hub.db.session() as session:
        rows = (await session.execute(statement)).all()
    entries = [
        AuditEntryOut(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            actor_agent_id=entry.actor_agent_id,
            actor_name=name,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            details=entry.details,
        )
        for entry, name in rows[:limit]
    ]
    return AuditPageOut(entries=entries, next_cursor=entries[-1].id if len(rows) > limit else None)


@router.get("/actions", response_model=list[str])
async def audit_actions(hub: Hub = Depends(get_hub), _: Principal = AUDIT_READ) -> list[str]:
    """Every action the log holds (the screen's filter offers these)."""
    async with hub.db.session() as session:
        found = (
            await session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
        ).scalars()
        return list(found)
