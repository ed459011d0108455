"""Hot reload of the flows folder: valid edits become active in the running hub, invalid ones never
do (the previous flows stay and the problems are kept and logged), and customers paused in an old
version finish on it. On SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.flows import FlowEngine, load_flows
from hub.flow_reload import FlowReloader, ReloadOutcome
from hub.runtime import Hub
from tests.bots.conftest import Talk, new_customer, texts
from tests.hub.flow_folders import FlowsHub, edit, hubs_with_flows, signup


@pytest.fixture
async def flows_hub(database_url: str, tmp_path: Path) -> AsyncIterator[FlowsHub]:
    async with hubs_with_flows(database_url, tmp_path / "var") as factory:
        yield factory


def reloader_of(hub: Hub) -> FlowReloader:
    assert hub.flow_reloader is not None
    return hub.flow_reloader


class TestInTheHub:
    async def test_a_valid_edit_is_activated_and_paused_customers_finish_on_their_version(
        self, flows_hub: FlowsHub, tmp_path: Path
    ) -> None:
        folder = tmp_path / "flows"
        folder.mkdir()
        signup(folder, 1)
        hub = await flows_hub(folder)
        assert hub.flows is not None
        reloader = reloader_of(hub)
        ana = Talk(hub.db, hub.flows, await new_customer(hub.db, display_name="Ana", locale="en"))
        assert texts(await ana.say("signup")) == ["v1: what is your name?"]

        signup(folder, 2)
        assert await reloader.check() is ReloadOutcome.RELOADED
        assert [f.version for f in hub.flows.flows] == ["2"]
        assert list(reloader.retired) == [("signup", "1")]
        # Ana started on version 1 and finishes on it; Bob starts on version 2.
        assert texts(await ana.say("Ana")) == ["v1: thanks Ana"]
        bob = Talk(hub.db, hub.flows, await new_customer(hub.db, display_name="Bob", locale="en"))
        assert texts(await bob.say("signup")) == ["v2: what is your name?"]
        assert texts(await bob.say("Bob")) == ["v2: thanks Bob"]
        assert await reloader.check() is ReloadOutcome.UNCHANGED

    async def test_an_invalid_edit_is_never_activated_and_its_problems_are_kept_and_logged(
        self, flows_hub: FlowsHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        folder = tmp_path / "flows"
        folder.mkdir()
        path = signup(folder, 1)
        hub = await flows_hub(folder)
        assert hub.flows is not None
        reloader = reloader_of(hub)
        active = hub.flows.flows
        ana = Talk(hub.db, hub.flows, await new_customer(hub.db, display_name="Ana", locale="en"))
        assert texts(await ana.say("signup")) == ["v1: what is your name?"]

        edit(
            path, path.read_text().replace("version: 1", "version: 2").replace("next: thanks", "next: thank")
        )
        with caplog.at_level(logging.WARNING, logger="hub.flow_reload"):
            assert await reloader.check() is ReloadOutcome.REJECTED
        problems = [
            f"{path}:12: step 'ask_name': next goes to 'thank', which does not exist (did you mean 'thanks'?)"
        ]
        assert [str(p) for p in reloader.problems] == problems
        assert [f"flow problem: {problem}" for problem in problems] == caplog.messages[1:]
        assert hub.flows.flows is active  # the previous flows stay, untouched
        assert texts(await ana.say("Ana")) == ["v1: thanks Ana"]
        # Looking again at the same broken files changes nothing and logs nothing new.
        caplog.clear()
        assert await reloader.check() is ReloadOutcome.UNCHANGED
        assert caplog.messages == [] and reloader.problems

        signup(folder, 2)
        assert await reloader.check() is ReloadOutcome.RELOADED
        assert reloader.problems == []
        assert [f.version for f in hub.flows.flows] == ["2"]

    async def test_the_hub_reloads_in_the_background(self, flows_hub: FlowsHub, tmp_path: Path) -> None:
        folder = tmp_path / "flows"
        folder.mkdir()
        signup(folder, 1)
        hub = await flows_hub(folder, interval=0.05)
        assert hub.flows is not None
        signup(folder, 2)
        for _ in range(200):
            if [f.version for f in hub.flows.flows] == ["2"]:
                break
            await asyncio.sleep(0.05)
        assert [f.version for f in hub.flows.flows] == ["2"]
        assert reloader_of(hub).checked_at is not None

    async def test_reloading_can_be_turned_off_and_needs_flows(
        self, flows_hub: FlowsHub, tmp_path: Path
    ) -> None:
        folder = tmp_path / "flows"
        folder.mkdir()
        signup(folder, 1)
        assert (await flows_hub(folder, interval=0)).flow_reloader is None
        empty = tmp_path / "empty"
        empty.mkdir()
        assert (await flows_hub(empty)).flow_reloader is None


def reloader_for(folder: Path, **options: Any) -> FlowReloader:
    return FlowReloader(folder, FlowEngine(load_flows(folder)), **options)


class TestReloader:
    async def test_same_version_edits_are_activated_with_a_warning(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        signup(tmp_path, 1)
        reloader = reloader_for(tmp_path)
        signup(tmp_path, 1, tag="edited")
        with caplog.at_level(logging.INFO, logger="hub.flow_reload"):
            assert await reloader.check() is ReloadOutcome.RELOADED
        flow = reloader.engine.flows.get("signup")
        assert flow is not None
        assert flow.steps["ask_name"].question.plain_variants() == ["edited: what is your name?"]  # type: ignore[attr-defined]
        assert reloader.retired == {}
        assert any("changed but its version is still 1" in m for m in caplog.messages)

    async def test_a_touched_file_reloads_without_a_warning(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = signup(tmp_path, 1)
        reloader = reloader_for(tmp_path)
        edit(path, path.read_text())
        with caplog.at_level(logging.WARNING, logger="hub.flow_reload"):
            assert await reloader.check() is ReloadOutcome.RELOADED
        assert caplog.messages == []

    async def test_removed_and_added_flows(self, tmp_path: Path) -> None:
        path = signup(tmp_path, 1)
        reloader = reloader_for(tmp_path)
        path.unlink()
        edit(tmp_path / "other.yaml", "id: other\nversion: 1\nstart: hi\nsteps:\n  hi: {say: hi}\n")
        assert await reloader.check() is ReloadOutcome.RELOADED
        assert reloader.engine.flows.ids == ["other"]
        assert list(reloader.retired) == [("signup", "1")]
        # The old version coming back is active again, not retired.
        signup(tmp_path, 1)
        assert await reloader.check() is ReloadOutcome.RELOADED
        assert reloader.engine.flows.ids == ["other", "signup"] and reloader.retired == {}

    async def test_a_knowledge_base_in_a_subfolder_counts(self, tmp_path: Path) -> None:
        (tmp_path / "faq").mkdir()
        kb = edit(tmp_path / "faq" / "kb.yaml", "- {id: hours, questions: [opening hours], answer: 9 to 5}\n")
        edit(
            tmp_path / "ask.yaml",
            """
            id: ask
            version: 1
            start: question
            steps:
              question:
                faq: faq/kb.yaml
                fallback: sorry
              sorry:
                say: sorry
            """,
        )
        reloader = reloader_for(tmp_path)
        edit(kb, "- {id: hours, questions: [opening hours]}\n")
        assert await reloader.check() is ReloadOutcome.REJECTED
        assert [p.message for p in reloader.problems] == [
            "the entry needs an answer (a text, or one per language)"
        ]
        edit(kb, "- {id: hours, questions: [opening hours], answer: 10 to 6}\n")
        assert await reloader.check() is ReloadOutcome.RELOADED

    def test_the_interval_must_be_positive(self, tmp_path: Path) -> None:
        signup(tmp_path, 1)
        with pytest.raises(ValueError, match="more than 0 seconds, got 0"):
            reloader_for(tmp_path, interval=0)
