"""Campaigns defined in YAML next to the flows (``<flows_dir>/campaigns/*.yaml``, a ``campaigns:``
list), saved into the database when the hub starts.

A file-defined campaign is created as a draft; launching it stays a decision (the API or
``hub campaigns launch``). Editing the file updates a draft or a paused campaign; a scheduled or
running one keeps what it was launched with (logged), since changing a campaign mid-send would give
customers different messages for the same campaign.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.campaigns.definition import CampaignError
from hub.campaigns.models import Campaign, CampaignStatus
from hub.campaigns.service import Campaigns
from hub.config import HubConfig
from hub.db import Database
from hub.definition_files import DefinitionFileError, line_of_path, read_definitions, source_label, yaml_files

log = logging.getLogger(__name__)

FOLDER = "campaigns"


async def read_campaign_files(
    session: AsyncSession, campaigns: Campaigns, config: HubConfig
) -> list[tuple[str, Any]]:
    """(source, definition as written) of every file campaign; raises DefinitionFileError naming
    file and line of each problem. Checked against the saved segments (the segment files are
    synced first)."""
    found: list[tuple[str, Any]] = []
    for path in yaml_files(config.flows_dir / FOLDER):
        parsed: list[Any] = read_definitions(
            path, "campaigns", "campaign", _as_written, lambda data: str(data.get("id"))
        )
        problems = []
        for data in parsed:
            try:
                await campaigns.parse(session, data)
            except CampaignError as exc:
                for problem in exc.problems:
                    line = line_of_path(data, problem.split(":")[0]) or getattr(data, "line", 1)
                    problems.append(f"{path}:{line}: campaign {data.get('id')!r}: {problem}")
        if problems:
            raise DefinitionFileError(problems)
        found += [(source_label(path, config.flows_dir), data) for data in parsed]
    return found


def _as_written(data: Any) -> Any:
    """Campaigns are checked against the saved segments afterwards (that needs the database)."""
    if not hasattr(data, "get"):
        raise CampaignError(["a campaign is a mapping with id, name, audience, channels and content"])
    return data


async def sync_campaign_files(db: Database, campaigns: Campaigns, config: HubConfig) -> list[str]:
    """Save the file campaigns (all, or none when a file has a problem). Returns the ids saved."""
    saved: list[str] = []
    async with db.transaction() as session:
        for source, data in await read_campaign_files(session, campaigns, config):
            current = await session.get(Campaign, data.get("id"))
            if current is not None and current.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
                if dict(current.definition) != dict(data):
                    log.warning(
                        "campaign %s is %s: the edited %s applies once it is paused",
                        current.id,
                        current.status.value,
                        source,
                    )
                continue
            await campaigns.save(session, dict(data), by="file", source=source)
            saved.append(str(data.get("id")))
    return saved
