"""The service-level API on SQLite and PostgreSQL: business hours (seeded from hub.yaml, edited,
reloaded by other processes and used by the flows), SLA policies, team queues and the team switch,
agent capacity and the agent's own presence — with permissions, audit entries and a clear 422
naming the field for every bad input."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.audit import AuditEntry
from hub.runtime import Hub
from inbox.models import Agent, Role, Team
from tests.conftest import client_for, hub_config, settings_for, token_headers
from tests.inbox.builders import customer_writes, new_agent

HOURS = {
    "timezone": "Europe/Kyiv",
    "weekly": {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
}
GREET = """
id: greet
version: 1
triggers:
  - keyword: [hours]
start: answer
steps:
  answer:
    branch:
      - if: business_hours
        then: open
    else: closed
  open:
    say: "We are open."
  closed:
    say: "We are closed."
"""


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    started = Hub.build(settings_for(database_url, tmp_path / "var"), hub_config(business_hours=HOURS))
    await started.start(workers=False)
    yield started
    await started.stop()


@pytest.fixture
async def http(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: httpx.Response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["message"])


async def audit_actions(hub: Hub) -> list[tuple[str, str, dict[str, Any]]]:
    async with hub.db.session() as session:
        rows = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        return [(e.action, e.target_id, e.details) for e in rows]


class TestBusinessHours:
    async def test_seeded_from_hub_yaml_then_edited(self, hub: Hub, http: httpx.AsyncClient) -> None:
        agent = await token_headers(hub, Role.AGENT)
        admin = await token_headers(hub, Role.ADMIN)
        weekdays = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
        assert ok(await http.get("/api/v1/business-hours", headers=agent)) == {
            "timezone": "Europe/Kyiv",
            "weekly": weekdays,
            "holidays": [],
        }
        new = {
            "timezone": "Europe/Madrid",
            "weekly": {"mon": ["09:00-14:00", "16:00-19:00"], "sat": ["10:00-13:00"]},
            "holidays": ["2026-12-25"],
        }
        assert "settings:manage" in problem(
            await http.put("/api/v1/business-hours", json=new, headers=agent), 403
        )
        assert ok(await http.put("/api/v1/business-hours", json=new, headers=admin)) == new
        assert ok(await http.get("/api/v1/business-hours", headers=agent)) == new
        [(_, _, details)] = [a for a in await audit_actions(hub) if a[0] == "business_hours.change"]
        assert details["before"]["timezone"] == "Europe/Kyiv" and details["after"] == new
        # A restart does not bring hub.yaml's hours back: the database's are in force.
        assert hub.hours is not None
        await hub.hours.start()
        assert hub.hours.hours.to_document() == new

    async def test_every_bad_field_is_named(self, hub: Hub, http: httpx.AsyncClient) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        bad = {
            "timezone": "Mars/Olympus",
            "weekly": {"mon": ["18:00-09:00"], "xyz": []},
            "holidays": ["31/12"],
        }
        message = problem(await http.put("/api/v1/business-hours", json=bad, headers=admin))
        assert "timezone: unknown time zone 'Mars/Olympus'" in message
        assert "weekly.mon[0]: '18:00-09:00' is not a span HH:MM-HH:MM" in message
        assert "weekly.xyz: unknown day" in message
        assert "holidays[0]: '31/12' is not a date YYYY-MM-DD" in message
        assert "timezone: required" in problem(
            await http.put("/api/v1/business-hours", json={"weekly": {}}, headers=admin)
        )
        assert "colour" in problem(
            await http.put("/api/v1/business-hours", json={"timezone": "UTC", "colour": 1}, headers=admin)
        )
        # Nothing was half-written.
        assert ok(await http.get("/api/v1/business-hours", headers=admin))["timezone"] == "Europe/Kyiv"

    async def test_the_flows_of_every_process_use_the_stored_hours(
        self, database_url: str, tmp_path: Path
    ) -> None:
        folder = tmp_path / "flows"
        folder.mkdir()
        (folder / "greet.yaml").write_text(textwrap.dedent(GREET).lstrip(), encoding="utf-8")
        config = hub_config(business_hours=HOURS, flows_dir=str(folder))
        first = Hub.build(settings_for(database_url, tmp_path / "one"), config)
        second = Hub.build(settings_for(database_url, tmp_path / "two"), config)
        await first.start(workers=False)
        await second.start(workers=False)
        try:
            assert first.flows is not None and second.flows is not None
            saturday_noon = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)  # 12:00 in Kyiv
            assert first.flows.business_hours is not None and second.flows.business_hours is not None
            assert not second.flows.business_hours(saturday_noon)
            async with client_for(first) as http:
                admin = await token_headers(first, Role.ADMIN)
                weekly = {"sat": ["10:00-14:00"]}
                ok(
                    await http.put(
                        "/api/v1/business-hours",
                        json={"timezone": "Europe/Kyiv", "weekly": weekly},
                        headers=admin,
                    )
                )
            # The saving process uses them at once; another one at its next look.
            assert first.flows.business_hours(saturday_noon)
            assert second.hours is not None and await second.hours.check()
            assert second.flows.business_hours(saturday_noon)
            assert not await second.hours.check()  # unchanged since
        finally:
            await first.stop()
            await second.stop()


POLICY = {
    "name": "Chat",
    "team_id": None,
    "priority": "high",
    "channel_type": "webchat",
    "first_response_minutes": 15,
    "next_response_minutes": 30,
    "resolution_minutes": 480,
    "business_hours": True,
    "at_risk_percent": 75,
    "enabled": True,
}


class TestPolicies:
    async def test_create_read_change_remove(self, hub: Hub, http: httpx.AsyncClient) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        supervisor = await token_headers(hub, Role.SUPERVISOR)
        created = ok(await http.post("/api/v1/sla-policies", json=POLICY, headers=admin), 201)
        assert created == {"id": created["id"], **POLICY}
        minimal = ok(
            await http.post(
                "/api/v1/sla-policies", json={"name": "Any", "resolution_minutes": 60}, headers=admin
            ),
            201,
        )
        assert (minimal["business_hours"], minimal["at_risk_percent"], minimal["enabled"]) == (
            False,
            80,
            True,
        )
        assert [p["name"] for p in ok(await http.get("/api/v1/sla-policies", headers=supervisor))] == [
            "Any",
            "Chat",
        ]
        assert "settings:manage" in problem(
            await http.post("/api/v1/sla-policies", json=POLICY, headers=supervisor), 403
        )

        url = f"/api/v1/sla-policies/{created['id']}"
        changed = ok(
            await http.patch(url, json={"priority": None, "first_response_minutes": 10}, headers=admin)
        )
        assert (changed["priority"], changed["first_response_minutes"], changed["channel_type"]) == (
            None,
            10,
            "webchat",
        )
        assert ok(await http.delete(url, headers=admin), 204) is None
        assert "does not exist" in problem(await http.delete(url, headers=admin), 404)
        assert "does not exist" in problem(await http.patch(url, json={"enabled": False}, headers=admin), 404)

        actions = [(a, t, d) for a, t, d in await audit_actions(hub) if a.startswith("sla_policy.")]
        assert [a for a, _, _ in actions] == [
            "sla_policy.create",
            "sla_policy.create",
            "sla_policy.update",
            "sla_policy.delete",
        ]
        assert actions[2][2] == {"priority": ["high", None], "first_response_minutes": [15, 10]}

    @pytest.mark.parametrize(
        ("body", "named"),
        [
            ({"name": "No target"}, "set at least one of first_response_minutes"),
            ({**POLICY, "team_id": 999}, "team_id: team 999 does not exist"),
            ({**POLICY, "channel_type": "pigeon"}, "channel_type: 'pigeon' is not a channel type"),
            ({**POLICY, "priority": "asap"}, "priority"),
            ({**POLICY, "at_risk_percent": 0}, "at_risk_percent"),
            ({**POLICY, "first_response_minutes": 0}, "first_response_minutes"),
            ({**POLICY, "name": ""}, "name"),
            ({**POLICY, "colour": "red"}, "colour"),
        ],
    )
    async def test_bad_policies_are_refused_naming_the_field(
        self, hub: Hub, http: httpx.AsyncClient, body: dict[str, Any], named: str
    ) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        assert named in problem(await http.post("/api/v1/sla-policies", json=body, headers=admin))
        assert ok(await http.get("/api/v1/sla-policies", headers=admin)) == []

    async def test_a_change_cannot_leave_a_policy_without_target_or_name(
        self, hub: Hub, http: httpx.AsyncClient
    ) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        created = ok(
            await http.post(
                "/api/v1/sla-policies", json={"name": "One", "resolution_minutes": 60}, headers=admin
            ),
            201,
        )
        url = f"/api/v1/sla-policies/{created['id']}"
        assert "at least one" in problem(
            await http.patch(url, json={"resolution_minutes": None}, headers=admin)
        )
        assert "name" in problem(await http.patch(url, json={"name": None}, headers=admin))
        assert "enabled: cannot be null" in problem(
            await http.patch(url, json={"enabled": None}, headers=admin)
        )
        assert ok(await http.get("/api/v1/sla-policies", headers=admin))[0]["resolution_minutes"] == 60

    async def test_conversations_show_their_due_times(self, hub: Hub, http: httpx.AsyncClient) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        async with hub.db.transaction() as session:
            conversation, _ = await customer_writes(session, "Maria", "Hello")
            conversation.bot_active = False
            session.add(conversation)
        assert conversation.id is not None
        ok(
            await http.post(
                f"/api/v1/conversations/{conversation.id}/status", json={"status": "pending"}, headers=admin
            )
        )
        before = ok(await http.get(f"/api/v1/conversations/{conversation.id}", headers=admin))
        assert before["first_response_due_at"] is None
        body = {"name": "Any", "first_response_minutes": 30}
        policy = ok(await http.post("/api/v1/sla-policies", json=body, headers=admin), 201)
        after = ok(await http.get(f"/api/v1/conversations/{conversation.id}", headers=admin))
        assert after["sla_policy_id"] == policy["id"]
        assert after["first_response_due_at"] is not None and after["sla_at_risk_at"] is not None
        listed = ok(await http.get("/api/v1/conversations", params={"status": "pending"}, headers=admin))
        assert listed[0]["first_response_due_at"] == after["first_response_due_at"]


class TestTeamsAndAgents:
    async def test_queue_switch_and_capacity(self, hub: Hub, http: httpx.AsyncClient) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        agent = await token_headers(hub, Role.AGENT)
        async with hub.db.transaction() as session:
            team = Team(name="support")
            session.add(team)
            await session.flush()
            ana = await new_agent(session, "Ana")
            ana.team_id = team.id
            waiting, _ = await customer_writes(session, "Waiting Customer", "Hello?")
            waiting.bot_active = False
            session.add(ana)
        ok(
            await http.post(
                f"/api/v1/conversations/{waiting.id}/assign", json={"team_id": team.id}, headers=admin
            )
        )
        queue = ok(await http.get(f"/api/v1/teams/{team.id}/queue", headers=agent))
        assert queue["name"] == "support" and queue["auto_assign"] is True
        assert [(a["name"], a["presence"], a["load"], a["capacity"]) for a in queue["agents"]] == [
            ("Ana", "offline", 0, 5)
        ]
        assert [(c["id"], c["customer_name"]) for c in queue["waiting"]] == [(waiting.id, "Waiting Customer")]

        assert "settings:manage" in problem(
            await http.patch(f"/api/v1/teams/{team.id}", json={"auto_assign": False}, headers=agent), 403
        )
        assert ok(
            await http.patch(f"/api/v1/teams/{team.id}", json={"auto_assign": False}, headers=admin)
        ) == {
            "id": team.id,
            "name": "support",
            "auto_assign": False,
        }
        assert "does not exist" in problem(
            await http.patch("/api/v1/teams/999", json={"auto_assign": True}, headers=admin), 404
        )
        assert "auto_assign" in problem(
            await http.patch(f"/api/v1/teams/{team.id}", json={"auto_assign": "maybe"}, headers=admin)
        )
        assert "does not exist" in problem(await http.get("/api/v1/teams/999/queue", headers=agent), 404)

        capacity = ok(
            await http.patch(f"/api/v1/agents/{ana.id}/capacity", json={"capacity": 2}, headers=admin)
        )
        assert (capacity["id"], capacity["capacity"], capacity["load"]) == (ana.id, 2, 0)
        assert "capacity" in problem(
            await http.patch(f"/api/v1/agents/{ana.id}/capacity", json={"capacity": 101}, headers=admin)
        )
        assert "capacity" in problem(
            await http.patch(f"/api/v1/agents/{ana.id}/capacity", json={"capacity": -1}, headers=admin)
        )
        assert "does not exist" in problem(
            await http.patch("/api/v1/agents/999/capacity", json={"capacity": 1}, headers=admin), 404
        )
        assert [a for a, _, _ in await audit_actions(hub) if a in ("team.auto_assign", "agent.capacity")] == [
            "team.auto_assign",
            "agent.capacity",
        ]

    async def test_an_agent_sets_their_presence_and_gets_the_queue(
        self, hub: Hub, http: httpx.AsyncClient
    ) -> None:
        admin = await token_headers(hub, Role.ADMIN)
        async with hub.db.transaction() as session:
            team = Team(name="support")
            session.add(team)
            await session.flush()
            ana = await new_agent(session, "Ana")
            ana.team_id = team.id
            session.add(ana)
            waiting, _ = await customer_writes(session, "Waiting Customer", "Hello?")
            waiting.bot_active = False
            session.add(waiting)
        ok(
            await http.post(
                f"/api/v1/conversations/{waiting.id}/assign", json={"team_id": team.id}, headers=admin
            )
        )
        login = await http.post(
            "/api/v1/auth/login", json={"email": ana.email, "password": "correct horse battery"}
        )
        as_ana = {"Cookie": f"hub_session={login.cookies['hub_session']}"}
        http.cookies.clear()
        assert ok(await http.get("/api/v1/workspace/me", headers=as_ana))["presence"] == "offline"
        me = ok(await http.patch("/api/v1/workspace/me", json={"presence": "online"}, headers=as_ana))
        assert (me["presence"], me["capacity"], me["locale"]) == ("online", 5, "en")
        assert (
            ok(await http.get(f"/api/v1/conversations/{waiting.id}", headers=as_ana))["assignee_id"] == ana.id
        )
        me = ok(
            await http.patch(
                "/api/v1/workspace/me", json={"presence": "away", "locale": "es"}, headers=as_ana
            )
        )
        assert (me["presence"], me["locale"]) == ("away", "es")
        assert "presence" in problem(
            await http.patch("/api/v1/workspace/me", json={"presence": "busy"}, headers=as_ana)
        )
        assert "send locale and/or presence" in problem(
            await http.patch("/api/v1/workspace/me", json={}, headers=as_ana)
        )
        async with hub.db.session() as session:
            stored = await session.get(Agent, ana.id)
        assert stored is not None and stored.presence == "away"
