"""The admin API: agents, teams and API tokens, channel accounts' health, and who may use any of it.
Real databases on both backends; the only fakes are the providers (tests/fakes)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.runtime import Hub
from inbox.models import Conversation, Role
from tests.conftest import (
    HubFactory,
    agent_headers,
    client_for,
    drain,
    hub_config,
    settings_for,
    token_headers,
)
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI, blocked
from tests.fakes.webchat import Visitor
from tests.hub.channel_helpers import TELEGRAM_SECRET, telegram_says

STATIC = Path(__file__).resolve().parents[2] / "hub" / "web" / "static"
PASSWORD = "long enough password"
API_SECRET = "api-channel-shared-secret-1234"

# Every admin endpoint, with a body that would pass validation: a 403 must come from the role alone.
ADMIN_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/teams", None),
    ("POST", "/api/v1/teams", {"name": "billing"}),
    ("PUT", "/api/v1/teams/1", {"name": "billing"}),
    ("PUT", "/api/v1/teams/1/members", {"agent_ids": []}),
    (
        "POST",
        "/api/v1/agents",
        {"email": "x@example.com", "name": "X", "role": "agent", "password": PASSWORD},
    ),
    ("PATCH", "/api/v1/agents/1", {"role": "admin"}),
    ("GET", "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens", {"name": "sync", "role": "admin"}),
    ("POST", "/api/v1/tokens/1/revoke", None),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/audit/actions", None),
    ("GET", "/api/v1/channel-accounts", None),
    ("GET", "/api/v1/flows", None),
    ("GET", "/api/v1/customers/1/export", None),
    ("POST", "/api/v1/customers/1/erase", {"confirm": "1"}),
]


async def call(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    return await http.request(method, path, headers=headers, json=body)


async def audit_actions(http: httpx.AsyncClient, admin: dict[str, str], **filters: str) -> list[str]:
    page = await http.get("/api/v1/audit", params={"limit": 200, **filters}, headers=admin)
    assert page.status_code == 200, page.text
    return [entry["action"] for entry in page.json()["entries"]]


async def new_agent(
    http: httpx.AsyncClient, admin: dict[str, str], email: str, role: str = "agent", **extra: Any
) -> dict[str, Any]:
    body = {"email": email, "name": email.split("@")[0].title(), "role": role, "password": PASSWORD, **extra}
    response = await http.post("/api/v1/agents", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})


class TestWhoMayAdminister:
    async def test_agents_marketers_and_supervisors_get_403_naming_the_permission(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            for role in (Role.AGENT, Role.MARKETER, Role.SUPERVISOR):
                headers, _ = await agent_headers(hub, role)
                for method, path, body in ADMIN_ENDPOINTS:
                    response = await call(http, method, path, headers, body)
                    assert response.status_code == 403, (role, method, path, response.text)
                    error = response.json()["error"]
                    assert error["code"] == "forbidden"
                    assert re.fullmatch(
                        rf"the {role.value} role may not do this \([a-z]+:[a-z]+\)", error["message"]
                    )

    async def test_nobody_signed_in_gets_401(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            for method, path, body in ADMIN_ENDPOINTS:
                response = await call(http, method, path, {}, body)
                assert response.status_code == 401, (method, path)

    async def test_an_admin_reads_every_list(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, _ = await agent_headers(hub, Role.ADMIN)
            for method, path, _body in ADMIN_ENDPOINTS:
                if method == "GET" and "{" not in path and "/customers/" not in path:
                    assert (await http.get(path, headers=admin)).status_code == 200, path


class TestAgents:
    async def test_invite_with_a_team_then_change_role_team_and_name(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, me = await agent_headers(hub, Role.ADMIN)
            team = (await http.post("/api/v1/teams", json={"name": "Support"}, headers=admin)).json()
            agent = await new_agent(http, admin, "maria@example.com", team_id=team["id"])
            assert (agent["role"], agent["team_id"], agent["active"]) == ("agent", team["id"], True)
            assert (await login(http, "maria@example.com")).status_code == 200

            changed = await http.patch(
                f"/api/v1/agents/{agent['id']}",
                json={"role": "supervisor", "team_id": None, "name": "María López"},
                headers=admin,
            )
            assert changed.status_code == 200, changed.text
            assert (changed.json()["role"], changed.json()["team_id"], changed.json()["name"]) == (
                "supervisor",
                None,
                "María López",
            )
            # Fields left out stay as they are.
            kept = await http.patch(f"/api/v1/agents/{agent['id']}", json={"name": "María"}, headers=admin)
            assert (kept.json()["role"], kept.json()["team_id"]) == ("supervisor", None)

            page = (await http.get("/api/v1/audit", params={"target_type": "agent"}, headers=admin)).json()
            by_action = {e["action"]: e for e in page["entries"]}
            assert by_action["agent.role"]["details"] == {"role": ["agent", "supervisor"]}
            assert by_action["agent.team"]["details"] == {"team_id": [team["id"], None]}
            assert by_action["agent.create"]["details"] == {
                "email": "maria@example.com",
                "role": "agent",
                "team_id": team["id"],
            }
            assert by_action["agent.role"]["actor"] == f"agent {me.agent_id}"
            assert by_action["agent.role"]["actor_name"] == "Test admin"
            assert PASSWORD not in json.dumps(page)

    async def test_bad_input_is_refused_and_leaves_nothing_behind(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, _ = await agent_headers(hub, Role.ADMIN)
            await new_agent(http, admin, "taken@example.com")
            before = await audit_actions(http, admin)
            duplicate = await http.post(
                "/api/v1/agents",
                json={"email": "TAKEN@example.com", "name": "Again", "role": "agent", "password": PASSWORD},
                headers=admin,
            )
            assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "agent_exists"
            no_team = await http.post(
                "/api/v1/agents",
                json={
                    "email": "n@example.com",
                    "name": "N",
                    "role": "agent",
                    "password": PASSWORD,
                    "team_id": 999,
                },
                headers=admin,
            )
            assert no_team.status_code == 422
            assert no_team.json()["error"] == {
                "code": "unknown_team",
                "message": "team 999 does not exist",
                "request_id": no_team.json()["error"]["request_id"],
            }
            assert (await login(http, "n@example.com")).status_code == 401
            role = await http.patch("/api/v1/agents/1", json={"role": "boss"}, headers=admin)
            assert role.status_code == 422 and "role" in role.json()["error"]["message"]
            missing = await http.patch("/api/v1/agents/999", json={"name": "X"}, headers=admin)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "agent_not_found"
            assert await audit_actions(http, admin) == before

    async def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, me = await agent_headers(hub, Role.ADMIN)
            token = await token_headers(hub, Role.ADMIN)
            for body in ({"role": "agent"}, {"active": False}, {"role": "supervisor", "active": False}):
                for headers in (admin, token):
                    refused = await http.patch(f"/api/v1/agents/{me.agent_id}", json=body, headers=headers)
                    assert refused.status_code == 409, refused.text
                    assert refused.json()["error"]["code"] == "last_admin"
                    assert "last active admin" in refused.json()["error"]["message"]
            assert (await http.get("/api/v1/auth/me", headers=admin)).json()["role"] == "admin"
            assert [a for a in await audit_actions(http, admin) if a.startswith("agent.")] == []

            # With a second admin, the first may step down; then the second is the last one.
            other = await new_agent(http, admin, "second@example.com", role="admin")
            assert (
                await http.patch(f"/api/v1/agents/{me.agent_id}", json={"role": "agent"}, headers=token)
            ).status_code == 200
            last = await http.patch(f"/api/v1/agents/{other['id']}", json={"active": False}, headers=token)
            assert last.status_code == 409

    async def test_deactivating_ends_sessions_and_hands_their_conversations_on(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, _ = await agent_headers(hub, Role.ADMIN)
            agent, who = await agent_headers(hub, Role.AGENT, email="leaving@example.com")
            visitor = await Visitor.start(http)
            await visitor.say(http, "hello")
            await drain(hub)
            [conversation] = (await http.get("/api/v1/conversations", headers=admin)).json()
            team = (await http.post("/api/v1/teams", json={"name": "Support"}, headers=admin)).json()
            colleague, other = await agent_headers(hub, Role.AGENT, email="staying@example.com")
            both = {"agent_ids": [who.agent_id, other.agent_id]}
            assert (
                await http.put(f"/api/v1/teams/{team['id']}/members", json=both, headers=admin)
            ).status_code == 200
            assigned = await http.post(
                f"/api/v1/conversations/{conversation['id']}/assign",
                json={"agent_id": who.agent_id, "team_id": team["id"]},
                headers=admin,
            )
            assert assigned.status_code == 200, assigned.text
            online = await http.patch("/api/v1/workspace/me", json={"presence": "online"}, headers=colleague)
            assert online.status_code == 200, online.text
            assert (await http.get("/api/v1/auth/me", headers=agent)).status_code == 200

            off = await http.patch(f"/api/v1/agents/{who.agent_id}", json={"active": False}, headers=admin)
            assert off.status_code == 200 and off.json()["active"] is False
            assert (await http.get("/api/v1/auth/me", headers=agent)).status_code == 401
            assert (
                await http.post(
                    "/api/v1/auth/login",
                    json={"email": "leaving@example.com", "password": "correct horse battery"},
                )
            ).status_code == 401
            # Back in the team's queue, and round robin gave it to the colleague who is online.
            async with hub.db.session() as session:
                released = await session.get(Conversation, conversation["id"])
                assert released is not None
                assert (released.assignee_id, released.team_id) == (other.agent_id, team["id"])
            [entry] = (
                await http.get("/api/v1/audit", params={"action": "agent.deactivate"}, headers=admin)
            ).json()["entries"]
            assert entry["details"] == {"sessions_ended": True, "conversations_released": 1}

            back = await http.patch(f"/api/v1/agents/{who.agent_id}", json={"active": True}, headers=admin)
            assert back.json()["active"] is True
            assert (
                await http.post(
                    "/api/v1/auth/login",
                    json={"email": "leaving@example.com", "password": "correct horse battery"},
                )
            ).status_code == 200
            assert "agent.reactivate" in await audit_actions(http, admin)


class TestTeams:
    async def test_create_rename_and_set_members(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, _ = await agent_headers(hub, Role.ADMIN)
            ana = await new_agent(http, admin, "ana@example.com")
            bo = await new_agent(http, admin, "bo@example.com")
            team = await http.post("/api/v1/teams", json={"name": "Billing"}, headers=admin)
            assert team.status_code == 201 and team.json()["members"] == 0
            team_id = team.json()["id"]
            clash = await http.post("/api/v1/teams", json={"name": "billing"}, headers=admin)
            assert clash.status_code == 409 and clash.json()["error"]["code"] == "team_exists"

            members = await http.put(
                f"/api/v1/teams/{team_id}/members", json={"agent_ids": [ana["id"], bo["id"]]}, headers=admin
            )
            assert members.json() == {
                "id": team_id,
                "name": "Billing",
                "auto_assign": True,
                "agent_ids": sorted([ana["id"], bo["id"]]),
                "members": 2,
            }
            await http.patch(f"/api/v1/agents/{bo['id']}", json={"active": False}, headers=admin)
            fewer = await http.put(
                f"/api/v1/teams/{team_id}/members", json={"agent_ids": [bo["id"]]}, headers=admin
            )
            assert (fewer.json()["agent_ids"], fewer.json()["members"]) == ([bo["id"]], 0)
            agents = {a["id"]: a for a in (await http.get("/api/v1/agents", headers=admin)).json()}
            assert agents[ana["id"]]["team_id"] is None and agents[bo["id"]]["team_id"] == team_id

            unknown = await http.put(
                f"/api/v1/teams/{team_id}/members", json={"agent_ids": [ana["id"], 998, 999]}, headers=admin
            )
            assert (
                unknown.status_code == 422
                and unknown.json()["error"]["message"] == "no agent has the id 998, 999"
            )

            renamed = await http.put(f"/api/v1/teams/{team_id}", json={"name": "Payments"}, headers=admin)
            assert renamed.json()["name"] == "Payments"
            assert (await http.put("/api/v1/teams/999", json={"name": "X"}, headers=admin)).status_code == 404
            listed = (await http.get("/api/v1/teams", headers=admin)).json()
            assert [t["name"] for t in listed] == ["Payments"]

            entries = (await http.get("/api/v1/audit", params={"action": "team.*"}, headers=admin)).json()[
                "entries"
            ]
            assert [(e["action"], e["details"]) for e in entries] == [
                ("team.rename", {"name": ["Billing", "Payments"]}),
                ("team.members", {"added": [], "removed": [ana["id"]]}),
                ("team.members", {"added": sorted([ana["id"], bo["id"]]), "removed": []}),
                ("team.create", {"name": "Billing"}),
            ]

    async def test_a_team_flows_route_to_by_name_keeps_its_name(
        self, database_url: str, tmp_path: Path
    ) -> None:
        hub = Hub.build(settings_for(database_url, tmp_path / "var"), hub_config(teams=["support"]))
        await hub.start(workers=False)
        try:
            async with client_for(hub) as http:
                admin = await token_headers(hub, Role.ADMIN)
                team = (await http.post("/api/v1/teams", json={"name": "support"}, headers=admin)).json()
                refused = await http.put(
                    f"/api/v1/teams/{team['id']}", json={"name": "help desk"}, headers=admin
                )
                assert refused.status_code == 409
                assert refused.json()["error"]["code"] == "team_named_elsewhere"
                assert "hub.yaml teams" in refused.json()["error"]["message"]
                assert (await http.get("/api/v1/teams", headers=admin)).json()[0]["name"] == "support"
        finally:
            await hub.stop()


class TestTokens:
    async def test_listed_without_secrets_and_a_revoked_token_stops_working(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin, _ = await agent_headers(hub, Role.ADMIN)
            created = await http.post(
                "/api/v1/tokens", json={"name": "crm sync", "role": "marketer"}, headers=admin
            )
            assert created.status_code == 201
            token_id, secret = created.json()["id"], created.json()["token"]
            bearer = {"Authorization": f"Bearer {secret}"}
            assert (await http.get("/api/v1/customers", headers=bearer)).status_code == 200

            listed = await http.get("/api/v1/tokens", headers=admin)
            [row] = listed.json()
            assert set(row) == {
                "id",
                "name",
                "role",
                "created_by",
                "created_at",
                "last_used_at",
                "revoked_at",
            }
            assert row["last_used_at"] is not None and row["revoked_at"] is None
            assert secret not in listed.text

            revoked = await http.post(f"/api/v1/tokens/{token_id}/revoke", headers=admin)
            assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
            refused = await http.get("/api/v1/customers", headers=bearer)
            assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
            again = await http.post(f"/api/v1/tokens/{token_id}/revoke", headers=admin)
            assert again.status_code == 409 and again.json()["error"]["code"] == "token_revoked"
            assert (await http.post("/api/v1/tokens/999/revoke", headers=admin)).status_code == 404

            entries = (
                await http.get("/api/v1/audit", params={"target_type": "token"}, headers=admin)
            ).json()["entries"]
            assert [(e["action"], e["target_id"]) for e in entries] == [
                ("token.revoke", str(token_id)),
                ("token.create", str(token_id)),
            ]
            assert secret not in json.dumps(entries)


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


class TestChannelAccounts:
    async def test_webhook_urls_provider_problems_and_what_the_hub_saw(
        self, make_hub: HubFactory, telegram_api: FakeTelegramAPI
    ) -> None:
        hub = await make_hub(
            {
                "site": {"type": "webchat"},
                "app": {
                    "type": "api",
                    "secret": API_SECRET,
                    "callback_url": "https://app.example.com/omnihub",
                },
                "main": {
                    "type": "telegram",
                    "token": TELEGRAM_TOKEN,
                    "webhook_secret": TELEGRAM_SECRET,
                    "api_base": telegram_api.base_url,
                },
            }
        )
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            quick = (await http.get("/api/v1/channel-accounts", headers=admin)).json()
            assert quick["public_url"] == "https://hub.example.com" and quick["checked"] is False
            accounts = {a["name"]: a for a in quick["accounts"]}
            assert accounts["main"]["webhook_url"] == "https://hub.example.com/webhooks/telegram/main"
            assert accounts["app"]["webhook_url"] == "https://hub.example.com/webhooks/api/app"
            assert accounts["site"]["webhook_url"] == "https://hub.example.com/webhooks/webchat/site"
            assert all(a["status"] == "unchecked" and a["problems"] is None for a in accounts.values())
            assert any("hub channels connect main" in advice for advice in accounts["main"]["advice"])
            assert telegram_api.calls == []

            # A Telegram customer writes; the greeting cannot be delivered (they blocked the bot).
            telegram_api.script(blocked())
            assert (await telegram_says(http, "hello", user_id=5151)).status_code == 200
            await drain(hub)

            checked = await http.get("/api/v1/channel-accounts", params={"check": "true"}, headers=admin)
            accounts = {a["name"]: a for a in checked.json()["accounts"]}
            main = accounts["main"]
            assert main["status"] == "problem" and main["problems"]
            assert any("webhook" in problem for problem in main["problems"])
            assert main["events_24h"] == 1 and main["last_event_at"] is not None
            assert main["failures_24h"] == 1
            assert main["last_error"]["direction"] == "outbound"
            assert "blocked" in main["last_error"]["text"]
            assert accounts["site"]["status"] == "ok" and accounts["site"]["events_24h"] == 0
            for secret in (TELEGRAM_TOKEN, TELEGRAM_SECRET, API_SECRET, TELEGRAM_TOKEN.split(":")[1]):
                assert secret not in checked.text


class TestAdminTexts:
    """The admin screens speak English and Spanish with the same keys and placeholders."""

    def test_both_languages_have_every_key_the_screens_use(self) -> None:
        english = json.loads((STATIC / "admin" / "locales" / "en.json").read_text())
        spanish = json.loads((STATIC / "admin" / "locales" / "es.json").read_text())
        assert set(english) == set(spanish)
        placeholder = re.compile(r"\{(\w+)\}")
        for key, text in english.items():
            assert text.strip() and spanish[key].strip(), key
            assert set(placeholder.findall(text)) == set(placeholder.findall(spanish[key])), key
        shared = json.loads((STATIC / "inbox" / "locales" / "en.json").read_text())
        used: set[str] = set()
        for script in (STATIC / "admin").glob("*.js"):
            used |= set(re.findall(r"\bt\(\s*\"([a-z_.]+)\"", script.read_text()))
        used |= set(re.findall(r'data-i18n(?:-[a-z]+)?="([a-z_.]+)"', (STATIC / "admin.html").read_text()))
        missing = sorted(used - set(english) - set(shared))
        assert not missing, f"keys the admin screens use but no locale file has: {missing}"
