"""Creating and checking API tokens and agent sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from hub.auth.models import AgentSession, ApiToken
from hub.auth.passwords import hash_password, verify_password
from inbox.models import Agent, Role

TOKEN_PREFIX = "oh_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent (by login session or as themselves) or an API token."""

    role: Role
    name: str
    agent_id: int | None = None
    token_id: int | None = None
    last_used_at: datetime | None = None

    @property
    def label(self) -> str:
        return (
            f"agent {self.agent_id}" if self.agent_id is not None else f"token {self.token_id} ({self.name})"
        )


class AgentExists(ValueError):
    pass


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_agent(
    session: AsyncSession, *, email: str, name: str, role: Role, password: str, locale: str = "en"
) -> Agent:
    email = email.strip().lower()
    if (await session.execute(select(Agent.id).where(Agent.email == email))).first() is not None:
        raise AgentExists(f"an agent with email {email} already exists")
    agent = Agent(email=email, name=name, role=role, password_hash=hash_password(password), locale=locale)
    session.add(agent)
    await session.flush()
    return agent


async def create_token(
    session: AsyncSession, *, name: str, role: Role, created_by: str
) -> tuple[ApiToken, str]:
    """A new API token; the secret is returned once and only its hash is stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role, token_hash=_digest(secret), created_by=created_by)
    session.add(token)
    await session.flush()
    return token, secret


async def principal_for_token(session: AsyncSession, secret: str) -> Principal | None:
    token = (
        (await session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(secret))))
        .scalars()
        .first()
    )
    if token is None or token.revoked_at is not None:
        return None
    return Principal(role=token.role, name=token.name, token_id=token.id, last_used_at=token.last_used_at)


# How stale ApiToken.last_used_at may get: recording every request would make each API call a write.
LAST_USED_RESOLUTION = timedelta(hours=1)


async def note_token_use(session: AsyncSession, principal: Principal) -> None:
    """Record that a token is in use, at most once per LAST_USED_RESOLUTION (admins spot dead tokens)."""
    if principal.token_id is None:
        return
    now = utcnow()
    if principal.last_used_at is not None and now - principal.last_used_at < LAST_USED_RESOLUTION:
        return
    await session.execute(update(ApiToken).where(ApiToken.id == principal.token_id).values(last_used_at=now))


async def login(session: AsyncSession, email: str, password: str, days: int) -> tuple[Agent, str] | None:
    """A new session secret for valid credentials, None otherwise (same answer for unknown email
    and wrong password)."""
    agent = (
        (await session.execute(select(Agent).where(Agent.email == email.strip().lower()))).scalars().first()
    )
    if agent is None or not agent.active:
        # Spend the same time as a real check so response times don't reveal which emails exist.
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(agent.password_hash, password):
        return None
    secret = secrets.token_urlsafe(32)
    session.add(
        AgentSession(
            agent_id=agent.id, token_hash=_digest(secret), expires_at=utcnow() + timedelta(days=days)
        )
    )  # type: ignore[arg-type]
    await session.flush()
    return agent, secret


async def principal_for_session(session: AsyncSession, secret: str) -> tuple[Principal, Agent] | None:
    row = (
        await session.execute(
            select(AgentSession, Agent)
            .join(Agent, Agent.id == AgentSession.agent_id)
            .where(AgentSession.token_hash == _digest(secret))
        )
    ).first()
    if row is None:
        return None
    agent_session, agent = row
    if agent_session.expires_at <= utcnow() or not agent.active:
        return None
    return Principal(role=agent.role, name=agent.name, agent_id=agent.id), agent


async def logout(session: AsyncSession, secret: str) -> None:
    await session.execute(delete(AgentSession).where(AgentSession.token_hash == _digest(secret)))


_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")
