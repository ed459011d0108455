"""Setting up inbox data through the real actions (identity -> customer -> threaded conversation ->
message), without going through a channel: the inbox tests are about what happens after that."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.customers import resolve_identity
from crm_core.models import IdentityKind
from hub.auth.credentials import create_agent
from inbox import conversations as inbox
from inbox.models import Agent, Conversation, Message, Role, Team

_ids = itertools.count(1)

KIND_OF = {"webchat": IdentityKind.WEBCHAT, "sms": IdentityKind.PHONE, "whatsapp": IdentityKind.PHONE}


async def customer_writes(
    session: AsyncSession,
    name: str,
    text: str,
    *,
    address: str | None = None,
    channel: str = "webchat",
    account: str = "site",
    at: datetime | None = None,
) -> tuple[Conversation, Message]:
    """A message from the customer with this address (created on first contact), threaded as the
    pipeline threads it."""
    at = at or utcnow()
    address = address or f"visitor-{next(_ids)}"
    resolved = await resolve_identity(
        session, KIND_OF[channel], address, verified=True, source="test", display_name=name
    )
    threaded = await inbox.thread_inbound(session, resolved.customer, account, channel, at)
    message = await inbox.add_inbound_message(
        session,
        threaded.conversation,
        channel_account=account,
        channel_type=channel,
        address=address,
        text=text,
        at=at,
    )
    return threaded.conversation, message


async def new_agent(
    session: AsyncSession, name: str, role: Role = Role.AGENT, team: str | None = None
) -> Agent:
    agent = await create_agent(
        session,
        email=f"{name.lower().replace(' ', '.')}-{next(_ids)}@example.com",
        name=name,
        role=role,
        password="correct horse battery",
    )
    if team is not None:
        found = Team(name=f"{team}-{next(_ids)}")
        session.add(found)
        await session.flush()
        agent.team_id = found.id
        session.add(agent)
    return agent


def ago(**delta: float) -> datetime:
    return utcnow() - timedelta(**delta)
