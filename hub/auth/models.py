"""Credentials: API tokens and agent login sessions. Only hashes of the secrets are stored."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, UTCDateTime, enum_column, utcnow
from inbox.models import Role


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_column(Role))
    # sha256 of the token: tokens are long random strings, so a fast hash is enough to look them up.
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AgentSession(SQLModel, table=True):
    __tablename__ = "agent_sessions"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    agent_id: int = Field(foreign_key="agents.id", sa_type=BigId, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
