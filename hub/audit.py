"""The audit log: who changed what. Every change an admin, supervisor or auditor may later ask about
(settings, roles and tokens, merges and their undo, consent changes, GDPR exports and erasures,
campaign launches) records one entry in the same transaction as the change itself, so an entry exists
exactly when the change does. Entries are never updated or deleted, erasure included: an erased
customer's entries keep the ids and the action, never the erased personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, utcnow
from hub.auth.credentials import Principal


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at", "id"),
        Index("ix_audit_log_target", "target_type", "target_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Principal.label ("agent 3", "token 7 (crm sync)") or "system" for the hub's own changes.
    actor: str = Field(max_length=200)
    actor_agent_id: int | None = Field(default=None, sa_type=BigId)
    # Dotted verbs a person can read: customer.merge, customer.erase, consent.change, agent.role ...
    action: str = Field(max_length=64)
    target_type: str = Field(max_length=32)
    target_id: str = Field(max_length=64)
    # What changed, e.g. {"role": ["agent", "supervisor"]}; never secrets or erased personal data.
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)


def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    target_type: str,
    target_id: int | str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to ``session`` (the caller's transaction commits it with the change)."""
    entry = AuditEntry(
        actor=principal.label if principal is not None else "system",
        actor_agent_id=principal.agent_id if principal is not None else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details or {},
    )
    session.add(entry)
    return entry
