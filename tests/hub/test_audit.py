"""The audit log: an entry exactly when a change happens (and none when it is refused), and the
admins' query over it: filters, newest first, keyset pages that never skip or repeat an entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from hub import audit
from hub.audit import AuditEntry
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import agent_headers, client_for, drain, token_headers
from tests.fakes.webchat import Visitor


async def customer_writing(hub: Hub, http: httpx.AsyncClient, name: str) -> int:
    visitor = await Visitor.start(http)
    await visitor.say(http, f"hello from {name}", name=name)
    await drain(hub)
    admin = await token_headers(hub, Role.ADMIN)
    found = (await http.get("/api/v1/customers", params={"q": name}, headers=admin)).json()
    return int(found[0]["id"])


async def entries(http: httpx.AsyncClient, headers: dict[str, str], **filters: Any) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/audit", params={"limit": 200, **filters}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


class TestAuditedChanges:
    async def test_merge_undo_and_consent_are_logged_with_ids_only(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            agent, who = await agent_headers(hub, Role.AGENT)
            admin = await token_headers(hub, Role.ADMIN)
            first = await customer_writing(hub, http, "Iryna Shevchenko")
            second = await customer_writing(hub, http, "Iryna S.")

            consent = await http.post(
                f"/api/v1/customers/{first}/consents",
                json={"channel": "sms", "purpose": "marketing", "granted": True, "source": "paper form"},
                headers=agent,
            )
            assert consent.status_code == 200
            await http.post(
                f"/api/v1/customers/{first}/consents",
                json={"channel": "sms", "purpose": "marketing", "granted": False},
                headers=agent,
            )
            merge = (
                await http.post(f"/api/v1/customers/{first}/merge", json={"merged_id": second}, headers=agent)
            ).json()
            assert (
                await http.post(f"/api/v1/customers/merges/{merge['id']}/undo", headers=agent)
            ).status_code == 200

            logged = await entries(http, admin, target_type="customer", target_id=str(first))
            assert [(e["action"], e["details"]) for e in logged] == [
                ("customer.merge_undo", {"merged_id": second, "merge_id": merge["id"]}),
                ("customer.merge", {"merged_id": second, "merge_id": merge["id"]}),
                ("consent.change", {"channel": "sms", "purpose": "marketing", "granted": [True, False]}),
                ("consent.change", {"channel": "sms", "purpose": "marketing", "granted": [None, True]}),
            ]
            assert {e["actor"] for e in logged} == {f"agent {who.agent_id}"}
            assert all("Iryna" not in str(e) for e in logged)

    async def test_refused_changes_leave_no_entry(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            agent, _ = await agent_headers(hub, Role.AGENT)
            admin = await token_headers(hub, Role.ADMIN)
            customer = await customer_writing(hub, http, "Taras")
            refused = [
                await http.post(
                    f"/api/v1/customers/{customer}/merge", json={"merged_id": customer}, headers=agent
                ),
                await http.post(
                    f"/api/v1/customers/{customer}/merge", json={"merged_id": 9999}, headers=agent
                ),
                await http.post("/api/v1/customers/merges/9999/undo", headers=agent),
                await http.post(
                    "/api/v1/customers/9999/consents",
                    json={"channel": "sms", "purpose": "marketing", "granted": True},
                    headers=agent,
                ),
                await http.post("/api/v1/customers/9999/erase", json={"confirm": "9999"}, headers=admin),
                await http.post(
                    f"/api/v1/customers/{customer}/erase", json={"confirm": "someone else"}, headers=admin
                ),
                await http.get("/api/v1/customers/9999/export", headers=admin),
            ]
            assert [r.status_code for r in refused] == [409, 404, 409, 404, 404, 422, 404]
            assert await entries(http, admin) == []


class TestQuery:
    async def _log(self, hub: Hub, rows: list[tuple[str, str, str, datetime]]) -> None:
        async with hub.db.transaction() as session:
            for action, target_type, target_id, at in rows:
                entry = audit.record(session, None, action, target_type, target_id, {"n": target_id})
                entry.at = at

    async def test_filters_and_families(self, hub: Hub) -> None:
        now = datetime.now(UTC)
        await self._log(
            hub,
            [
                ("agent.role", "agent", "1", now - timedelta(days=3)),
                ("agent.deactivate", "agent", "2", now - timedelta(days=2)),
                ("customer.erase", "customer", "7", now - timedelta(days=1)),
                ("token.revoke", "token", "3", now),
            ],
        )
        async with client_for(hub) as http:
            admin, me = await agent_headers(hub, Role.ADMIN)
            await http.post("/api/v1/tokens", json={"name": "x", "role": "agent"}, headers=admin)

            def actions(found: list[dict[str, Any]]) -> list[str]:
                return [e["action"] for e in found]

            assert actions(await entries(http, admin, action="agent.*")) == ["agent.deactivate", "agent.role"]
            assert actions(await entries(http, admin, action="agent.role")) == ["agent.role"]
            assert actions(await entries(http, admin, target_type="customer", target_id="7")) == [
                "customer.erase"
            ]
            assert actions(await entries(http, admin, actor=str(me.agent_id))) == ["token.create"]
            assert actions(await entries(http, admin, actor="system", action="token.*")) == ["token.revoke"]
            window = await entries(
                http,
                admin,
                **{
                    "from": (now - timedelta(days=2, hours=1)).isoformat(),
                    "to": (now - timedelta(hours=1)).isoformat(),
                },
            )
            assert actions(window) == ["customer.erase", "agent.deactivate"]
            listed = (await http.get("/api/v1/audit/actions", headers=admin)).json()
            assert listed == sorted(
                ["agent.deactivate", "agent.role", "customer.erase", "token.create", "token.revoke"]
            )
            naive = await http.get("/api/v1/audit", params={"from": "2026-01-01T10:00:00"}, headers=admin)
            assert naive.status_code == 422 and "from" in naive.json()["error"]["message"]

    async def test_keyset_pages_neither_skip_nor_repeat(self, hub: Hub) -> None:
        start = datetime.now(UTC) - timedelta(hours=1)
        # Two entries share each timestamp: the id breaks the tie, so the order is total.
        await self._log(
            hub, [("agent.role", "agent", str(i), start + timedelta(minutes=i // 2)) for i in range(7)]
        )
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            seen: list[str] = []
            cursor = None
            pages = 0
            while True:
                params: dict[str, Any] = {"limit": 3, "action": "agent.role"}
                if cursor is not None:
                    params["cursor"] = cursor
                page = (await http.get("/api/v1/audit", params=params, headers=admin)).json()
                seen += [e["target_id"] for e in page["entries"]]
                pages += 1
                if pages == 1:
                    # Written while paging: newer than every page, so it shows on none of the next ones.
                    await self._log(hub, [("agent.role", "agent", "late", datetime.now(UTC))])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert pages == 3
            assert seen == ["6", "5", "4", "3", "2", "1", "0"]

    async def test_entries_are_stored_in_the_callers_transaction(self, hub: Hub) -> None:
        try:
            async with hub.db.transaction() as session:
                audit.record(session, None, "team.create", "team", 1, {"name": "x"})
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
        async with hub.db.session() as session:
            assert (await session.get(AuditEntry, 1)) is None
