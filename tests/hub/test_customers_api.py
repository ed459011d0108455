"""The customer record over the API: find, read, edit with typed attributes, consent, business
events, merge and undo."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from crm_core.models import CustomerEvent
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import client_for, drain, token_headers
from tests.fakes.webchat import Visitor


async def visitor_customer(
    hub: Hub, http: httpx.AsyncClient, name: str, text: str = "hi"
) -> tuple[Visitor, int]:
    visitor = await Visitor.start(http)
    await visitor.say(http, text, name=name)
    await drain(hub)
    admin = await token_headers(hub, Role.ADMIN)
    found = (await http.get(f"/api/v1/customers?identity=webchat:{visitor.visitor_id}", headers=admin)).json()
    return visitor, found[0]["id"]


class TestCustomers:
    async def test_find_by_name_phone_email_and_identity(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            for identity in ("phone:+380 50 123 4567", "email:Olena.K@Example.com"):
                created = await http.post(
                    "/api/v1/events",
                    json={"kind": "order.created", "identity": identity, "payload": {"amount": 10}},
                    headers=admin,
                )
                assert created.status_code == 201, created.text
            _, named = await visitor_customer(hub, http, "Bohdan Melnyk")

            by_phone = (await http.get("/api/v1/customers?q=38050123", headers=admin)).json()
            assert len(by_phone) == 1
            by_email = (await http.get("/api/v1/customers?q=olena.k@", headers=admin)).json()
            assert len(by_email) == 1 and by_email[0]["id"] != by_phone[0]["id"]
            by_name = (await http.get("/api/v1/customers?q=melnyk", headers=admin)).json()
            assert [c["id"] for c in by_name] == [named]
            exact = (await http.get("/api/v1/customers?identity=phone:+380501234567", headers=admin)).json()
            assert [c["id"] for c in exact] == [by_phone[0]["id"]]
            bad = await http.get("/api/v1/customers?identity=fax:123", headers=admin)
            assert bad.status_code == 422 and "unknown identity kind 'fax'" in bad.json()["error"]["message"]
            missing = await http.get("/api/v1/customers/999999", headers=admin)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "customer_not_found"

    async def test_typed_attributes_are_checked_and_nothing_half_written(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            _, customer_id = await visitor_customer(hub, http, "Olena")
            assert (
                await http.put("/api/v1/attributes/birthday", json={"type": "date"}, headers=admin)
            ).status_code == 200
            assert (
                await http.put("/api/v1/attributes/ltv", json={"type": "number"}, headers=admin)
            ).status_code == 200

            ok = await http.patch(
                f"/api/v1/customers/{customer_id}",
                json={
                    "attributes": {"birthday": "1990-05-17", "ltv": "120.5", "city": "Lviv"},
                    "add_tags": ["vip"],
                    "timezone": "Europe/Kyiv",
                },
                headers=admin,
            )
            assert ok.status_code == 200, ok.text
            assert ok.json()["attributes"] == {"birthday": "1990-05-17", "ltv": 120.5, "city": "Lviv"}
            assert ok.json()["tags"] == ["vip"] and ok.json()["timezone"] == "Europe/Kyiv"

            bad = await http.patch(
                f"/api/v1/customers/{customer_id}",
                json={"display_name": "Changed", "attributes": {"city": "Kyiv", "birthday": "17/05/1990"}},
                headers=admin,
            )
            assert bad.status_code == 422
            assert (
                "birthday" in bad.json()["error"]["message"]
                and "YYYY-MM-DD" in bad.json()["error"]["message"]
            )
            after = (await http.get(f"/api/v1/customers/{customer_id}", headers=admin)).json()
            assert after["attributes"]["city"] == "Lviv"  # nothing of the bad request was written
            assert after["display_name"] == "Olena"
            assert "attributes.changed" in {e["kind"] for e in after["timeline"]}

    async def test_business_event_lands_on_the_timeline(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            marketer = await token_headers(hub, Role.MARKETER)
            _, customer_id = await visitor_customer(hub, http, "Olena")
            response = await http.post(
                "/api/v1/events",
                json={
                    "kind": "cart.abandoned",
                    "customer_id": customer_id,
                    "payload": {"items": 2, "total": 59.9},
                },
                headers=marketer,
            )
            assert response.status_code == 201
            timeline = (await http.get(f"/api/v1/customers/{customer_id}", headers=admin)).json()["timeline"]
            assert timeline[0]["kind"] == "cart.abandoned" and timeline[0]["payload"] == {
                "items": 2,
                "total": 59.9,
            }

            for body, words in (
                ({"kind": "Order Created!", "customer_id": customer_id}, "kind"),
                ({"kind": "order.created"}, "exactly one of customer_id or identity"),
                ({"kind": "order.created", "identity": "phone:+1"}, "phone number"),
                (
                    {"kind": "order.created", "identity": "email:x@y.z", "create_customer": False},
                    "no customer has",
                ),
                (
                    {
                        "kind": "order.created",
                        "customer_id": customer_id,
                        "occurred_at": "2026-01-01T10:00:00",
                    },
                    "timezone",
                ),
            ):
                bad = await http.post("/api/v1/events", json=body, headers=admin)
                assert 400 <= bad.status_code < 500, (body, bad.text)
                assert words in bad.json()["error"]["message"], (body, bad.json())

    async def test_merge_moves_everything_and_undo_puts_it_back(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            visitor_a, a = await visitor_customer(hub, http, "Olena K")
            visitor_b, b = await visitor_customer(hub, http, "", text="it's me again, from my phone")
            await http.post(
                f"/api/v1/customers/{b}/consents",
                json={"channel": "email", "purpose": "marketing", "granted": True},
                headers=admin,
            )
            await http.patch(
                f"/api/v1/customers/{b}",
                json={"attributes": {"city": "Lviv"}, "add_tags": ["mobile"]},
                headers=admin,
            )

            merged = await http.post(f"/api/v1/customers/{a}/merge", json={"merged_id": b}, headers=admin)
            assert merged.status_code == 200, merged.text
            merge_id = merged.json()["id"]
            survivor = (await http.get(f"/api/v1/customers/{a}", headers=admin)).json()
            assert {i["address"] for i in survivor["identities"]} == {
                visitor_a.visitor_id,
                visitor_b.visitor_id,
            }
            assert survivor["attributes"] == {"city": "Lviv"} and survivor["tags"] == ["mobile"]
            assert [(c["channel"], c["granted"]) for c in survivor["consents"]] == [("email", True)]
            conversations = (await http.get(f"/api/v1/conversations?customer_id={a}", headers=admin)).json()
            assert len(conversations) == 2
            assert (await http.get(f"/api/v1/customers/{b}", headers=admin)).json()["merged_into_id"] == a
            # A visitor of the merged record still reaches the survivor.
            await visitor_b.say(http, "hello again")
            await drain(hub)
            assert len((await http.get(f"/api/v1/conversations?customer_id={a}", headers=admin)).json()) == 2

            again = await http.post(f"/api/v1/customers/{a}/merge", json={"merged_id": b}, headers=admin)
            assert again.status_code == 409 and "already merged" in again.json()["error"]["message"]

            undone = await http.post(f"/api/v1/customers/merges/{merge_id}/undo", headers=admin)
            assert undone.status_code == 200 and undone.json()["undone_at"]
            a_after = (await http.get(f"/api/v1/customers/{a}", headers=admin)).json()
            b_after = (await http.get(f"/api/v1/customers/{b}", headers=admin)).json()
            assert [i["address"] for i in a_after["identities"]] == [visitor_a.visitor_id]
            assert [i["address"] for i in b_after["identities"]] == [visitor_b.visitor_id]
            assert a_after["attributes"] == {} and a_after["tags"] == [] and a_after["consents"] == []
            assert b_after["merged_into_id"] is None and b_after["consents"][0]["granted"] is True
            assert len((await http.get(f"/api/v1/conversations?customer_id={b}", headers=admin)).json()) == 1
            assert (
                await http.post(f"/api/v1/customers/merges/{merge_id}/undo", headers=admin)
            ).status_code == 409
        async with hub.db.session() as session:
            kinds = (
                await session.execute(select(CustomerEvent.kind, func.count()).group_by(CustomerEvent.kind))
            ).all()
        assert ("customer.merged", 1) in kinds and ("customer.merge_undone", 1) in kinds
