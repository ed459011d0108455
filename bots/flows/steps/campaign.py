"""``campaign``: put the customer into a campaign, such as a welcome series after registration.

.. code-block:: yaml

    welcome_series:
      campaign: welcome-series   # the id of an event or flow campaign in campaigns/ next to the flows
      next: thanks
      on_refused: thanks         # optional: where to go when the customer is not enrolled (default next)

The hub enrols the customer in the launched campaign through the flows' host (bots.flows.host
``enrol``): a multi-step campaign starts its journey at the first step, a single message is
planned; either way every message goes out with the campaign's checks (consent at send time,
quiet hours, frequency cap), not as a bot reply. The enrolment is on the customer's timeline
(``campaign.enrolled``). When the customer is not enrolled — not in the campaign's audience,
already got it, the campaign is not launched — the reason is on the timeline
(``campaign.not_enrolled``) and the flow goes on at ``on_refused`` (else ``next``).

Validation checks that the campaign is defined in the ``campaigns/`` folder next to the flows
(``campaign_ids``), so a misspelt name is caught by ``hub flows validate``, not by a customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bots.flows.outcomes import Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.yamlsource import LineList, LineMap, YamlSyntaxError, parse_yaml

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

# Campaign ids as the hub writes them (hub.campaigns.definition).
_CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CAMPAIGNS_FOLDER = "campaigns"


@dataclass(frozen=True, kw_only=True)
class CampaignStep(Step):
    kind: ClassVar[str] = "campaign"

    campaign: str
    campaign_line: int
    next: str | None = None
    next_line: int = 0
    on_refused: str | None = None
    on_refused_line: int = 0

    def links(self) -> list[Link]:
        links = [Link(self.next, self.next_line, "next")] if self.next else []
        if self.on_refused:
            links.append(Link(self.on_refused, self.on_refused_line, "on_refused"))
        return links

    async def run(self, ctx: TurnContext) -> Outcome:
        enrol = ctx.host.enrol
        source = {"flow": ctx.flow.id, "step": self.name}
        if enrol is None:
            enrolled, reason = False, "campaigns are not available here (no hub)"
        else:
            assert ctx.customer.id is not None
            answer = await enrol(ctx.session, ctx.customer.id, self.campaign, source)
            enrolled, reason = answer.enrolled, answer.reason
        if enrolled:
            return after(self.next)
        await ctx.record("campaign.not_enrolled", {"campaign": self.campaign, "reason": reason, **source})
        return after(self.on_refused or self.next)


def parse(reader: StepReader) -> CampaignStep | None:
    reader.check_keys({"next", "on_refused"})
    campaign = reader.node.get("campaign")
    if not isinstance(campaign, str) or not _CAMPAIGN_ID.match(campaign):
        reader.problem(
            reader.line_of("campaign"),
            f"'campaign' names a campaign by its id (lowercase letters, digits, - and _), got {campaign!r}",
        )
        return None
    return CampaignStep(
        name=reader.name,
        line=reader.line,
        campaign=campaign,
        campaign_line=reader.line_of("campaign"),
        next=reader.target("next"),
        next_line=reader.line_of("next"),
        on_refused=reader.target("on_refused"),
        on_refused_line=reader.line_of("on_refused"),
    )


def campaign_ids(flows_folder: Path) -> set[str]:
    """The ids of the campaigns defined in ``<flows folder>/campaigns/*.yaml`` (``campaigns:`` lists).
    Files that do not read are skipped: their problems are reported when the hub loads them."""
    folder = flows_folder / CAMPAIGNS_FOLDER
    found: set[str] = set()
    if not folder.is_dir():
        return found
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            data = parse_yaml(path.read_text(encoding="utf-8")).data
        except (OSError, UnicodeDecodeError, YamlSyntaxError):
            continue
        items = data.get("campaigns") if isinstance(data, LineMap) else None
        for item in items if isinstance(items, LineList) else []:
            if isinstance(item, LineMap) and isinstance(item.get("id"), str):
                found.add(item["id"])
    return found
