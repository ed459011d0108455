"""Automatic assignment on SQLite and PostgreSQL, through the hub's real actions: round robin among a
team's online agents, capacity, the team queue handed out oldest-waiting first when room frees up,
away and unseen agents skipped, the team switch, live announcements, and concurrent attempts (two
databases' worth of connections at once) that never go beyond an agent's capacity."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bots.flows import Handoff
from crm_core.columns import utcnow
from hub import presence
from hub.actions import conversations as actions
from hub.actions import sla as sla_actions
from hub.auth.credentials import Principal
from hub.db import Database
from hub.flows import hand_to_people
from hub.runtime import Hub
from inbox import assignment
from inbox.models import Agent, Conversation, ConversationStatus, Presence, Role, Team
from tests.inbox.builders import ago, customer_writes, new_agent

ADMIN = Principal(role=Role.ADMIN, name="Test admin", agent_id=None, token_id=1)


async def team_of(hub: Hub, name: str, *people: str, capacity: int = 5) -> tuple[int, list[int]]:
    """A team with these agents in it (in this order), each with ``capacity``."""
    async with hub.db.transaction() as session:
        team = Team(name=name)
        session.add(team)
        await session.flush()
        ids = []
        for person in people:
            agent = await new_agent(session, person)
            agent.team_id = team.id
            agent.capacity = capacity
            session.add(agent)
            await session.flush()
            ids.append(agent.id)
    assert team.id is not None
    return team.id, [i for i in ids if i is not None]


async def online(hub: Hub, *agent_ids: int) -> None:
    for agent_id in agent_ids:
        await presence.set_presence(hub, agent_id, Presence.ONLINE)


async def waiting_customer(hub: Hub, name: str, minutes_ago: float = 1.0) -> int:
    """A customer wrote; the bot is still talking to them."""
    async with hub.db.transaction() as session:
        conversation, _ = await customer_writes(session, name, "I need a person", at=ago(minutes=minutes_ago))
        assert conversation.id is not None
        return conversation.id


async def hand_to_team(hub: Hub, conversation_id: int, team: str) -> None:
    """The bot hands the customer to a team, as a flow's handoff step does."""
    async with hub.db.transaction() as session:
        await hand_to_people(
            session, conversation_id, Handoff(team=team, summary="wants a person", flow_id="support")
        )


async def transfer(hub: Hub, conversation_id: int, team_id: int) -> Conversation:
    """An agent moves the conversation to a team, nobody in particular."""
    async with hub.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.bot_active = False
        session.add(conversation)
    return await actions.assign(hub, conversation_id, None, team_id)


async def assignees(hub: Hub, *conversation_ids: int) -> list[int | None]:
    async with hub.db.session() as session:
        found = dict(
            (
                await session.execute(
                    select(Conversation.id, Conversation.assignee_id).where(
                        Conversation.id.in_(conversation_ids)
                    )
                )
            ).all()  # type: ignore[union-attr]
        )
    return [found[i] for i in conversation_ids]


class TestRoundRobin:
    async def test_each_online_agent_in_turn_least_recently_assigned_first(self, hub: Hub) -> None:
        team, (ana, ben, cy) = await team_of(hub, "support", "Ana", "Ben", "Cy")
        await online(hub, ana, ben, cy)
        conversations = [await waiting_customer(hub, f"Customer {n}") for n in range(7)]
        for conversation_id in conversations:
            await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, *conversations) == [ana, ben, cy, ana, ben, cy, ana]
        # Handed to people, the bot is off; the team stays.
        async with hub.db.session() as session:
            first = await session.get(Conversation, conversations[0])
            assert first is not None and first.team_id == team and first.bot_active is False

    async def test_a_team_transfer_goes_round_robin_too(self, hub: Hub) -> None:
        team, (ana, ben) = await team_of(hub, "billing", "Ana", "Ben")
        await online(hub, ana, ben)
        first, second = await waiting_customer(hub, "One"), await waiting_customer(hub, "Two")
        assert (await transfer(hub, first, team)).assignee_id == ana
        assert (await transfer(hub, second, team)).assignee_id == ben

    async def test_away_and_unseen_agents_are_skipped(self, hub: Hub) -> None:
        team, (ana, ben, cy) = await team_of(hub, "support", "Ana", "Ben", "Cy")
        await online(hub, ana, ben, cy)
        await presence.set_presence(hub, ana, Presence.AWAY)
        # Cy chose online but no screen of hers has been connected for a while.
        async with hub.db.transaction() as session:
            await session.execute(
                update(Agent).where(Agent.id == cy).values(seen_at=utcnow() - assignment.PRESENCE_TIMEOUT * 2)
            )
        conversations = [await waiting_customer(hub, f"Customer {n}") for n in range(3)]
        for conversation_id in conversations:
            await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, *conversations) == [ben, ben, ben]
        async with hub.db.session() as session:
            agents = {a.id: a for a in await assignment.team_members(session, team)}
            now = utcnow()
            assert assignment.effective_presence(agents[ana], now) is Presence.AWAY
            assert assignment.effective_presence(agents[cy], now) is Presence.OFFLINE
            assert assignment.effective_presence(agents[ben], now) is Presence.ONLINE

    async def test_nobody_online_means_the_queue(self, hub: Hub) -> None:
        await team_of(hub, "support", "Ana")
        conversation_id = await waiting_customer(hub, "Alone")
        await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, conversation_id) == [None]

    async def test_assignments_are_announced_like_a_manual_assign(self, hub: Hub) -> None:
        team, (ana,) = await team_of(hub, "support", "Ana")
        await online(hub, ana)
        conversation_id = await waiting_customer(hub, "Live")
        with hub.bus.subscribe("inbox") as subscription:
            await transfer(hub, conversation_id, team)
            seen = []
            while (event := await subscription.get(wait_seconds=0.5)) is not None:
                seen.append(dict(event.payload))
        assert {
            "type": "conversation.assigned",
            "conversation_id": conversation_id,
            "agent_id": ana,
            "by": None,
        } in seen
        assert {"type": "conversation.updated", "conversation_id": conversation_id} in seen


class TestCapacityAndQueue:
    async def test_full_agents_leave_conversations_waiting_handed_out_oldest_first(self, hub: Hub) -> None:
        _, (ana, ben) = await team_of(hub, "support", "Ana", "Ben", capacity=1)
        await online(hub, ana, ben)
        first, second = await waiting_customer(hub, "First", 40), await waiting_customer(hub, "Second", 30)
        # Waiting longest first: Oldest wrote before Newer, even though Newer is handed over first.
        newer, oldest = await waiting_customer(hub, "Newer", 5), await waiting_customer(hub, "Oldest", 20)
        for conversation_id in (first, second, newer, oldest):
            await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, first, second, newer, oldest) == [ana, ben, None, None]

        # Resolving frees Ana's place: the oldest waiting one goes to her.
        await actions.set_status(hub, first, ConversationStatus.RESOLVED, None)
        assert await assignees(hub, oldest, newer) == [ana, None]
        # Snoozing frees Ben's.
        await actions.set_status(hub, second, ConversationStatus.SNOOZED, utcnow() + timedelta(hours=1))
        assert await assignees(hub, newer) == [ben]

    async def test_reassigning_and_handing_back_to_the_bot_free_a_place(self, hub: Hub) -> None:
        _, (ana,) = await team_of(hub, "support", "Ana", capacity=1)
        _, (zoe,) = await team_of(hub, "sales", "Zoe")
        await online(hub, ana)
        taken, waiting, later = [await waiting_customer(hub, n) for n in ("Taken", "Waiting", "Later")]
        for conversation_id in (taken, waiting, later):
            await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, taken, waiting, later) == [ana, None, None]
        await actions.assign(hub, taken, zoe, None)  # by hand, to someone else
        assert await assignees(hub, waiting, later) == [ana, None]
        await actions.hand_back_to_bot(hub, waiting)
        assert await assignees(hub, later) == [ana]

    async def test_coming_online_and_more_capacity_take_from_the_queue(self, hub: Hub) -> None:
        _, (ana,) = await team_of(hub, "support", "Ana", capacity=1)
        conversations = [await waiting_customer(hub, f"C{n}", 10 - n) for n in range(3)]
        for conversation_id in conversations:
            await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, *conversations) == [None, None, None]
        await online(hub, ana)
        assert await assignees(hub, *conversations) == [ana, None, None]
        agent = await sla_actions.set_capacity(hub, ana, 3, ADMIN)
        assert agent.capacity == 3
        assert await assignees(hub, *conversations) == [ana, ana, ana]

    async def test_the_team_switch(self, hub: Hub) -> None:
        team, (ana,) = await team_of(hub, "support", "Ana")
        await online(hub, ana)
        await sla_actions.set_team_auto_assign(hub, team, False, ADMIN)
        conversation_id = await waiting_customer(hub, "Manual")
        await hand_to_team(hub, conversation_id, "support")
        assert await assignees(hub, conversation_id) == [None]
        await sla_actions.set_team_auto_assign(hub, team, True, ADMIN)
        assert await assignees(hub, conversation_id) == [ana]

    async def test_a_reopened_conversation_without_an_agent_goes_round_robin(self, hub: Hub) -> None:
        _, (ana,) = await team_of(hub, "support", "Ana")
        conversation_id = await waiting_customer(hub, "Again")
        await hand_to_team(hub, conversation_id, "support")
        await actions.set_status(hub, conversation_id, ConversationStatus.RESOLVED, None)
        await online(hub, ana)
        assert await assignees(hub, conversation_id) == [None]  # resolved: nobody's work
        await actions.set_status(hub, conversation_id, ConversationStatus.OPEN, None)
        assert await assignees(hub, conversation_id) == [ana]

    async def test_load_counts_open_and_pending_only(self, hub: Hub) -> None:
        team, (ana,) = await team_of(hub, "support", "Ana")
        await online(hub, ana)
        conversations = [await waiting_customer(hub, f"C{n}") for n in range(3)]
        for conversation_id in conversations:
            await hand_to_team(hub, conversation_id, "support")
        await actions.set_status(hub, conversations[1], ConversationStatus.PENDING, None)
        await actions.set_status(hub, conversations[2], ConversationStatus.RESOLVED, None)
        async with hub.db.session() as session:
            assert await assignment.loads(session, [ana]) == {ana: 2}
            queue = await assignment.queue(session, team)
        assert queue == []


class TestConcurrency:
    async def test_concurrent_attempts_never_go_beyond_capacity(self, hub: Hub, database_url: str) -> None:
        """Two "processes" (each with its own connection pool) hand out one team's queue and route
        its conversations at the same time; each agent ends with exactly their capacity."""
        team, (ana, ben) = await team_of(hub, "support", "Ana", "Ben", capacity=2)
        await sla_actions.set_team_auto_assign(hub, team, False, ADMIN)
        conversations = [await waiting_customer(hub, f"Rush {n}", 30 - n) for n in range(10)]
        for conversation_id in conversations:
            await hand_to_team(hub, conversation_id, "support")
        await online(hub, ana, ben)
        async with hub.db.transaction() as session:
            await session.execute(update(Team).where(Team.id == team).values(auto_assign=True))

        other = Database(database_url)

        async def route(db: Database, conversation_id: int) -> None:
            async with db.transaction() as session:
                conversation = await session.get(Conversation, conversation_id, with_for_update=True)
                assert conversation is not None
                await assignment.route(session, conversation)

        async def drain(db: Database) -> None:
            async with db.transaction() as session:
                await assignment.drain(session, team)

        try:
            attempts = [route(db, c) for db, c in zip([hub.db, other] * 5, conversations, strict=True)]
            attempts += [drain(hub.db), drain(other), drain(hub.db), drain(other)]
            await asyncio.gather(*attempts)
        finally:
            await other.dispose()
        got = await assignees(hub, *conversations)
        assert sorted(a for a in got if a is not None) == sorted([ana, ana, ben, ben])
        async with hub.db.session() as session:
            assert await assignment.loads(session, [ana, ben]) == {ana: 2, ben: 2}


class TestPresenceHeartbeat:
    async def test_a_connected_screen_keeps_its_agent_seen(self, hub: Hub) -> None:
        team, (ana,) = await team_of(hub, "support", "Ana")
        await online(hub, ana)
        long_ago = utcnow() - assignment.PRESENCE_TIMEOUT * 3
        async with hub.db.transaction() as session:
            await session.execute(update(Agent).where(Agent.id == ana).values(seen_at=long_ago))

        async def seen_at() -> object:
            async with hub.db.session() as session:
                return (await session.execute(select(Agent.seen_at).where(Agent.id == ana))).scalar_one()

        with presence.keep_seen(hub, ana, hub.bus.subscribe("inbox")) as subscription:
            assert subscription.topics == ("inbox",)
            for _ in range(100):
                if await seen_at() != long_ago:
                    break
                await asyncio.sleep(0.05)
            async with hub.db.session() as session:
                [member] = await assignment.team_members(session, team)
            assert assignment.effective_presence(member, utcnow()) is Presence.ONLINE
