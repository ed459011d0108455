"""The ``campaign`` step: it asks the host to enrol the customer, goes on at ``next`` when enrolled
and at ``on_refused`` (with the reason on the timeline) when not, and validation reports a
campaign that the ``campaigns/`` folder next to the flows does not define."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows import FlowEngine, validate
from bots.flows.host import Enrolment, Host
from bots.flows.steps.campaign import campaign_ids
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts, write_flow

FLOW = """
id: club
version: 1
triggers:
  - keyword: join
start: enrol
steps:
  enrol:
    campaign: welcome-series
    next: joined
    on_refused: sorry
  joined:
    say: "You're in!"
  sorry:
    say: "Maybe next time."
"""

CAMPAIGNS = """
campaigns:
  - id: welcome-series
    name: Welcome series
  - id: win-back
    name: We miss you
"""


def with_campaigns(folder: Path) -> Path:
    (folder / "campaigns").mkdir(exist_ok=True)
    (folder / "campaigns" / "journeys.yaml").write_text(CAMPAIGNS, encoding="utf-8")
    return folder


@dataclass
class Enroller:
    """The hub's side of the host, played: it answers with ``answer`` and remembers each request."""

    answer: Enrolment
    asked: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)

    async def __call__(
        self, session: AsyncSession, customer_id: int, campaign_id: str, source: Mapping[str, str]
    ) -> Enrolment:
        self.asked.append((customer_id, campaign_id, dict(source)))
        return self.answer


async def talk(db: Database, folder: Path, host: Host | None) -> Talk:
    flows = flows_from(with_campaigns(folder), FLOW)
    return Talk(db, FlowEngine(flows, clock=Clock(), host=host), await new_customer(db))


class TestEnrolling:
    async def test_an_enrolled_customer_goes_on_at_next(self, db: Database, tmp_path: Path) -> None:
        enroller = Enroller(Enrolment(True))
        talking = await talk(db, tmp_path, Host(enrol=enroller))
        assert texts(await talking.say("join")) == ["You're in!"]
        assert enroller.asked == [(talking.customer_id, "welcome-series", {"flow": "club", "step": "enrol"})]
        assert await talking.events("campaign.not_enrolled") == []

    async def test_a_refusal_goes_to_on_refused_with_the_reason_on_the_timeline(
        self, db: Database, tmp_path: Path
    ) -> None:
        enroller = Enroller(Enrolment(False, "the customer already got the campaign 'welcome-series'"))
        talking = await talk(db, tmp_path, Host(enrol=enroller))
        assert texts(await talking.say("join")) == ["Maybe next time."]
        [refused] = await talking.events("campaign.not_enrolled")
        assert refused.payload == {
            "campaign": "welcome-series",
            "reason": "the customer already got the campaign 'welcome-series'",
            "flow": "club",
            "step": "enrol",
        }

    async def test_without_a_hub_nobody_is_enrolled(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, tmp_path, None)
        assert texts(await talking.say("join")) == ["Maybe next time."]
        [refused] = await talking.events("campaign.not_enrolled")
        assert "not available" in refused.payload["reason"]


class TestValidation:
    def test_an_unknown_campaign_is_reported_with_a_suggestion(self, tmp_path: Path) -> None:
        with_campaigns(tmp_path)
        write_flow(tmp_path, FLOW.replace("campaign: welcome-series", "campaign: welcome-serie"))
        [problem] = validate(tmp_path)
        assert problem.line == 8
        assert problem.message == (
            "step 'enrol': there is no campaign 'welcome-serie' in campaigns/ next to the flows "
            "(did you mean 'welcome-series'?) (campaigns: welcome-series, win-back)"
        )

    def test_without_a_campaigns_folder_every_campaign_is_unknown(self, tmp_path: Path) -> None:
        path = write_flow(tmp_path, FLOW)
        [problem] = validate(path)
        assert "(campaigns: none are defined)" in problem.message

    def test_a_known_campaign_validates_and_a_bad_id_or_setting_is_named(self, tmp_path: Path) -> None:
        with_campaigns(tmp_path)
        write_flow(tmp_path, FLOW)
        assert validate(tmp_path) == []
        broken = FLOW.replace("campaign: welcome-series", "campaign: Welcome Series").replace(
            "on_refused: sorry", "on_refused: sorry\n    delay: 1h"
        )
        write_flow(tmp_path, broken)
        messages = [p.message for p in validate(tmp_path)]
        assert any("'campaign' names a campaign by its id" in m for m in messages), messages
        assert any("'delay' is not a setting of campaign steps" in m for m in messages), messages

    def test_campaign_ids_reads_every_file_and_skips_broken_ones(self, tmp_path: Path) -> None:
        with_campaigns(tmp_path)
        (tmp_path / "campaigns" / "broken.yaml").write_text("campaigns: [unclosed", encoding="utf-8")
        (tmp_path / "campaigns" / "more.yml").write_text("campaigns:\n  - id: birthday\n", encoding="utf-8")
        assert campaign_ids(tmp_path) == {"welcome-series", "win-back", "birthday"}
