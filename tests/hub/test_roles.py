"""Role checks on the API: every endpoint names the permission it needs."""

from __future__ import annotations

import httpx

from hub.auth.permissions import ROLE_PERMISSIONS, Permission
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import agent_headers, client_for, drain, token_headers
from tests.fakes.webchat import Visitor


async def a_conversation(hub: Hub, http: httpx.AsyncClient) -> int:
    visitor = await Visitor.start(http)
    await visitor.say(http, "hello")
    await drain(hub)
    admin = await token_headers(hub, Role.ADMIN)
    return (await http.get("/api/v1/conversations", headers=admin)).json()[0]["id"]


class TestRoles:
    async def test_anonymous_calls_are_refused(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            for path in ("/api/v1/customers", "/api/v1/conversations", "/api/v1/auth/me", "/api/v1/live"):
                response = await http.get(path)
                assert response.status_code == 401, path
                assert response.json()["error"]["code"] == "unauthorized"
            bad = await http.get("/api/v1/customers", headers={"Authorization": "Bearer oh_not-a-token"})
            assert bad.status_code == 401 and "unknown or revoked" in bad.json()["error"]["message"]
            basic = await http.get("/api/v1/customers", headers={"Authorization": "Basic abc"})
            assert basic.status_code == 401

    async def test_an_agent_cannot_create_tokens_or_agents(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            headers, _ = await agent_headers(hub, Role.AGENT)
            response = await http.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=headers)
            assert response.status_code == 403
            assert "tokens:manage" in response.json()["error"]["message"]
            agent = {
                "email": "new@example.com",
                "name": "New",
                "role": "admin",
                "password": "long enough password",
            }
            assert (await http.post("/api/v1/agents", json=agent, headers=headers)).status_code == 403

    async def test_an_admin_creates_a_token_that_works(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            created = await http.post(
                "/api/v1/tokens", json={"name": "crm sync", "role": "marketer"}, headers=admin
            )
            assert created.status_code == 201
            token = created.json()["token"]
            me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["role"] == "marketer"

    async def test_a_marketer_cannot_read_private_notes_or_reply(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            conversation_id = await a_conversation(hub, http)
            agent, _ = await agent_headers(hub, Role.AGENT)
            note = await http.post(
                f"/api/v1/conversations/{conversation_id}/notes", json={"text": "VIP, be nice"}, headers=agent
            )
            assert note.status_code == 201
            assert [
                n["text"]
                for n in (
                    await http.get(f"/api/v1/conversations/{conversation_id}/notes", headers=agent)
                ).json()
            ] == ["VIP, be nice"]

            marketer, _ = await agent_headers(hub, Role.MARKETER)
            notes = await http.get(f"/api/v1/conversations/{conversation_id}/notes", headers=marketer)
            assert notes.status_code == 403 and "notes:read" in notes.json()["error"]["message"]
            reply = await http.post(
                f"/api/v1/conversations/{conversation_id}/messages",
                json={"text": "buy now"},
                headers=marketer,
            )
            assert reply.status_code == 403
            # ... but marketers may read customers and conversations, and record business events.
            assert (await http.get("/api/v1/customers", headers=marketer)).status_code == 200
            assert (
                await http.get(f"/api/v1/conversations/{conversation_id}/messages", headers=marketer)
            ).status_code == 200

    async def test_login_logout_and_wrong_password(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            headers, principal = await agent_headers(hub, Role.AGENT, email="ana@example.com")
            me = await http.get("/api/v1/auth/me", headers=headers)
            assert me.status_code == 200 and me.json()["agent_id"] == principal.agent_id
            assert set(me.json()["permissions"]) == {p.value for p in ROLE_PERMISSIONS[Role.AGENT]}
            wrong = await http.post(
                "/api/v1/auth/login", json={"email": "ana@example.com", "password": "nope nope nope"}
            )
            assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "wrong email or password"
            unknown = await http.post(
                "/api/v1/auth/login", json={"email": "who@example.com", "password": "nope nope nope"}
            )
            assert unknown.json() == {
                **unknown.json(),
                "error": {**unknown.json()["error"], "message": "wrong email or password"},
            }
            assert (await http.post("/api/v1/auth/logout", headers=headers)).status_code == 204
            assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 401


def test_every_role_has_a_permission_set() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Permission.NOTES_READ not in ROLE_PERMISSIONS[Role.MARKETER]
    assert Permission.TOKENS_MANAGE not in ROLE_PERMISSIONS[Role.AGENT]


async def test_token_use_is_recorded_at_most_hourly(hub: Hub) -> None:
    from sqlalchemy import select

    from hub.auth.models import ApiToken

    async with client_for(hub) as http:
        headers = await token_headers(hub, Role.AGENT, name="crm sync")
        assert (await http.get("/api/v1/customers", headers=headers)).status_code == 200
        async with hub.db.session() as session:
            first = (await session.execute(select(ApiToken.last_used_at))).scalar_one()
        assert first is not None
        assert (await http.get("/api/v1/customers", headers=headers)).status_code == 200
        async with hub.db.session() as session:
            assert (await session.execute(select(ApiToken.last_used_at))).scalar_one() == first
