"""The bot: how many conversations it handled on its own (containment) and why the others went to
people (handoff reasons), over the conversations opened in the range.

- handled by the bot: the bot wrote in the conversation before any agent did (a greeting counts;
  a CSAT question sent after an agent resolved it does not);
- contained: handled by the bot, never handed off and never answered by an agent;
- handed off: a flow's handoff step called people in (inbox/reports/handoff_log.py); the reason is
  the flow and its handoff step;
- taken over: an agent answered without a handoff (stepped in on their own).

Containment rate = contained / handled by the bot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.models import AuthorKind, Conversation, Message, Team
from inbox.reports.cohort import opened_in
from inbox.reports.handoff_log import BotHandoff
from inbox.reports.scope import ReportScope
from inbox.reports.sessions import Sessions, side_by_side
from inbox.reports.table import Column, Kind, ReportTable, rate

COLUMNS = (
    Column("flow", Kind.TEXT),
    Column("step", Kind.TEXT),
    Column("team", Kind.TEXT),
    Column("handoffs", Kind.COUNT),
    Column("share", Kind.RATE),
)


async def containment(session: AsyncSession, scope: ReportScope) -> dict[str, Any]:
    """The cohort's bot figures: handled, contained, handed off, taken over, containment rate."""
    c: Any = Conversation
    m: Any = Message
    h: Any = BotHandoff
    # Whether the bot spoke before any agent: one probe of ix_messages_conversation_kind per
    # conversation. Handoffs of the cohort (all made after the range began) in one grouped pass.
    bot_first = exists().where(
        m.conversation_id == c.id,
        m.author_kind == AuthorKind.BOT,
        or_(c.first_response_at.is_(None), m.created_at < c.first_response_at),
    )
    handoffs = (
        select(h.conversation_id.label("conversation_id"))
        .where(h.at >= scope.start)
        .group_by(h.conversation_id)
        .subquery("handed_off")
    )
    flags = (
        select(
            case((bot_first, 1), else_=0).label("bot"),
            case((handoffs.c.conversation_id.is_not(None), 1), else_=0).label("handed_off"),
            case((c.first_response_at.is_not(None), 1), else_=0).label("answered"),
        )
        .select_from(c)
        .outerjoin(handoffs, handoffs.c.conversation_id == c.id)
        .where(*opened_in(scope))
        .subquery("bot_flags")
    )
    f = flags.c
    # Grouped by the three flags, so each flag (the bot probe above all) is worked out once a row.
    counts: dict[tuple[int, int, int], int] = {
        (int(bot), int(handed), int(answered)): int(count)
        for bot, handed, answered, count in (
            await session.execute(
                select(f.bot, f.handed_off, f.answered, func.count()).group_by(
                    f.bot, f.handed_off, f.answered
                )
            )
        ).all()
    }
    bot = sum(n for (b, _, _), n in counts.items() if b)
    contained = counts.get((1, 0, 0), 0)
    handed = counts.get((1, 1, 0), 0) + counts.get((1, 1, 1), 0)
    taken_over = counts.get((1, 0, 1), 0)
    return {
        "bot_conversations": bot,
        "contained": contained,
        "handed_off": handed,
        "taken_over": taken_over,
        "containment_rate": rate(contained, bot),
    }


async def handoff_reasons(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """One row per flow, handoff step and team: how many handoffs of the cohort's conversations came
    from there, most first; the summary holds the containment figures."""
    c: Any = Conversation
    h: Any = BotHandoff
    t: Any = Team
    statement = (
        select(h.flow, h.step, t.name, func.count())
        .select_from(h)
        .join(c, c.id == h.conversation_id)
        .outerjoin(t, t.id == h.team_id)
        .where(h.at >= scope.start, *opened_in(scope))
        .group_by(h.flow, h.step, t.name)
    )

    async def reasons(session: AsyncSession) -> list[Any]:
        return list((await session.execute(statement)).all())

    found_rows, figures = await side_by_side(sessions, reasons, lambda session: containment(session, scope))
    found = [(flow, step, team, int(count)) for flow, step, team, count in found_rows]
    total = sum(count for *_, count in found)
    ordered = sorted(found, key=lambda item: (-item[3], item[0], item[1], item[2] or ""))
    rows = [
        {"flow": flow, "step": step, "team": team, "handoffs": count, "share": rate(count, total)}
        for flow, step, team, count in ordered
    ]
    return ReportTable("bot-handoffs", scope, COLUMNS, rows, {**figures, "handoffs": total})
