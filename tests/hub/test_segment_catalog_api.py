"""The segment builder's catalog on SQLite and PostgreSQL: declared attributes with the comparisons
their type allows, the tags and event kinds in use, channels, consent purposes, order figures and
the inbox's facts — everything the builder offers, read from the hub instead of written into the
page."""

from __future__ import annotations

from crm_core.customers import record_event, resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import client_for, token_headers


async def test_the_catalog_lists_what_conditions_can_use(hub: Hub) -> None:
    async with hub.db.transaction() as session:
        for i, tags in enumerate((["vip", "newsletter"], ["newsletter"], ["newsletter", "wholesale"])):
            found = await resolve_identity(
                session, IdentityKind.EMAIL, f"c{i}@example.com", verified=True, source="t"
            )
            await set_tags(session, found.customer, tags)
            await record_event(session, found.customer, "order.created", {"amount": 10 * i})
        await record_event(session, found.customer, "cart.abandoned", {})
    admin = await token_headers(hub, Role.ADMIN, name="admin")
    marketer = await token_headers(hub, Role.MARKETER)
    async with client_for(hub) as http:
        for key, kind in (("birthday", "date"), ("city", "text"), ("age", "number")):
            response = await http.put(f"/api/v1/attributes/{key}", json={"type": kind}, headers=admin)
            assert response.status_code == 200, response.text
        response = await http.get("/api/v1/segments/catalog", headers=marketer)
    assert response.status_code == 200, response.text
    catalog = response.json()
    attributes = {a["key"]: (a["type"], a["operators"]) for a in catalog["attributes"]}
    assert list(attributes) == ["age", "birthday", "city"]
    assert "birthday" in attributes["birthday"][1] and "contains" not in attributes["birthday"][1]
    assert attributes["city"] == ("text", ["eq", "ne", "contains", "in", "not_in", "exists"])
    assert "gte" in attributes["age"][1] and "birthday" not in attributes["age"][1]
    assert set(catalog["operators_by_type"]) == {"text", "number", "boolean", "date", "datetime", "any"}
    # Most used first, then by name.
    assert catalog["tags"] == ["newsletter", "vip", "wholesale"]
    assert catalog["events"] == ["cart.abandoned", "order.created"]
    assert catalog["figures"] == ["ltv", "aov", "orders", "days_since_last_order"]
    assert catalog["facts"] == ["open_conversation"]
    assert "email" in catalog["identity_kinds"] and "sms" in catalog["consent_channels"]
    assert catalog["purposes"] == ["marketing", "transactional"]


async def test_the_catalog_is_for_marketers_and_cannot_be_shadowed(hub: Hub) -> None:
    agent = await token_headers(hub, Role.AGENT, name="agent")
    marketer = await token_headers(hub, Role.MARKETER)
    async with client_for(hub) as http:
        assert (await http.get("/api/v1/segments/catalog", headers=agent)).status_code == 403
        response = await http.put(
            "/api/v1/segments/catalog", json={"name": "Catalog", "conditions": []}, headers=marketer
        )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_segment",
        "message": "'catalog' is a reserved name; choose another segment id",
        "request_id": response.headers["x-request-id"],
    }
