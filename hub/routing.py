"""What follows a change to a conversation, inside the transaction that changed it: its SLA due
times are brought up to date (inbox/sla.py), a conversation that needs a person goes to one by
round robin, and agents whose load dropped get the next conversations of their team's queue
(inbox/assignment.py). ``announcements`` gives what to publish after commit.

Every write that changes a conversation calls ``settle``: the agents' actions
(hub/actions/conversations.py), bot handoffs (hub/flows.py) and the inbound path, through
``RoutingApplier``, which settles the conversations each inbound event touched. Without bot flows,
hub.yaml's ``default_team`` makes new conversations people's from their first message: the bot is
off (a greeting, if any, is still sent) and they wait in that team's queue or go straight to an
agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contract import CallEvent, InboundMessage, NormalizedEvent
from crm_core.columns import utcnow
from hub.accounts import Account
from hub.inbound.apply import EventApplier, inbox_event
from hub.live import LiveEvent
from inbox import assignment, sla
from inbox.models import Agent, Conversation, Team


async def settle(
    session: AsyncSession,
    conversation: Conversation,
    *,
    freed: Iterable[int | None] = (),
    now: datetime | None = None,
) -> None:
    """After ``conversation`` changed: refresh its SLA due times, route it if it needs a person,
    and hand out the queues of the teams of ``freed`` agents (whose load just dropped: the
    conversation was resolved, snoozed, reassigned or handed back to the bot)."""
    now = now or utcnow()
    await sla.refresh(session, conversation, now)
    freed_ids = sorted({agent_id for agent_id in freed if agent_id is not None})
    freed_teams: list[int] = []
    if freed_ids:
        found = await session.execute(select(Agent.team_id).where(Agent.id.in_(freed_ids)))  # type: ignore[union-attr]
        freed_teams = sorted({team for team in found.scalars() if team is not None})
    # Every team this settles is locked up front, in id order (no two transactions wait on each other).
    routed_team = conversation.team_id if assignment.needs_person(conversation) else None
    await assignment.lock_teams(session, [routed_team, *freed_teams])
    await assignment.route(session, conversation, now)
    for team_id in freed_teams:
        await assignment.drain(session, team_id, now)


def assignment_events(pairs: Iterable[tuple[int, int]]) -> list[LiveEvent]:
    """Round robin's assignments as the manual assign announces them: the conversation changed,
    and its new agent is told."""
    events: list[LiveEvent] = []
    for conversation_id, agent_id in pairs:
        events.append(
            LiveEvent("inbox", {"type": "conversation.updated", "conversation_id": conversation_id})
        )
        events.append(
            LiveEvent(
                "inbox",
                {
                    "type": "conversation.assigned",
                    "conversation_id": conversation_id,
                    "agent_id": agent_id,
                    "by": None,
                },
            )
        )
    return events


def announcements(session: AsyncSession) -> list[LiveEvent]:
    """The live events of the round robin assignments made in this transaction (taken once)."""
    return assignment_events(assignment.take_assigned(session))


async def team_named(session: AsyncSession, name: str) -> Team:
    """The team of this name, created on first use (as a handoff does)."""
    team = (await session.execute(select(Team).where(Team.name == name))).scalars().first()
    if team is None:
        team = Team(name=name)
        session.add(team)
        await session.flush()
    return team


def _snapshot(conversation: Conversation) -> tuple[Any, ...]:
    return (
        conversation.assignee_id,
        conversation.team_id,
        conversation.bot_active,
        conversation.first_response_due_at,
        conversation.next_response_due_at,
        conversation.resolution_due_at,
        conversation.sla_at_risk_at,
    )


class RoutingApplier(EventApplier):
    """The inbound applier, settling every conversation a message or call landed in once the event
    is applied (bots included: a handoff has happened by then). ``direct_team``: see the module
    docstring."""

    def __init__(self, *args: Any, direct_team: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct_team = direct_team

    async def apply(self, session: AsyncSession, account: Account, event: NormalizedEvent) -> list[LiveEvent]:
        events = await super().apply(session, account, event)
        if not isinstance(event, InboundMessage | CallEvent):
            return events
        touched = dict.fromkeys(
            e.payload["conversation_id"]
            for e in events
            if e.topic == "inbox"
            and e.payload.get("type") == "message.created"
            and "conversation_id" in e.payload
        )
        for conversation_id in touched:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                continue
            before = _snapshot(conversation)
            if self.direct_team is not None and conversation.bot_active and conversation.assignee_id is None:
                conversation.bot_active = False
                if conversation.team_id is None:
                    conversation.team_id = (await team_named(session, self.direct_team)).id
                # People's from the customer's first unanswered message, not from this processing.
                conversation.sla_started_at = conversation.waiting_since or conversation.created_at
            await settle(session, conversation)
            if _snapshot(conversation) != before:
                events.append(inbox_event("conversation.updated", conversation=conversation))
        return events + announcements(session)
