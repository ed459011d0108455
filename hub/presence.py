"""Agent presence in a running hub: the agent's own choice (online / away / offline), and the
heartbeat of their inbox screens that keeps them seen (the rules: inbox/assignment.py).

An agent who comes online gets the waiting conversations of their team at once (as many as their
capacity allows); the live stream of each open inbox screen marks them seen every
``HEARTBEAT_SECONDS`` while it is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from crm_core.columns import utcnow
from hub.routing import assignment_events
from inbox import assignment
from inbox.assignment import HEARTBEAT_SECONDS
from inbox.models import Agent, Presence

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger(__name__)


async def set_presence(hub: Hub, agent_id: int, presence: Presence) -> Agent:
    pairs: list[tuple[int, int]] = []
    async with hub.db.transaction() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise assignment.UnknownAgent(f"agent {agent_id} does not exist")
        # The team first, then the agent: the order every round robin takes its locks in.
        await assignment.lock_teams(session, [agent.team_id])
        agent = await assignment.set_presence(session, agent_id, presence, utcnow())
        if presence is Presence.ONLINE and agent.team_id is not None:
            await session.flush()
            pairs = await assignment.drain(session, agent.team_id)
            assignment.take_assigned(session)
    await hub.bus.publish_all(assignment_events(pairs))
    return agent


async def _heartbeat(hub: Hub, agent_id: int) -> None:
    while True:
        try:
            async with hub.db.transaction() as session:
                await assignment.mark_seen(session, agent_id, utcnow())
        except Exception:
            log.exception("could not mark agent %s as seen", agent_id)
        await asyncio.sleep(HEARTBEAT_SECONDS)


@contextlib.contextmanager
def keep_seen(hub: Hub, agent_id: int | None, subscription: AbstractContextManager[Any]) -> Iterator[Any]:
    """Wrap a live stream's subscription: while it is open, its agent is marked seen."""
    task = asyncio.create_task(_heartbeat(hub, agent_id), name=f"seen-{agent_id}") if agent_id else None
    try:
        with subscription as subscribed:
            yield subscribed
    finally:
        if task is not None:
            task.cancel()
