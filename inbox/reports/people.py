"""Per agent and per team: the conversation measures of the cohort broken down by the conversation's
assignee (or team) now; the replies written in the range and the customer waits they ended, by their
author (or the author's team); and the CSAT of the conversations they hold. Conversations nobody
holds form the "Unassigned" (or "No team") row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from inbox.models import Agent, Conversation, Team
from inbox.reports.csat import csat_by
from inbox.reports.measures import GROUP, spread_of
from inbox.reports.response_times import WAIT, ReplyGroup, conversation_rows, reply_rows
from inbox.reports.scope import ReportScope
from inbox.reports.sessions import Sessions, side_by_side
from inbox.reports.table import Column, Kind, ReportTable, rate

FIGURES = (
    Column("conversations", Kind.COUNT),
    Column("resolved", Kind.COUNT),
    Column("replies", Kind.COUNT),
    Column("first_response_median", Kind.SECONDS),
    Column("first_response_average", Kind.SECONDS),
    Column("resolution_median", Kind.SECONDS),
    Column("customer_wait_median", Kind.SECONDS),
    Column("first_contact_resolution", Kind.RATE),
    Column("csat_average", Kind.RATING),
    Column("csat_responses", Kind.COUNT),
)
UNASSIGNED = "Unassigned"
NO_TEAM = "No team"


async def _breakdown(
    sessions: Sessions,
    scope: ReportScope,
    group: ColumnElement[Any],
    by_team: bool,
    names: Select[Any],
    name_of: Callable[[dict[Any, str], Any], str],
    key: str,
) -> list[dict[str, Any]]:
    # The durations these tables show; conversation duration is left out (one sort less).
    measures = ("first_response", "resolution")
    replied_by: ReplyGroup = "team" if by_team else "author"

    async def named(session: AsyncSession) -> dict[Any, str]:
        return {row_id: name for row_id, name in (await session.execute(names)).all()}

    conversation_answer, reply_answer, ratings, known = await side_by_side(
        sessions,
        lambda session: conversation_rows(session, scope, group, measures),
        lambda session: reply_rows(session, scope, replied_by),
        lambda session: csat_by(session, scope, group),
        named,
    )
    conversations = {row[GROUP]: row for row in conversation_answer}
    replies = {row[GROUP]: row for row in reply_answer}
    rows = []
    for grp in {*conversations, *replies, *ratings}:
        facts: Mapping[str, Any] = conversations.get(grp) or {}
        first_response = spread_of(facts, "first_response").as_dict() if facts else {}
        resolution = spread_of(facts, "resolution").as_dict() if facts else {}
        wait = spread_of(replies[grp], WAIT).as_dict() if grp in replies else {}
        count, average = ratings.get(grp, (0, None))
        rows.append(
            {
                f"{key}_id": grp,
                key: name_of(known, grp),
                "conversations": int(facts.get("rows", 0)),
                "resolved": int(facts.get("resolved", 0)),
                "replies": int(replies[grp]["rows"]) if grp in replies else 0,
                "first_response_median": first_response.get("median"),
                "first_response_average": first_response.get("average"),
                "resolution_median": resolution.get("median"),
                "customer_wait_median": wait.get("median"),
                "first_contact_resolution": rate(
                    int(facts.get("one_touch", 0)), int(facts.get("answered_resolved", 0))
                ),
                "csat_average": round(average, 2) if average is not None else None,
                "csat_responses": count,
            }
        )
    rows.sort(key=lambda row: (-row["conversations"], -row["replies"], row[key]))
    return rows


async def agents(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """One row per agent who holds a conversation of the cohort, replied in the range or was rated."""
    c: Any = Conversation
    rows = await _breakdown(
        sessions,
        scope,
        c.assignee_id,
        False,
        select(Agent.id, Agent.name),
        lambda names, agent_id: UNASSIGNED if agent_id is None else names.get(agent_id, f"Agent {agent_id}"),
        "agent",
    )
    columns = (Column("agent_id", Kind.TEXT), Column("agent", Kind.TEXT), *FIGURES)
    return ReportTable(
        "agents", scope, columns, rows, {"agents": sum(r["agent_id"] is not None for r in rows)}
    )


async def teams(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """One row per team holding conversations of the cohort (and one for those without a team)."""
    c: Any = Conversation
    rows = await _breakdown(
        sessions,
        scope,
        c.team_id,
        True,
        select(Team.id, Team.name),
        lambda names, team_id: NO_TEAM if team_id is None else names.get(team_id, f"Team {team_id}"),
        "team",
    )
    columns = (Column("team_id", Kind.TEXT), Column("team", Kind.TEXT), *FIGURES)
    return ReportTable("teams", scope, columns, rows, {"teams": sum(r["team_id"] is not None for r in rows)})
