"""Segments and campaigns defined in files next to the flows: the shipped examples load as drafts
when a hub with workers starts, and a broken file stops the start with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.campaigns.models import Campaign, CampaignStatus
from hub.definition_files import DefinitionFileError
from hub.runtime import Hub
from tests.conftest import hub_config, settings_for

REPO_FLOWS = Path(__file__).resolve().parents[2] / "flows"


async def test_the_shipped_segments_and_campaigns_load_as_drafts(database_url: str, tmp_path: Path) -> None:
    hub = Hub.build(settings_for(database_url, tmp_path / "var"), hub_config(flows_dir=str(REPO_FLOWS)))
    try:
        await hub.start(workers=False)
        await hub.sync_definition_files()
        await hub.sync_definition_files()  # again: nothing changes, nothing doubles
        async with hub.db.session() as session:
            campaigns = {c.id: c for c in (await session.execute(select(Campaign))).scalars()}
        assert set(campaigns) == {
            "birthday",
            "abandoned-cart",
            "win-back",
            "welcome-series",
            "re-engagement",
            "missed-call-follow-up",
        }
        assert all(c.status is CampaignStatus.DRAFT for c in campaigns.values())
        assert campaigns["birthday"].source == "file:campaigns/examples.yaml"
        assert hub.campaigns is not None
        async with hub.db.session() as session:
            definition = await hub.campaigns.definition(session, "win-back")
            welcome = await hub.campaigns.definition(session, "welcome-series")
        assert [name for name, _ in welcome.messages()] == ["welcome", "tips", "nudge", "first-order"]
        assert [v.id for v in definition.variants] == ["discount", "free-shipping"]
        assert definition.schedule.cron == "0 11 * * MON"
    finally:
        await hub.stop()


BROKEN = """\
campaigns:
  - id: oops
    name: Oops
    audience: nobody
    channels: [viber, pigeon]
    content:
      default: "Hi"
"""


async def test_a_broken_campaign_file_names_file_and_line(database_url: str, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    (flows / "campaigns").mkdir(parents=True)
    path = flows / "campaigns" / "broken.yaml"
    path.write_text(BROKEN)
    hub = Hub.build(settings_for(database_url, tmp_path / "var"), hub_config(flows_dir=str(flows)))
    try:
        await hub.start(workers=False)
        with pytest.raises(DefinitionFileError) as caught:
            await hub.sync_definition_files()
        problems = caught.value.problems
        assert (
            f"{path}:4: campaign 'oops': audience: no segment 'nobody' (segments: none saved yet)" in problems
        )
        assert any(
            p.startswith(f"{path}:5: campaign 'oops': channels[1]: 'pigeon' is not one of") for p in problems
        )
        async with hub.db.session() as session:
            assert (await session.execute(select(Campaign))).first() is None
    finally:
        await hub.stop()
