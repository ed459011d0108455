"""The scheduled job of ``at`` and ``cron`` campaigns (run by hub.scheduler in the elected process).

Each fire creates the campaign's run for that firing, in the fire's own transaction, keyed by the
fire time; the workers' campaign round then plans it. The run key is unique per campaign, so even a
fire that ran twice (a failover between leaders) plans the audience once. A campaign paused over a
firing skips that firing (a weekly newsletter paused on Monday is not sent on Tuesday's resume).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from hub.campaigns.models import Campaign, CampaignRun, CampaignStatus
from hub.campaigns.planner import dialect_insert
from hub.scheduler import Fire

log = logging.getLogger(__name__)

FIRE = "hub.campaigns.jobs:fire"


def job_id(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def run_key(kind: str, fire: Fire) -> str:
    return f"{kind}:{fire.fire_time.isoformat()}"


async def fire(fire: Fire, campaign_id: str, kind: str) -> None:
    session = fire.session
    campaign = (
        await session.execute(select(Campaign).where(Campaign.id == campaign_id).with_for_update())
    ).scalar_one_or_none()
    if campaign is None or campaign.status is not CampaignStatus.SCHEDULED:
        log.info(
            "campaign %s is %s: firing at %s skipped",
            campaign_id,
            campaign and campaign.status,
            fire.fire_time,
        )
        return
    await session.execute(
        dialect_insert(session)(CampaignRun)
        .values(
            campaign_id=campaign_id, key=run_key(kind, fire), cursor=0, planned=0, started_at=fire.fire_time
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "key"])
    )
    if kind == "at":
        campaign.status = CampaignStatus.RUNNING
        session.add(campaign)
