"""/api/v1/reports: the supervisors' numbers (REPORTS_READ), one table per report, as JSON or CSV.

``GET /api/v1/reports/<name>?from=YYYY-MM-DD&to=YYYY-MM-DD&channel=<type>&team_id=<id>`` answers
JSON (the report's columns, rows and headline figures); ``format=csv`` or ``/<name>.csv`` answers the
same rows as a CSV file. Days are read in the business-hours time zone (hub.yaml), both included;
without them the last 30 days up to today. ``GET /api/v1/reports`` lists the names. The figures are
defined in docs/reports.md; the queries live in inbox/reports, except the campaign funnels, which
are the campaigns' own results (hub.campaigns.service.Campaigns.results) for the campaigns that were
running during the range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.registry import known_types
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.campaigns.models import Campaign
from hub.errors import ApiError
from hub.runtime import Hub
from inbox.models import Team
from inbox.reports import REPORTS, InvalidScope, ReportScope, make_scope, parse_day, run_report
from inbox.reports.table import Column, Kind, ReportTable

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
READ = Depends(require(Permission.REPORTS_READ))
CAMPAIGNS = "campaigns"
NAMES = (*REPORTS, CAMPAIGNS)
FORMATS = ("json", "csv")
CSV_SUFFIX = ".csv"


@router.get("")
async def list_reports(_: Principal = READ) -> list[str]:
    """The report names, in the order the reports page shows them."""
    return list(NAMES)


@router.get("/{name}", summary="One report as JSON, or as CSV with format=csv or a .csv name")
async def report(
    name: str,
    first: str | None = Query(None, alias="from", description="first day, YYYY-MM-DD (local)"),
    last: str | None = Query(None, alias="to", description="last day, YYYY-MM-DD (local), included"),
    channel: str | None = Query(None, description="a channel type: webchat, sms, whatsapp, telegram..."),
    team_id: str | None = Query(None, description="a team's id"),
    format: str = Query("json", description="json or csv"),
    hub: Hub = Depends(get_hub),
    _: Principal = READ,
) -> Response:
    if name.endswith(CSV_SUFFIX):
        name, format = name.removesuffix(CSV_SUFFIX), "csv"
    if name not in NAMES:
        raise ApiError(404, "unknown_report", f"no report {name!r}; reports: {', '.join(NAMES)}")
    if format not in FORMATS:
        raise ApiError(422, "invalid_format", f"format {format!r} is not one of {', '.join(FORMATS)}")
    scope = await _scope(hub, first, last, channel, team_id)
    if name == CAMPAIGNS:
        async with hub.db.session() as session:
            table = await campaign_funnels(hub, session, scope)
    else:
        table = await run_report(hub.db.session, name, scope)
    if format == "csv":
        return Response(
            table.csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{table.filename()}"'},
        )
    return JSONResponse(table.as_dict())


async def _scope(
    hub: Hub, first: str | None, last: str | None, channel: str | None, team_id: str | None
) -> ReportScope:
    """The request's range and filters, each checked: a clear 422 names what is wrong."""
    zone = hub.config.business_hours.timezone
    if channel and channel not in known_types():
        raise ApiError(
            422,
            "unknown_channel",
            f"channel {channel!r} is not a channel type; use one of {', '.join(known_types())}",
        )
    team: int | None = None
    if team_id:
        if not team_id.isdigit():
            raise ApiError(422, "unknown_team", f"team_id {team_id!r} is not a team's id (a number)")
        async with hub.db.session() as session:
            if await session.get(Team, int(team_id)) is None:
                raise ApiError(422, "unknown_team", f"team {team_id} does not exist")
        team = int(team_id)
    try:
        return make_scope(
            parse_day(first, "from") if first else None,
            parse_day(last, "to") if last else None,
            zone,
            today=datetime.now(ZoneInfo(zone)).date(),
            channel=channel,
            team_id=team,
        )
    except InvalidScope as exc:
        raise ApiError(422, "invalid_range", str(exc)) from None


# -- campaign funnels ------------------------------------------------------------------------------

FUNNEL = ("planned", "skipped", "sent", "delivered", "read", "failed", "replied", "clicked", "converted")
CAMPAIGN_COLUMNS = (
    Column("campaign_id", Kind.TEXT),
    Column("campaign", Kind.TEXT),
    Column("status", Kind.TEXT),
    Column("variant", Kind.TEXT),
    *(Column(step, Kind.COUNT) for step in FUNNEL),
    Column("revenue", Kind.MONEY),
)
TOTAL = "total"


def _funnel_row(campaign: Campaign, variant: str, funnel: dict[str, Any]) -> dict[str, Any]:
    counts = {
        step: sum(funnel[step].values()) if isinstance(funnel[step], dict) else int(funnel[step])
        for step in FUNNEL
    }
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "status": campaign.status.value,
        "variant": variant,
        **counts,
        "revenue": round(float(funnel["revenue"]), 2),
    }


async def campaign_funnels(hub: Hub, session: AsyncSession, scope: ReportScope) -> ReportTable:
    """The campaigns running at some time in the range (launched before its end, not finished before
    its start), newest first, each with its whole funnel per variant (and a total row when it has
    several): the campaign's results to date, which are not cut to the range. Channel and team
    filters do not apply to campaigns."""
    if hub.campaigns is None:
        raise ApiError(503, "campaigns_unavailable", "campaigns are not running in this hub")
    c: Any = Campaign
    running = (
        select(c)
        .where(
            c.launched_at.is_not(None),
            c.launched_at < scope.end,
            or_(c.finished_at.is_(None), c.finished_at >= scope.start),
        )
        .order_by(c.launched_at.desc(), c.id)
    )
    rows = []
    totals = dict.fromkeys((*FUNNEL, "revenue"), 0.0)
    campaigns = list((await session.execute(running)).scalars())
    for campaign in campaigns:
        variants = (await hub.campaigns.results(session, campaign.id))["variants"]
        named = sorted(v for v in variants if v != TOTAL)
        for variant in named:
            rows.append(_funnel_row(campaign, variant, variants[variant]))
        if TOTAL in variants:
            total = _funnel_row(campaign, TOTAL, variants[TOTAL])
            if len(named) > 1:
                rows.append(total)
            for key in totals:
                totals[key] += total[key]
    summary: dict[str, Any] = {"campaigns": len(campaigns)}
    summary.update({key: int(value) for key, value in totals.items() if key != "revenue"})
    summary["revenue"] = round(totals["revenue"], 2)
    return ReportTable(CAMPAIGNS, scope, CAMPAIGN_COLUMNS, rows, summary)
