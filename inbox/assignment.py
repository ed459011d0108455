"""Automatic assignment: round robin among a team's online agents with room, and the team queue.

**Presence.** An agent chooses online, away or offline (``set_presence``). Round robin only gives
conversations to an agent who chose online *and* is seen: an inbox screen of theirs is connected
(the workspace's live stream marks them seen every ``HEARTBEAT_SECONDS``), or they chose online
less than ``PRESENCE_TIMEOUT`` ago. So an agent who signs out, closes the laptop or loses the
connection stops getting conversations within ``PRESENCE_TIMEOUT``, without saying so.

**Capacity.** Each agent takes at most ``capacity`` conversations from round robin: their load is
the open and pending conversations assigned to them (resolved and snoozed ones do not count).
Assigning by hand may go beyond it; round robin then waits until the load is below again.

**Round robin.** A conversation needs a person when it has a team, no assignee, the bot is off and
it is open or pending (``needs_person``). If the team's ``auto_assign`` is on, it goes to the
team's available agent with room who was assigned least recently (never first, then by id);
otherwise — everyone full, away or offline — it waits in the team queue, and the queue is handed
out oldest-waiting first as soon as someone has room (``drain``; the hub calls it when a
conversation is resolved, snoozed or reassigned, an agent comes online, a capacity is raised, and
every few seconds as a safety net).

**Several processes.** Every round robin decision for a team holds the team's row lock (``SELECT
... FOR UPDATE`` on PostgreSQL; SQLite writes one at a time anyway) and counts loads after taking
it, so two processes never both see the last free place. Waiting conversations are taken with
``SKIP LOCKED``: one being changed elsewhere is skipped (that transaction routes it itself), which
also keeps the lock order (conversation, then team) free of deadlocks. Assignments made in a
transaction are noted on the session (``take_assigned``) for the hub to announce after commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from inbox.models import Agent, Conversation, ConversationStatus, Presence, Role, Team

PRESENCE_TIMEOUT = timedelta(seconds=90)
HEARTBEAT_SECONDS = 30.0
DEFAULT_CAPACITY = 5
MAX_CAPACITY = 100
# Statuses that count towards an agent's load and in which a conversation waits for a person.
WORKING = (ConversationStatus.OPEN, ConversationStatus.PENDING)
_ASSIGNED_KEY = "omnihub.auto_assigned"
_NEVER = datetime.min.replace(tzinfo=UTC)


class UnknownAgent(LookupError):
    pass


class UnknownTeam(LookupError):
    pass


# ---- presence --------------------------------------------------------------------------------------


def effective_presence(agent: Agent, now: datetime) -> Presence:
    """What the agent's colleagues see: their choice while seen, offline otherwise."""
    seen = agent.seen_at is not None and agent.seen_at >= now - PRESENCE_TIMEOUT
    if not agent.active or not seen:
        return Presence.OFFLINE
    return agent.presence


def available(agent: Agent, now: datetime) -> bool:
    """Whether round robin may give this agent a conversation (room aside)."""
    return agent.role is not Role.MARKETER and effective_presence(agent, now) is Presence.ONLINE


async def set_presence(session: AsyncSession, agent_id: int, presence: Presence, now: datetime) -> Agent:
    """The agent's choice; choosing counts as being seen."""
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise UnknownAgent(f"agent {agent_id} does not exist")
    agent.presence = presence
    agent.seen_at = now
    session.add(agent)
    return agent


async def mark_seen(session: AsyncSession, agent_id: int, now: datetime) -> Agent | None:
    """An inbox screen of the agent's is connected (the live stream's heartbeat)."""
    agent = await session.get(Agent, agent_id)
    if agent is not None:
        agent.seen_at = now
        session.add(agent)
    return agent


async def set_capacity(session: AsyncSession, agent_id: int, capacity: int) -> tuple[Agent, int]:
    """Change an agent's capacity; returns the agent and the capacity before."""
    if not 0 <= capacity <= MAX_CAPACITY:
        raise ValueError(f"capacity must be between 0 and {MAX_CAPACITY}, got {capacity}")
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise UnknownAgent(f"agent {agent_id} does not exist")
    before = agent.capacity
    agent.capacity = capacity
    session.add(agent)
    return agent, before


# ---- load and queue --------------------------------------------------------------------------------


def needs_person(conversation: Conversation) -> bool:
    return (
        conversation.team_id is not None
        and conversation.assignee_id is None
        and not conversation.bot_active
        and conversation.status in WORKING
    )


async def loads(session: AsyncSession, agent_ids: Iterable[int]) -> dict[int, int]:
    """Open and pending conversations assigned to each agent."""
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    statement = (
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.in_(ids), Conversation.status.in_(WORKING))  # type: ignore[union-attr, attr-defined]
        .group_by(Conversation.assignee_id)
    )
    counted = {agent_id: int(n) for agent_id, n in (await session.execute(statement)).all()}
    return {agent_id: counted.get(agent_id, 0) for agent_id in ids}


def _queue_statement(team_id: int):  # type: ignore[no-untyped-def]
    oldest = func.coalesce(Conversation.waiting_since, Conversation.sla_started_at, Conversation.created_at)
    return (
        select(Conversation)
        .where(
            Conversation.team_id == team_id,
            Conversation.assignee_id.is_(None),  # type: ignore[union-attr]
            Conversation.bot_active.is_(False),  # type: ignore[attr-defined]
            Conversation.status.in_(WORKING),  # type: ignore[attr-defined]
        )
        .order_by(oldest, Conversation.id)
    )


async def queue(session: AsyncSession, team_id: int, limit: int = 100) -> list[Conversation]:
    """The team's waiting conversations, oldest waiting first."""
    return list((await session.execute(_queue_statement(team_id).limit(limit))).scalars())


async def team_members(session: AsyncSession, team_id: int) -> list[Agent]:
    """The team's active agents who handle conversations, in round robin order."""
    statement = select(Agent).where(
        Agent.team_id == team_id,
        Agent.active.is_(True),  # type: ignore[attr-defined]
        Agent.role != Role.MARKETER,
    )
    members = list((await session.execute(statement.execution_options(populate_existing=True))).scalars())
    return sorted(members, key=_round_robin_order)


def _round_robin_order(agent: Agent) -> tuple[datetime, int]:
    """Never assigned first, then least recently assigned, then the older account."""
    return (agent.last_assigned_at or _NEVER, agent.id or 0)


async def teams_waiting(session: AsyncSession) -> list[int]:
    """Teams with auto-assignment on and conversations waiting in their queue."""
    statement = (
        select(Conversation.team_id)
        .join(Team, Team.id == Conversation.team_id)
        .where(
            Team.auto_assign.is_(True),  # type: ignore[attr-defined]
            Conversation.assignee_id.is_(None),  # type: ignore[union-attr]
            Conversation.bot_active.is_(False),  # type: ignore[attr-defined]
            Conversation.status.in_(WORKING),  # type: ignore[attr-defined]
        )
        .distinct()
    )
    return sorted(t for t in (await session.execute(statement)).scalars() if t is not None)


# ---- round robin -------------------------------------------------------------------------------------


async def lock_teams(session: AsyncSession, team_ids: Iterable[int | None]) -> dict[int, Team]:
    """Lock the teams' rows, always in id order (two transactions locking the same teams then
    cannot wait on each other)."""
    locked: dict[int, Team] = {}
    for team_id in sorted({t for t in team_ids if t is not None}):
        statement = select(Team).where(Team.id == team_id).with_for_update()
        team = (await session.execute(statement.execution_options(populate_existing=True))).scalars().first()
        if team is not None:
            locked[team_id] = team
    return locked


class _Round:
    """Round robin within one locked team: who has room, in order, kept up to date as it assigns."""

    def __init__(self, members: Sequence[Agent], load: dict[int, int], now: datetime) -> None:
        self.now = now
        self.stamp = now
        self.load = load
        self.order = [a for a in members if available(a, now) and load.get(a.id or 0, 0) < a.capacity]

    def give(self, session: AsyncSession, conversation: Conversation) -> Agent | None:
        index = next((i for i, a in enumerate(self.order) if self.load[a.id or 0] < a.capacity), None)
        if index is None:
            return None
        agent = self.order[index]
        conversation.assignee_id = agent.id
        conversation.bot_active = False
        # Later assignments of the same round get later stamps, so the order carries over.
        agent.last_assigned_at = self.stamp
        self.stamp += timedelta(microseconds=1)
        self.load[agent.id or 0] += 1
        self.order.append(self.order.pop(index))
        session.add(conversation)
        session.add(agent)
        session.info.setdefault(_ASSIGNED_KEY, []).append((conversation.id, agent.id))
        return agent

    @property
    def has_room(self) -> bool:
        return any(self.load[a.id or 0] < a.capacity for a in self.order)


async def _round(session: AsyncSession, team_id: int, now: datetime) -> _Round:
    members = await team_members(session, team_id)
    return _Round(members, await loads(session, (a.id for a in members if a.id is not None)), now)


async def has_room(session: AsyncSession, team_id: int, now: datetime) -> bool:
    """Whether one of the team's agents could take a conversation now (a read: no lock)."""
    return (await _round(session, team_id, now)).has_room


async def route(session: AsyncSession, conversation: Conversation, now: datetime | None = None) -> int | None:
    """Give a conversation that needs a person to its team's next agent; the agent's id, or None
    when it waits in the queue (or needs nobody, or its team does not auto-assign)."""
    if not needs_person(conversation):
        return None
    now = now or utcnow()
    team = (await lock_teams(session, [conversation.team_id])).get(conversation.team_id or 0)
    if team is None or not team.auto_assign:
        return None
    agent = (await _round(session, team.id or 0, now)).give(session, conversation)
    return agent.id if agent is not None else None


async def drain(
    session: AsyncSession, team_id: int, now: datetime | None = None, limit: int = 200
) -> list[tuple[int, int]]:
    """Hand the team's queue out, oldest waiting first, while its agents have room; the
    (conversation, agent) pairs assigned."""
    now = now or utcnow()
    team = (await lock_teams(session, [team_id])).get(team_id)
    if team is None or not team.auto_assign:
        return []
    round_ = await _round(session, team_id, now)
    assigned: list[tuple[int, int]] = []
    while round_.has_room and len(assigned) < limit:
        statement = _queue_statement(team_id).limit(1).with_for_update(skip_locked=True)
        conversation = (await session.execute(statement)).scalars().first()
        if conversation is None:
            break
        agent = round_.give(session, conversation)
        if agent is None:
            break
        await session.flush()
        assigned.append((conversation.id or 0, agent.id or 0))
    return assigned


def take_assigned(session: AsyncSession) -> list[tuple[int, int]]:
    """The (conversation, agent) pairs round robin assigned in this session's transaction so far,
    forgotten once taken (the hub announces them after commit)."""
    return list(session.info.pop(_ASSIGNED_KEY, []))
