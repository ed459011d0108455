"""The segments API and segment files: marketers define and preview segments; mistakes are named;
file-defined segments are synced at start and read-only over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.consent import set_consent
from crm_core.customers import record_event, resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.runtime import Hub
from hub.segments import SegmentFileError, read_segment_file, segments_for, sync_segment_files
from inbox.models import Role
from tests.conftest import client_for, drain, hub_config, token_headers
from tests.fakes.webchat import Visitor


async def _customers(hub: Hub) -> list[int]:
    ids = []
    async with hub.db.transaction() as session:
        for i in range(5):
            found = await resolve_identity(
                session, IdentityKind.EMAIL, f"c{i}@example.com", verified=True, source="t"
            )
            if i % 2 == 0:
                await set_tags(session, found.customer, ["vip"])
                await set_consent(session, found.customer.id, "email", "marketing", True, source="t")
            if i == 4:
                await record_event(session, found.customer, "order.created", {"amount": 250})
            ids.append(found.customer.id)
    return ids


async def test_define_preview_and_list(hub: Hub) -> None:
    ids = await _customers(hub)
    marketer = await token_headers(hub, Role.MARKETER)
    body = {
        "name": "VIPs who said yes to email",
        "conditions": [{"tag": "vip"}, {"consent": {"channel": "email", "purpose": "marketing"}}],
    }
    async with client_for(hub) as http:
        unsaved = await http.post("/api/v1/segments/preview?sample=2", json=body, headers=marketer)
        assert unsaved.status_code == 200, unsaved.text
        assert unsaved.json()["count"] == 3
        assert [c["id"] for c in unsaved.json()["sample"]] == [ids[4], ids[2]]

        saved = await http.put("/api/v1/segments/vip-email", json=body, headers=marketer)
        assert saved.status_code == 200, saved.text
        assert saved.json()["source"] == "api" and saved.json()["updated_by"]

        detail = await http.get(f"/api/v1/customers/{ids[2]}", headers=marketer)
        assert detail.json()["segments"] == [{"id": "vip-email", "name": "VIPs who said yes to email"}]
        assert (await http.get(f"/api/v1/customers/{ids[1]}", headers=marketer)).json()["segments"] == []

        body["conditions"].append({"ltv": {"gte": 100}})
        await http.put("/api/v1/segments/vip-email", json=body, headers=marketer)
        preview = await http.get("/api/v1/segments/vip-email/preview", headers=marketer)
        assert preview.json()["count"] == 1

        listed = await http.get("/api/v1/segments", headers=marketer)
        assert [s["id"] for s in listed.json()] == ["vip-email"]
        assert listed.json()[0]["conditions"][-1] == {"ltv": {"gte": 100}}

        assert (await http.delete("/api/v1/segments/vip-email", headers=marketer)).status_code == 204
        gone = await http.get("/api/v1/segments/vip-email", headers=marketer)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


async def test_the_open_conversation_fact_comes_from_the_inbox(hub: Hub) -> None:
    await _customers(hub)
    marketer = await token_headers(hub, Role.MARKETER)
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        await visitor.say(http, "hello")
        await drain(hub)
        body = {"name": "talking", "conditions": [{"open_conversation": True}]}
        response = await http.post("/api/v1/segments/preview", json=body, headers=marketer)
        assert response.json()["count"] == 1
        body["conditions"] = [{"open_conversation": False}]
        assert (await http.post("/api/v1/segments/preview", json=body, headers=marketer)).json()["count"] == 5


async def test_mistakes_and_roles(hub: Hub) -> None:
    marketer = await token_headers(hub, Role.MARKETER)
    agent = await token_headers(hub, Role.AGENT, name="agent")
    async with client_for(hub) as http:
        bad = {"name": "x", "conditions": [{"event": "order created"}, {"channel": "fax"}]}
        response = await http.put("/api/v1/segments/bad", json=bad, headers=marketer)
        assert response.status_code == 422
        message = response.json()["error"]["message"]
        assert "conditions[0]: 'order created' is not an event kind" in message
        assert "conditions[1].channel: 'fax' is not one of" in message
        invalid_id = await http.put(
            "/api/v1/segments/Not%20An%20Id", json={**bad, "conditions": []}, headers=marketer
        )
        assert invalid_id.status_code == 422 and "is not a segment id" in invalid_id.text
        # Nothing half-written.
        assert (await http.get("/api/v1/segments", headers=marketer)).json() == []
        refused = await http.get("/api/v1/segments", headers=agent)
        assert refused.status_code == 403 and "campaigns:manage" in refused.text


SEGMENT_FILE = """\
segments:
  - id: birthday-today
    name: Birthday today
    conditions:
      - attribute: birthday
        birthday: today
  - id: buyers
    name: Buyers
    conditions:
      - event: order.created
"""

BROKEN_FILE = """\
segments:
  - id: fine
    name: Fine
    conditions: []
  - id: broken
    name: Broken
    conditions:
      - tag: vip
      - any:
          - channel: fax
"""


def test_segment_file_problems_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_FILE)
    with pytest.raises(SegmentFileError) as caught:
        read_segment_file(path, segments_for())
    assert caught.value.problems == [
        f"{path}:10: segment 2: conditions[1].any[0].channel: 'fax' is not one of "
        "phone, email, telegram, viber, webchat, api"
    ]
    path.write_text("segments: {not: a list}\n")
    with pytest.raises(SegmentFileError, match="holds `segments:` with a list"):
        read_segment_file(path, segments_for())


async def test_file_segments_are_synced_and_read_only(hub: Hub, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    (flows / "segments").mkdir(parents=True)
    (flows / "segments" / "marketing.yaml").write_text(SEGMENT_FILE)
    config = hub_config(flows_dir=str(flows))
    saved = await sync_segment_files(hub.db, config)
    assert [s.id for s in saved] == ["birthday-today", "buyers"]
    await sync_segment_files(hub.db, config)  # idempotent
    marketer = await token_headers(hub, Role.MARKETER)
    async with client_for(hub) as http:
        listed = (await http.get("/api/v1/segments", headers=marketer)).json()
        assert [(s["id"], s["source"]) for s in listed] == [
            ("birthday-today", "file:segments/marketing.yaml"),
            ("buyers", "file:segments/marketing.yaml"),
        ]
        change = await http.put(
            "/api/v1/segments/buyers", json={"name": "x", "conditions": []}, headers=marketer
        )
        assert change.status_code == 409
        assert "defined in segments/marketing.yaml" in change.json()["error"]["message"]
