"""Actions of an agent on their own account: the language of their inbox."""

from __future__ import annotations

from sqlalchemy import update

from hub.runtime import Hub
from inbox.models import Agent


async def set_locale(hub: Hub, agent_id: int, locale: str) -> None:
    async with hub.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.id == agent_id).values(locale=locale))
