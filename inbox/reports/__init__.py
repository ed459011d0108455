"""Reports for supervisors, computed in SQL on SQLite and PostgreSQL (aggregates and window
functions; conversations are never loaded into Python). Each report is one table plus headline
figures over a ReportScope (a range of local days, optional channel and team). Definitions of every
figure: docs/reports.md.

Families, one module each: response_times (first response, resolution, customer wait, duration,
first contact resolution), volume (per day, per channel, weekday x hour heatmap), people (per agent,
per team), csat (rating distribution), bot (containment and handoff reasons). Campaign funnels live
with the campaigns, in the hub (hub/api/reports.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from inbox.reports.bot import handoff_reasons
from inbox.reports.csat import csat
from inbox.reports.people import agents, teams
from inbox.reports.response_times import response_times
from inbox.reports.scope import InvalidScope, ReportScope, make_scope, parse_day
from inbox.reports.sessions import Sessions, side_by_side, tune_for_reports
from inbox.reports.table import Column, Kind, ReportTable
from inbox.reports.volume import volume_by_channel, volume_daily, volume_heatmap

Report = Callable[[Sessions, ReportScope], Awaitable[ReportTable]]

# Name in the URL -> report, in the order the reports page shows them.
REPORTS: dict[str, Report] = {
    "response-times": response_times,
    "volume-daily": volume_daily,
    "volume-channels": volume_by_channel,
    "volume-heatmap": volume_heatmap,
    "agents": agents,
    "teams": teams,
    "csat": csat,
    "bot-handoffs": handoff_reasons,
}


async def run_report(sessions: Sessions, name: str, scope: ReportScope) -> ReportTable:
    """The report called ``name`` (a key of REPORTS) over ``scope``; its queries run side by side,
    each in a session from ``sessions`` (hub.db.Database.session)."""
    return await REPORTS[name](sessions, scope)


__all__ = [
    "REPORTS",
    "Column",
    "InvalidScope",
    "Kind",
    "Report",
    "ReportScope",
    "ReportTable",
    "Sessions",
    "make_scope",
    "parse_day",
    "run_report",
    "side_by_side",
    "tune_for_reports",
]
