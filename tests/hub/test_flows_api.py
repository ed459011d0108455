"""/api/v1/flows: the flows of the running hub for admins, with the problems of the last reload, the
earlier versions still kept for paused customers, Mermaid text and an SVG picture."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.api.flows import FlowDetailOut, FlowListOut
from hub.flow_reload import ReloadOutcome
from hub.runtime import Hub
from inbox.models import Role
from tests.bots.conftest import Talk, new_customer, texts
from tests.conftest import REPO, agent_headers, client_for, token_headers
from tests.hub.flow_folders import FlowsHub, edit, hubs_with_flows, signup


@pytest.fixture
async def flows_hub(database_url: str, tmp_path: Path) -> AsyncIterator[FlowsHub]:
    async with hubs_with_flows(database_url, tmp_path / "var") as factory:
        yield factory


@pytest.fixture
async def shipped(flows_hub: FlowsHub, tmp_path: Path) -> Hub:
    """A hub running a copy of the shipped flows folder."""
    folder = tmp_path / "flows"
    shutil.copytree(REPO / "flows", folder)
    return await flows_hub(folder)


class TestFlowsApi:
    async def test_the_list_shows_every_active_flow(self, shipped: Hub, tmp_path: Path) -> None:
        async with client_for(shipped) as http:
            response = await http.get("/api/v1/flows", headers=await token_headers(shipped, Role.ADMIN))
        assert response.status_code == 200, response.text
        body = FlowListOut.model_validate(response.json())
        assert [(f.id, f.version, f.active, f.waiting) for f in body.flows] == [
            ("feedback", "1", True, 0),
            ("missed_call", "1", True, 0),
            ("registration", "1", True, 0),
            ("support", "1", True, 0),
        ]
        support = body.flows[3]
        assert support.file == str(tmp_path / "flows" / "support.yaml")
        assert support.description.startswith("Greeting menu")
        assert support.start == "welcome" and support.step_count == 20
        assert [t.kind for t in support.triggers] == [
            "conversation_opened",
            "keyword",
            "intent",
            "start",
            "button",
            "keyword",
        ]
        assert support.triggers[2].step == "person" and support.triggers[2].interrupt
        assert support.triggers[1].patterns == ["menu", "menú"]
        assert body.problems == []
        assert body.reload is not None and body.reload.folder == str(tmp_path / "flows")
        assert body.reload.interval_seconds == 3600.0 and body.reload.loaded_at is not None

    async def test_detail_has_the_steps_and_the_mermaid_text(self, shipped: Hub) -> None:
        async with client_for(shipped) as http:
            response = await http.get(
                "/api/v1/flows/feedback", headers=await token_headers(shipped, Role.ADMIN)
            )
        assert response.status_code == 200, response.text
        detail = FlowDetailOut.model_validate(response.json())
        assert [(s.name, s.kind, s.waits) for s in detail.steps][:2] == [
            ("rate", "ask", True),
            ("comment", "ask", True),
        ]
        assert [(link.via, link.target) for link in detail.steps[0].links] == [
            ("next", "comment"),
            ("on_fail", "no_rating"),
            ("on_timeout", "no_rating"),
        ]
        assert detail.mermaid.startswith("flowchart TD\n")
        assert '  s0("<b>rate</b><br/>ask · waits 3d")' in detail.mermaid

    async def test_the_diagram_is_an_svg_picture(self, shipped: Hub) -> None:
        async with client_for(shipped) as http:
            response = await http.get(
                "/api/v1/flows/support/diagram.svg", headers=await token_headers(shipped, Role.ADMIN)
            )
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        root = ET.fromstring(response.content)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "support · version 1" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]

    async def test_unknown_flows_are_404_in_the_error_shape(self, shipped: Hub) -> None:
        admin = await token_headers(shipped, Role.ADMIN)
        async with client_for(shipped) as http:
            for path in (
                "/api/v1/flows/nope",
                "/api/v1/flows/nope/diagram.svg",
                "/api/v1/flows/support?version=7",
            ):
                response = await http.get(path, headers=admin)
                assert response.status_code == 404, path
                error = response.json()["error"]
                assert error["code"] == "flow_not_found" and error["request_id"]
        assert error["message"] == "there is no flow 'support' version '7'"

    async def test_only_admins(self, shipped: Hub) -> None:
        async with client_for(shipped) as http:
            assert (await http.get("/api/v1/flows")).status_code == 401
            for role in (Role.AGENT, Role.MARKETER, Role.SUPERVISOR):
                headers, _ = await agent_headers(shipped, role)
                for path in ("/api/v1/flows", "/api/v1/flows/support", "/api/v1/flows/support/diagram.svg"):
                    response = await http.get(path, headers=headers)
                    assert response.status_code == 403, (role, path)
                    assert response.json()["error"]["message"] == (
                        f"the {role.value} role may not do this (settings:manage)"
                    )

    async def test_a_hub_without_flows(self, flows_hub: FlowsHub, tmp_path: Path) -> None:
        empty = tmp_path / "empty"
        empty.mkdir()
        hub = await flows_hub(empty)
        async with client_for(hub) as http:
            response = await http.get("/api/v1/flows", headers=await token_headers(hub, Role.ADMIN))
        assert response.json() == {"flows": [], "problems": [], "reload": None}


class TestAfterReloads:
    async def test_problems_of_a_rejected_reload_and_versions_kept_for_paused_customers(
        self, flows_hub: FlowsHub, tmp_path: Path
    ) -> None:
        folder = tmp_path / "flows"
        folder.mkdir()
        path = signup(folder, 1)
        hub = await flows_hub(folder)
        assert hub.flows is not None and hub.flow_reloader is not None
        ana = Talk(hub.db, hub.flows, await new_customer(hub.db, display_name="Ana", locale="en"))
        assert texts(await ana.say("signup")) == ["v1: what is your name?"]
        signup(folder, 2)
        assert await hub.flow_reloader.check() is ReloadOutcome.RELOADED
        edit(path, "id: signup\nversion: 3\nstart: nowhere\nsteps:\n  a: {say: hi}\n")
        assert await hub.flow_reloader.check() is ReloadOutcome.REJECTED

        admin = await token_headers(hub, Role.ADMIN)
        async with client_for(hub) as http:
            listed = FlowListOut.model_validate((await http.get("/api/v1/flows", headers=admin)).json())
            old = await http.get("/api/v1/flows/signup?version=1", headers=admin)
            active = await http.get("/api/v1/flows/signup", headers=admin)
        # Version 2 is active (version 3 was refused); version 1 still runs for Ana.
        assert [(f.id, f.version, f.active, f.waiting) for f in listed.flows] == [
            ("signup", "2", True, 0),
            ("signup", "1", False, 1),
        ]
        assert [p.text for p in listed.problems] == [f"{path}:1: the start step 'nowhere' does not exist"]
        assert listed.problems[0].file == str(path) and listed.problems[0].line == 1
        assert old.status_code == 200 and old.json()["version"] == "1" and old.json()["active"] is False
        assert active.json()["version"] == "2" and active.json()["active"] is True
