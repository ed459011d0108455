"""SLA policies on SQLite and PostgreSQL, through the real pipeline and actions: due times with and
without business hours, which policy applies, the clocks stopping and restarting, the "SLA at risk"
list filter, at-risk and breached alerts raised once each (also with two watchers at once), and a
flow triggered by ``sla.breached`` that apologises and escalates."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bots.flows import Handoff
from crm_core.columns import utcnow
from crm_core.models import CustomerEvent
from hub.actions import conversations as actions
from hub.actions import sla as sla_actions
from hub.auth.credentials import Principal, create_token
from hub.flows import hand_to_people
from hub.routing import settle
from hub.runtime import Hub
from hub.sla_watch import raise_due_alerts
from inbox.business_time import parse_hours
from inbox.listing import ConversationFilter, list_conversations
from inbox.models import Conversation, ConversationStatus, Priority, Role, Team
from inbox.sla_models import SlaAlertKind, SlaPolicy, SlaTarget
from tests.conftest import client_for, drain, hub_config, settings_for
from tests.fakes.webchat import Visitor
from tests.inbox.builders import new_agent

ADMIN = Principal(role=Role.ADMIN, name="Test admin", agent_id=None, token_id=1)

SLA_FLOW = """
id: sla_escalation
version: 1
triggers:
  - event: sla.breached
start: check
steps:
  check:
    branch:
      - if: var.event.target == "first_response"
        then: sorry
    else: done
  sorry:
    say: "Sorry for the wait, {{ name }}: a person will be with you in a moment."
    next: escalate
  escalate:
    handoff: supervisors
    summary: "First response missed ({{ var.event.policy }})."
  done:
    end: true
"""

Hubs = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def hubs(database_url: str, tmp_path: Path) -> AsyncIterator[Hubs]:
    """Hubs on the test database: by default without bot flows and with ``default_team: support``
    (every conversation is people's from its first message); ``flows`` gives a flows folder."""
    started: list[Hub] = []

    async def factory(flows: str | None = None) -> Hub:
        if flows is None:
            config = hub_config(default_team="support")
        else:
            folder = tmp_path / f"flows-{len(started)}"
            folder.mkdir()
            (folder / "flow.yaml").write_text(textwrap.dedent(flows).lstrip(), encoding="utf-8")
            config = hub_config(flows_dir=str(folder))
        hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
        await hub.start(workers=False)
        started.append(hub)
        return hub

    yield factory
    for hub in started:
        await hub.stop()


@pytest.fixture
async def hub(hubs: Hubs) -> Hub:
    return await hubs()


async def policy(hub: Hub, **fields: Any) -> int:
    created = await sla_actions.create_policy(hub, {"name": "Standard", **fields}, ADMIN)
    assert created.id is not None
    return created.id


async def customer_writes(
    hub: Hub, text: str = "Hello?", visitor: Visitor | None = None, name: str = "Ana"
) -> tuple[Visitor, Conversation]:
    async with client_for(hub) as http:
        visitor = visitor or await Visitor.start(http)
        response = await visitor.say(http, text, name=name)
        assert response.status_code == 200, response.text
        await drain(hub)
    async with hub.db.session() as session:
        statement = select(Conversation).order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        return visitor, (await session.execute(statement.limit(1))).scalars().one()


async def reload(hub: Hub, conversation_id: int) -> Conversation:
    async with hub.db.session() as session:
        found = await session.get(Conversation, conversation_id)
        assert found is not None
        return found


async def started_at(hub: Hub, conversation_id: int, moment: datetime) -> Conversation:
    """Move the conversation's clocks back to ``moment`` (as if people took it then and the customer
    wrote then), and let the hub recompute it."""
    async with hub.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.sla_started_at = moment
        conversation.waiting_since = moment
        await settle(session, conversation)
    return await reload(hub, conversation_id)


async def agent(hub: Hub) -> Principal:
    async with hub.db.transaction() as session:
        person = await new_agent(session, "Ben")
    return Principal(role=Role.AGENT, name=person.name, agent_id=person.id)


class TestDueTimes:
    async def test_a_new_conversation_gets_the_policys_due_times(self, hub: Hub) -> None:
        await policy(hub, first_response_minutes=30, resolution_minutes=240, at_risk_percent=50)
        _, conversation = await customer_writes(hub)
        assert conversation.bot_active is False and conversation.team_id is not None
        start = conversation.sla_started_at
        assert start is not None and start == conversation.waiting_since
        assert conversation.first_response_due_at == start + timedelta(minutes=30)
        assert conversation.resolution_due_at == start + timedelta(minutes=240)
        assert conversation.next_response_due_at is None
        assert conversation.sla_at_risk_at == start + timedelta(minutes=15)

    async def test_first_reply_then_the_customer_writes_again(self, hub: Hub) -> None:
        await policy(hub, first_response_minutes=30, next_response_minutes=10, resolution_minutes=240)
        visitor, conversation = await customer_writes(hub)
        start = conversation.sla_started_at
        await actions.reply(hub, conversation.id or 0, await agent(hub), "Hi! Looking into it.")
        answered = await reload(hub, conversation.id or 0)
        assert answered.first_response_due_at is None and answered.next_response_due_at is None
        assert answered.resolution_due_at == start + timedelta(minutes=240)  # type: ignore[operator]
        _, again = await customer_writes(hub, "Any news?", visitor)
        assert again.id == conversation.id
        assert again.next_response_due_at == again.waiting_since + timedelta(minutes=10)  # type: ignore[operator]
        assert again.resolution_due_at == start + timedelta(minutes=240)  # type: ignore[operator]

    async def test_business_hours_count_only_open_time_and_follow_a_change(self, hub: Hub) -> None:
        weekdays = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
        await sla_actions.save_business_hours(
            hub, parse_hours({"timezone": "UTC", "weekly": weekdays, "holidays": ["2026-03-09"]}), ADMIN
        )
        await policy(hub, first_response_minutes=60, business_hours=True)
        await policy(hub, name="Around the clock", first_response_minutes=60, channel_type="webchat")
        _, conversation = await customer_writes(hub)
        friday_evening = datetime(2026, 3, 6, 17, 30, tzinfo=UTC)
        # The webchat policy is more specific: it counts every minute.
        moved = await started_at(hub, conversation.id or 0, friday_evening)
        assert moved.first_response_due_at == datetime(2026, 3, 6, 18, 30, tzinfo=UTC)
        policies = {p.name: p for p in await _policies(hub)}
        await sla_actions.update_policy(hub, policies["Around the clock"].id or 0, {"enabled": False}, ADMIN)
        # Business time: 30 minutes on Friday, Monday is a holiday, 30 minutes on Tuesday.
        assert (await reload(hub, conversation.id or 0)).first_response_due_at == datetime(
            2026, 3, 10, 9, 30, tzinfo=UTC
        )
        # Open on Saturday morning too: the due time moves as soon as the hours are saved.
        await sla_actions.save_business_hours(
            hub, parse_hours({"timezone": "UTC", "weekly": {**weekdays, "sat": ["10:00-12:00"]}}), ADMIN
        )
        assert (await reload(hub, conversation.id or 0)).first_response_due_at == datetime(
            2026, 3, 7, 10, 30, tzinfo=UTC
        )

    async def test_the_most_specific_policy_applies_and_follows_the_priority(self, hub: Hub) -> None:
        general = await policy(hub, first_response_minutes=60)
        urgent = await policy(hub, name="Urgent", priority="urgent", first_response_minutes=5)
        await policy(
            hub,
            name="Disabled",
            priority="urgent",
            channel_type="webchat",
            first_response_minutes=1,
            enabled=False,
        )
        _, conversation = await customer_writes(hub)
        assert conversation.sla_policy_id == general
        updated = await actions.update(hub, conversation.id or 0, Priority.URGENT, None)
        assert updated.sla_policy_id == urgent
        assert updated.first_response_due_at == updated.sla_started_at + timedelta(minutes=5)  # type: ignore[operator]
        await sla_actions.delete_policy(hub, urgent, ADMIN)
        assert (await reload(hub, conversation.id or 0)).sla_policy_id == general

    async def test_no_policy_no_due_times(self, hub: Hub) -> None:
        _, conversation = await customer_writes(hub)
        assert conversation.sla_started_at is not None
        assert (
            conversation.first_response_due_at,
            conversation.sla_policy_id,
            conversation.sla_at_risk_at,
        ) == (None, None, None)

    async def test_resolving_stops_the_clocks_and_reopening_restarts_them(self, hub: Hub) -> None:
        await policy(hub, resolution_minutes=60)
        _, conversation = await customer_writes(hub)
        old = await started_at(hub, conversation.id or 0, utcnow() - timedelta(hours=3))
        assert old.resolution_due_at is not None and old.resolution_due_at < utcnow()
        resolved = await actions.set_status(hub, conversation.id or 0, ConversationStatus.RESOLVED, None)
        assert (resolved.sla_started_at, resolved.resolution_due_at, resolved.sla_at_risk_at) == (
            None,
            None,
            None,
        )
        reopened = await actions.set_status(hub, conversation.id or 0, ConversationStatus.OPEN, None)
        assert reopened.sla_started_at is not None and reopened.sla_started_at > old.sla_started_at  # type: ignore[operator]
        assert reopened.resolution_due_at == reopened.sla_started_at + timedelta(minutes=60)

    async def test_the_bot_holds_no_clock(self, hubs: Hubs) -> None:
        hub = await hubs(flows=SLA_FLOW)
        await policy(hub, first_response_minutes=10)
        _, conversation = await customer_writes(hub)
        assert conversation.bot_active and conversation.sla_started_at is None
        assert conversation.first_response_due_at is None


async def _policies(hub: Hub) -> list[SlaPolicy]:
    async with hub.db.session() as session:
        return list((await session.execute(select(SlaPolicy))).scalars())


class TestAtRiskList:
    async def test_at_risk_or_breached_open_conversations_only(self, hub: Hub) -> None:
        await policy(hub, first_response_minutes=30, at_risk_percent=50)
        now = utcnow()
        names = ("breached", "at risk", "fine", "resolved", "snoozed")
        ids = {}
        for name, minutes in zip(names, (40, 20, 5, 40, 40), strict=True):
            _, conversation = await customer_writes(hub, name=name)
            await started_at(hub, conversation.id or 0, now - timedelta(minutes=minutes))
            ids[name] = conversation.id or 0
        await actions.set_status(hub, ids["resolved"], ConversationStatus.RESOLVED, None)
        await actions.set_status(hub, ids["snoozed"], ConversationStatus.SNOOZED, now + timedelta(hours=1))
        async with hub.db.session() as session:
            found = await list_conversations(session, ConversationFilter(sla_at_risk_at=utcnow()))
        assert sorted(c.id for c in found) == sorted([ids["breached"], ids["at risk"]])
        async with client_for(hub) as http:
            headers = {"Authorization": f"Bearer {await _token(hub)}"}
            listed = (
                await http.get("/api/v1/conversations", params={"sla_at_risk": "true"}, headers=headers)
            ).json()
            counts = (await http.get("/api/v1/conversations/counts", headers=headers)).json()
        assert sorted(c["id"] for c in listed) == sorted([ids["breached"], ids["at risk"]])
        row = next(c for c in listed if c["id"] == ids["at risk"])
        assert row["first_response_due_at"] is not None and row["sla_at_risk_at"] is not None
        assert counts["sla_at_risk"] == 2


async def _token(hub: Hub) -> str:
    async with hub.db.transaction() as session:
        _, secret = await create_token(session, name="t", role=Role.AGENT, created_by="test")
    return secret


async def timeline_kinds(hub: Hub, customer_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with hub.db.session() as session:
        rows = await session.execute(
            select(CustomerEvent.kind, CustomerEvent.payload)
            .where(CustomerEvent.customer_id == customer_id, CustomerEvent.kind.like("sla.%"))  # type: ignore[attr-defined]
            .order_by(CustomerEvent.id)
        )
        return [(kind, dict(payload)) for kind, payload in rows.all()]


class TestAlerts:
    async def test_at_risk_and_breached_are_raised_once_each(self, hub: Hub) -> None:
        policy_id = await policy(hub, name="Chat", first_response_minutes=10, at_risk_percent=50)
        _, conversation = await customer_writes(hub)
        start = conversation.sla_started_at
        assert start is not None
        assert await raise_due_alerts(hub, start + timedelta(minutes=4)) == []
        with hub.bus.subscribe("inbox") as subscription:
            raised = await raise_due_alerts(hub, start + timedelta(minutes=6))
            heard = [dict(e.payload) for e in [await subscription.get(0.5)] if e is not None]
        assert [(a.target, a.kind) for a in raised] == [(SlaTarget.FIRST_RESPONSE, SlaAlertKind.AT_RISK)]
        assert {"type": "conversation.updated", "conversation_id": conversation.id} in heard
        assert await raise_due_alerts(hub, start + timedelta(minutes=7)) == []
        raised = await raise_due_alerts(hub, start + timedelta(minutes=11))
        assert [(a.target, a.kind) for a in raised] == [(SlaTarget.FIRST_RESPONSE, SlaAlertKind.BREACHED)]
        assert await raise_due_alerts(hub, start + timedelta(minutes=30)) == []
        # A refresh (the customer writes again) does not raise anything twice.
        async with hub.db.transaction() as session:
            found = await session.get(Conversation, conversation.id)
            assert found is not None
            await settle(session, found)
        assert await raise_due_alerts(hub, start + timedelta(minutes=31)) == []
        events = await timeline_kinds(hub, conversation.customer_id)
        due = (start + timedelta(minutes=10)).isoformat()
        assert events == [
            (
                "sla.at_risk",
                {
                    "conversation_id": conversation.id,
                    "target": "first_response",
                    "due_at": due,
                    "policy_id": policy_id,
                    "policy": "Chat",
                },
            ),
            (
                "sla.breached",
                {
                    "conversation_id": conversation.id,
                    "target": "first_response",
                    "due_at": due,
                    "policy_id": policy_id,
                    "policy": "Chat",
                },
            ),
        ]
        assert (await reload(hub, conversation.id or 0)).sla_check_at is None

    async def test_late_watchers_raise_both_and_each_new_wait_alerts_again(self, hub: Hub) -> None:
        await policy(hub, first_response_minutes=10, next_response_minutes=10)
        visitor, conversation = await customer_writes(hub)
        start = conversation.sla_started_at
        assert start is not None
        raised = await raise_due_alerts(hub, start + timedelta(hours=1))
        assert [a.kind for a in raised] == [SlaAlertKind.AT_RISK, SlaAlertKind.BREACHED]
        await actions.reply(hub, conversation.id or 0, await agent(hub), "Sorry! Here now.")
        _, again = await customer_writes(hub, "Thanks, one more thing", visitor)
        assert again.next_response_due_at is not None
        raised = await raise_due_alerts(hub, again.next_response_due_at + timedelta(minutes=1))
        assert [(a.target, a.kind) for a in raised] == [
            (SlaTarget.NEXT_RESPONSE, SlaAlertKind.AT_RISK),
            (SlaTarget.NEXT_RESPONSE, SlaAlertKind.BREACHED),
        ]

    async def test_snoozed_conversations_wait_until_they_wake(self, hub: Hub) -> None:
        await policy(hub, first_response_minutes=10)
        _, conversation = await customer_writes(hub)
        start = conversation.sla_started_at
        assert start is not None
        await actions.set_status(
            hub, conversation.id or 0, ConversationStatus.SNOOZED, utcnow() + timedelta(hours=1)
        )
        assert await raise_due_alerts(hub, start + timedelta(hours=2)) == []
        await actions.set_status(hub, conversation.id or 0, ConversationStatus.OPEN, None)
        assert len(await raise_due_alerts(hub, start + timedelta(hours=2))) == 2

    async def test_two_watchers_at_once_raise_each_alert_once(self, hubs: Hubs) -> None:
        first, second = await hubs(), await hubs()
        await policy(first, first_response_minutes=10)
        conversations = [(await customer_writes(first, name=f"C{n}"))[1] for n in range(4)]
        later = max(c.sla_started_at for c in conversations if c.sla_started_at) + timedelta(hours=1)
        for _ in range(3):
            await asyncio.gather(raise_due_alerts(first, later), raise_due_alerts(second, later))
        for conversation in conversations:
            kinds = [kind for kind, _ in await timeline_kinds(first, conversation.customer_id)]
            assert kinds == ["sla.at_risk", "sla.breached"]

    async def test_a_flow_on_sla_breached_apologises_and_escalates(self, hubs: Hubs) -> None:
        hub = await hubs(flows=SLA_FLOW)
        await policy(hub, name="Chat", first_response_minutes=10)
        visitor, conversation = await customer_writes(hub, name="Maria")
        async with hub.db.transaction() as session:
            session.add(Team(name="support"))
        async with hub.db.transaction() as session:
            handoff = Handoff(team="support", summary="wants a person", flow_id="support")
            await hand_to_people(session, conversation.id or 0, handoff)
        taken = await reload(hub, conversation.id or 0)
        assert taken.bot_active is False and taken.first_response_due_at is not None
        raised = await raise_due_alerts(hub, taken.first_response_due_at + timedelta(minutes=1))
        assert [a.kind for a in raised] == [SlaAlertKind.AT_RISK, SlaAlertKind.BREACHED]
        await drain(hub)
        async with client_for(hub) as http:
            texts = [m["text"] for m in await visitor.history(http) if m["direction"] == "outbound"]
        assert texts == ["Sorry for the wait, Maria: a person will be with you in a moment."]
        escalated = await reload(hub, conversation.id or 0)
        async with hub.db.session() as session:
            team = await session.get(Team, escalated.team_id)
        assert team is not None and team.name == "supervisors"
        assert escalated.bot_active is False
