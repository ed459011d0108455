"""Reports on SQLite and PostgreSQL against figures computed independently: a week of support (web
chat and SMS customers, bot greetings, handoffs, agents' replies, resolutions, CSAT ratings, some of
it before and after the range) is written through the real inbox actions with a controlled clock,
while the test keeps its own plain-Python account of what happened; every report must match that
account, unfiltered and with the channel and team filters. The week crosses the end of daylight
saving time in Kyiv, so local days and hours are checked where the UTC offset changes."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.flows.result import Handoff
from crm_core.customers import record_event
from hub.auth.credentials import create_agent
from hub.flows import hand_to_people
from hub.runtime import Hub
from inbox import conversations as inbox
from inbox.models import Agent, AuthorKind, ConversationStatus, Role, Team
from inbox.reports import REPORTS, InvalidScope, ReportScope, handoff_log, make_scope, run_report
from inbox.reports.local_time import offset_spans
from tests.inbox.builders import customer_writes

ZONE = "Europe/Kyiv"
FIRST, LAST = date(2026, 10, 22), date(2026, 10, 28)  # summer time ends on Sunday 25th, 04:00 local
KYIV = ZoneInfo(ZONE)
START = datetime(2026, 10, 21, 21, 0, tzinfo=UTC)  # local midnight of the 22nd (UTC+3)
END = datetime(2026, 10, 28, 22, 0, tzinfo=UTC)  # local midnight after the 28th (UTC+2)
TEAMS = ("support", "sales")
AGENTS = {"ana": "support", "ben": "support", "cleo": "sales"}
REASONS = (
    ("support", "handoff", "support"),
    ("support", "closed_handoff", "support"),
    ("missed_call", "callback", "sales"),
)
ACCOUNTS = {"webchat": "site", "sms": "sms-main"}


class Clock:
    """What "now" is for the inbox actions while the test writes the week."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def use_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The inbox actions and the handoff log read this clock for the rest of the test."""
    clock = Clock()
    monkeypatch.setattr(inbox, "utcnow", clock)
    monkeypatch.setattr(handoff_log, "utcnow", clock)
    return clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return use_clock(monkeypatch)


# -- the week, as the test plans and records it ------------------------------------------------------


@dataclass
class Step:
    at: datetime
    action: str  # customer | bot | agent | handoff | resolve | rate
    agent: str | None = None
    reason: tuple[str, str, str] | None = None  # handoff: flow, step, team
    rating: Any = None
    waited: float | None = None  # agent: the customer's wait this reply ended (known once played)


@dataclass
class Story:
    """One conversation: what happens, and what the test knows once it has happened."""

    address: str
    channel: str
    steps: list[Step]
    # Known after playing it, by the test's own bookkeeping (not read back from the database):
    team: str | None = None
    assignee: str | None = None

    @property
    def created(self) -> datetime:
        return self.steps[0].at

    def times(self, action: str) -> list[datetime]:
        return [s.at for s in self.steps if s.action == action]

    @property
    def first_reply(self) -> datetime | None:
        return min(self.times("agent"), default=None)

    @property
    def resolved(self) -> datetime | None:
        return max(self.times("resolve"), default=None)

    @property
    def last_message(self) -> datetime:
        return max(s.at for s in self.steps if s.action in ("customer", "bot", "agent"))


def plan_week(seed: int = 11) -> list[Story]:
    rng = random.Random(seed)
    stories = []
    for number in range(40):
        channel = rng.choice(("webchat", "sms"))
        address = f"visitor-{number}" if channel == "webchat" else f"+3460000{number:04d}"
        # From a day before the range to half a day after it, in whole seconds.
        at = (
            START
            - timedelta(hours=20)
            + timedelta(seconds=rng.randrange(int((END - START).total_seconds()) + 30 * 3600))
        )
        steps = [Step(at, "customer")]
        bot = rng.random() < 0.6
        if bot:
            at += timedelta(seconds=rng.randrange(2, 20))
            steps.append(Step(at, "bot"))
            if rng.random() < 0.3:
                at += timedelta(seconds=rng.randrange(20, 120))
                steps.append(Step(at, "customer"))
                at += timedelta(seconds=rng.randrange(2, 20))
                steps.append(Step(at, "bot"))
        handed = bot and rng.random() < 0.5
        reason = rng.choice(REASONS) if handed else None
        if reason is not None:
            at += timedelta(seconds=rng.randrange(30, 300))
            steps.append(Step(at, "handoff", reason=reason))
        agents = [name for name, team in AGENTS.items() if reason is None or team == reason[2]]
        agent = rng.choice(agents)
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            at += timedelta(seconds=rng.randrange(60, 3 * 3600))
            steps.append(Step(at, "agent", agent=agent))
            for _ in range(rng.choice((0, 1, 1, 2))):
                at += timedelta(seconds=rng.randrange(30, 1800))
                steps.append(Step(at, "customer"))
        if rng.random() < (0.75 if any(s.action == "agent" for s in steps) else 0.1):
            at += timedelta(seconds=rng.randrange(60, 7200))
            steps.append(Step(at, "resolve"))
            if rng.random() < 0.7:
                at += timedelta(seconds=rng.randrange(60, 20 * 3600))
                rating = (
                    rng.choice((1, 2, 3, 4, 5, 4, 5, 5, "great", 6, 4.5)) if number % 5 else rng.randint(1, 5)
                )
                steps.append(Step(at, "rate", rating=rating))
        stories.append(Story(address, channel, steps))
    # A customer who comes back: two conversations, each rated after it was resolved.
    at = START + timedelta(days=2, hours=3)
    first = [Step(at, "customer"), Step(at + timedelta(minutes=4), "agent", agent="cleo")]
    first += [Step(at + timedelta(minutes=9), "resolve"), Step(at + timedelta(hours=1), "rate", rating=2)]
    again = at + timedelta(hours=3)
    second = [Step(again, "customer"), Step(again + timedelta(minutes=30), "agent", agent="ana")]
    second += [
        Step(again + timedelta(minutes=31), "resolve"),
        Step(again + timedelta(hours=2), "rate", rating=5),
    ]
    stories += [Story("returning", "webchat", first), Story("returning", "webchat", second)]
    return stories


async def play(hub: Hub, clock: Clock, stories: list[Story]) -> dict[str, int]:
    """Write every story through the inbox actions; returns the team ids by name."""
    async with hub.db.transaction() as session:
        teams = {}
        for name in TEAMS:
            team = Team(name=name)
            session.add(team)
            await session.flush()
            teams[name] = team.id
        agents: dict[str, Agent] = {}
        for name, team_name in AGENTS.items():
            agent = await create_agent(
                session,
                email=f"{name}@example.com",
                name=name.title(),
                role=Role.AGENT,
                password="correct horse battery",
            )
            agent.team_id = teams[team_name]
            session.add(agent)
            agents[name] = agent
    for story in stories:
        async with hub.db.transaction() as session:
            conversation = None
            waiting: datetime | None = None
            for step in story.steps:
                clock.now = step.at
                if step.action == "customer":
                    conversation, _ = await customer_writes(
                        session,
                        f"Customer {story.address}",
                        "hello",
                        address=story.address,
                        channel=story.channel,
                        account=ACCOUNTS[story.channel],
                        at=step.at,
                    )
                    waiting = waiting or step.at
                    continue
                assert conversation is not None
                if step.action == "bot":
                    await inbox.add_outbound_message(
                        session,
                        conversation,
                        text="Hi! I'm the bot.",
                        author_kind=AuthorKind.BOT,
                        address=story.address,
                    )
                elif step.action == "handoff":
                    assert step.reason is not None
                    flow, handoff_step, team = step.reason
                    await hand_to_people(
                        session, conversation.id, Handoff(team, "summary", flow, step=handoff_step)
                    )  # type: ignore[arg-type]
                    story.team, story.assignee = team, None
                elif step.action == "agent":
                    assert step.agent is not None
                    if story.assignee is None:
                        agent = agents[step.agent]
                        await inbox.assign(session, conversation, agent_id=agent.id, team_id=agent.team_id)
                        story.assignee, story.team = step.agent, AGENTS[step.agent]
                    await inbox.add_outbound_message(
                        session,
                        conversation,
                        text="Happy to help",
                        author_kind=AuthorKind.AGENT,
                        author_agent_id=agents[step.agent].id,
                        address=story.address,
                    )
                    if waiting is not None:
                        step.waited = (step.at - waiting).total_seconds()
                    waiting = None
                elif step.action == "resolve":
                    await inbox.set_status(session, conversation, ConversationStatus.RESOLVED)
                    waiting = None
                elif step.action == "rate":
                    # What the feedback flow's record_event step writes (flows/feedback.yaml).
                    await record_event(
                        session,
                        conversation.customer_id,
                        "csat.submitted",
                        {"rating": step.rating, "comment": "", "flow": "feedback", "step": "store"},
                        source="flow:feedback",
                        occurred_at=step.at,
                    )
    return teams


# -- the figures, computed independently ------------------------------------------------------------


def in_range(moment: datetime) -> bool:
    return START <= moment < END


def nearest_rank(values: Iterable[float], percent: int) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.ceil(percent * len(ordered) / 100) - 1]


def spread(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "average": round(sum(values) / len(values), 1) if values else None,
        "median": nearest_rank(values, 50),
        "p90": nearest_rank(values, 90),
    }


def seconds(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else (later - earlier).total_seconds()


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    team: str | None = None

    def keeps(self, story: Story) -> bool:
        return (self.channel is None or story.channel == self.channel) and (
            self.team is None or story.team == self.team
        )


def cohort(stories: list[Story], filters: Filters) -> list[Story]:
    return [s for s in stories if in_range(s.created) and filters.keeps(s)]


def values(stories: list[Story], measure: Callable[[Story], float | None]) -> list[float]:
    return [v for v in (measure(s) for s in stories) if v is not None]


def first_response(story: Story) -> float | None:
    return seconds(story.first_reply, story.created)


def resolution(story: Story) -> float | None:
    return seconds(story.resolved, story.created)


def answered_resolved(story: Story) -> bool:
    return story.resolved is not None and bool(story.times("agent"))


def expected_response_times(stories: list[Story], filters: Filters) -> dict[str, Any]:
    group = cohort(stories, filters)
    answered = [s for s in group if answered_resolved(s)]
    one_touch = [s for s in answered if len(s.times("agent")) == 1]
    rows = [
        {"metric": "first_response", **spread(values(group, first_response))},
        {"metric": "resolution", **spread(values(group, resolution))},
        {"metric": "customer_wait", **spread(waits(stories, filters))},
        {"metric": "duration", **spread(values(group, lambda s: seconds(s.last_message, s.created)))},
    ]
    return {
        "rows": rows,
        "conversations": len(group),
        "resolved": sum(s.resolved is not None for s in group),
        "first_contact_resolution": share(len(one_touch), len(answered)),
    }


def waits(stories: list[Story], filters: Filters) -> list[float]:
    """The waits ended by the agent replies written in the range."""
    return [
        step.waited
        for _, step in messages_in_range(stories, filters)
        if step.action == "agent" and step.waited is not None
    ]


def messages_in_range(stories: list[Story], filters: Filters) -> list[tuple[Story, Step]]:
    # The team filter is the conversation's team now; the channel is the message's (one per story here).
    return [
        (s, step)
        for s in stories
        if filters.keeps(s)
        for step in s.steps
        if step.action in ("customer", "agent", "bot") and in_range(step.at)
    ]


COUNT_OF = {"customer": "customer_messages", "agent": "agent_replies", "bot": "bot_messages"}


def expected_daily(stories: list[Story], filters: Filters) -> list[dict[str, Any]]:
    days = {(FIRST + timedelta(days=n)).isoformat(): Counter() for n in range((LAST - FIRST).days + 1)}
    for story in cohort(stories, filters):
        days[story.created.astimezone(KYIV).date().isoformat()]["conversations"] += 1
    for _, step in messages_in_range(stories, filters):
        days[step.at.astimezone(KYIV).date().isoformat()][COUNT_OF[step.action]] += 1
    keys = ("conversations", *COUNT_OF.values())
    return [{"date": day, **{k: counts[k] for k in keys}} for day, counts in days.items()]


def expected_channels(stories: list[Story], filters: Filters) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for story in cohort(stories, filters):
        counts[story.channel]["conversations"] += 1
    for story, step in messages_in_range(stories, filters):
        counts[story.channel][COUNT_OF[step.action]] += 1
    keys = ("conversations", *COUNT_OF.values())
    return {channel: {k: c[k] for k in keys} for channel, c in counts.items()}


def expected_heatmap(stories: list[Story], filters: Filters) -> dict[tuple[int, int], dict[str, int]]:
    cells = {(d, h): Counter() for d in range(1, 8) for h in range(24)}
    for story in cohort(stories, filters):
        local = story.created.astimezone(KYIV)
        cells[(local.isoweekday(), local.hour)]["conversations"] += 1
    for _, step in messages_in_range(stories, filters):
        if step.action == "customer":
            local = step.at.astimezone(KYIV)
            cells[(local.isoweekday(), local.hour)]["customer_messages"] += 1
    return {
        cell: {"conversations": c["conversations"], "customer_messages": c["customer_messages"]}
        for cell, c in cells.items()
    }


def ratings(stories: list[Story], filters: Filters) -> list[tuple[Story | None, int]]:
    """Valid ratings given in the range, each with the conversation it belongs to: the customer's one
    resolved most recently at or before it."""
    found = []
    for story in stories:
        for step in story.steps:
            if step.action != "rate" or not in_range(step.at) or step.rating not in (1, 2, 3, 4, 5):
                continue
            candidates = [
                s
                for s in stories
                if s.address == story.address and s.resolved is not None and s.resolved <= step.at
            ]
            rated = max(candidates, key=lambda s: s.resolved) if candidates else None  # type: ignore[arg-type,return-value]
            unfiltered = filters.channel is None and filters.team is None
            if unfiltered or (rated is not None and filters.keeps(rated)):
                found.append((rated, int(step.rating)))
    return found


def expected_csat(stories: list[Story], filters: Filters) -> dict[str, Any]:
    given = [rating for _, rating in ratings(stories, filters)]
    counts = Counter(given)
    return {
        "rows": [
            {"rating": r, "responses": counts[r], "share": share(counts[r], len(given))} for r in range(1, 6)
        ],
        "responses": len(given),
        "average": round(sum(given) / len(given), 2) if given else None,
        "csat_score": share(counts[4] + counts[5], len(given)),
    }


def expected_people(stories: list[Story], filters: Filters, by: str) -> dict[str | None, dict[str, Any]]:
    """Per agent (``by="assignee"``) or team: the breakdown the agents and teams tables show."""
    key: Callable[[Story], str | None] = (lambda s: s.assignee) if by == "assignee" else (lambda s: s.team)
    rows: dict[str | None, dict[str, Any]] = {}

    def row(name: str | None) -> dict[str, Any]:
        return rows.setdefault(
            name,
            {
                "conversations": 0,
                "resolved": 0,
                "replies": 0,
                "frt": [],
                "res": [],
                "waits": [],
                "answered": 0,
                "one": 0,
                "csat": [],
            },
        )

    for story in cohort(stories, filters):
        r = row(key(story))
        r["conversations"] += 1
        r["resolved"] += story.resolved is not None
        r["frt"] += values([story], first_response)
        r["res"] += values([story], resolution)
        r["answered"] += answered_resolved(story)
        r["one"] += answered_resolved(story) and len(story.times("agent")) == 1
    for _, step in messages_in_range(stories, filters):
        if step.action == "agent":
            # Replies count for their author, or the author's team.
            assert step.agent is not None
            replied = row(step.agent if by == "assignee" else AGENTS[step.agent])
            replied["replies"] += 1
            if step.waited is not None:
                replied["waits"].append(step.waited)
    for rated, rating in ratings(stories, filters):
        if rated is not None:
            row(key(rated))["csat"].append(rating)
    return {
        name: {
            "conversations": r["conversations"],
            "resolved": r["resolved"],
            "replies": r["replies"],
            "first_response_median": nearest_rank(r["frt"], 50),
            "first_response_average": round(sum(r["frt"]) / len(r["frt"]), 1) if r["frt"] else None,
            "resolution_median": nearest_rank(r["res"], 50),
            "customer_wait_median": nearest_rank(r["waits"], 50),
            "first_contact_resolution": share(r["one"], r["answered"]),
            "csat_average": round(sum(r["csat"]) / len(r["csat"]), 2) if r["csat"] else None,
            "csat_responses": len(r["csat"]),
        }
        for name, r in rows.items()
    }


def expected_bot(stories: list[Story], filters: Filters) -> dict[str, Any]:
    group = cohort(stories, filters)

    def bot_first(s: Story) -> bool:
        return any(s.first_reply is None or t < s.first_reply for t in s.times("bot"))

    handled = [s for s in group if bot_first(s)]
    handed = [s for s in handled if s.times("handoff")]
    contained = [s for s in handled if not s.times("handoff") and not s.times("agent")]
    taken = [s for s in handled if not s.times("handoff") and s.times("agent")]
    reasons = Counter(step.reason for s in group for step in s.steps if step.action == "handoff")
    total = sum(reasons.values())
    return {
        "summary": {
            "bot_conversations": len(handled),
            "contained": len(contained),
            "handed_off": len(handed),
            "taken_over": len(taken),
            "containment_rate": share(len(contained), len(handled)),
            "handoffs": total,
        },
        "rows": {reason: (count, share(count, total)) for reason, count in reasons.items()},
    }


def close(got: Any, expected: Any, where: str = "") -> None:
    """Equal, floats within 0.1 (durations are shown to a tenth of a second)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) >= set(expected), f"{where}: {got} vs {expected}"
        for k, v in expected.items():
            close(got[k], v, f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{where}: {got} vs {expected}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            close(g, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got is not None and abs(got - expected) <= 0.1, f"{where}: {got} != {expected}"
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


# -- the tests ----------------------------------------------------------------------------------------


@pytest.fixture
async def week(hub: Hub, clock: Clock) -> tuple[list[Story], dict[str, int]]:
    stories = plan_week()
    teams = await play(hub, clock, stories)
    return stories, teams


async def report(hub: Hub, name: str, filters: Filters, teams: dict[str, int]) -> Any:
    scope = make_scope(
        FIRST,
        LAST,
        ZONE,
        today=LAST,
        channel=filters.channel,
        team_id=teams[filters.team] if filters.team else None,
    )
    return await run_report(hub.db.session, name, scope)


FILTERS = [
    Filters(),
    Filters(channel="sms"),
    Filters(team="support"),
    Filters(channel="webchat", team="sales"),
]


class TestAgainstIndependentFigures:
    async def test_every_report_matches_the_tests_own_account(
        self, hub: Hub, week: tuple[list[Story], dict[str, int]]
    ) -> None:
        stories, teams = week
        # The data set exercises what it should: every kind of step in and out of the range.
        assert len(cohort(stories, Filters())) >= 25
        assert any(not in_range(s.created) and any(in_range(step.at) for step in s.steps) for s in stories)
        assert expected_bot(stories, Filters())["summary"]["contained"] > 0
        assert expected_bot(stories, Filters())["summary"]["taken_over"] > 0
        assert len({r for _, r in ratings(stories, Filters())}) >= 4
        for filters in FILTERS:
            where = f"{filters}"
            table = await report(hub, "response-times", filters, teams)
            expected = expected_response_times(stories, filters)
            close(table.rows, expected["rows"], f"{where} response-times")
            for key in ("conversations", "resolved", "first_contact_resolution"):
                close(table.summary[key], expected[key], f"{where} {key}")

            close(
                (await report(hub, "volume-daily", filters, teams)).rows,
                expected_daily(stories, filters),
                where,
            )

            by_channel = (await report(hub, "volume-channels", filters, teams)).rows
            close({row.pop("channel"): row for row in by_channel}, expected_channels(stories, filters), where)

            heatmap = (await report(hub, "volume-heatmap", filters, teams)).rows
            assert len(heatmap) == 168
            close(
                {(r.pop("weekday"), r.pop("hour")): r for r in heatmap},
                expected_heatmap(stories, filters),
                where,
            )

            csat = await report(hub, "csat", filters, teams)
            expected_ratings = expected_csat(stories, filters)
            close(csat.rows, expected_ratings["rows"], f"{where} csat")
            for key in ("responses", "average", "csat_score"):
                close(csat.summary[key], expected_ratings[key], f"{where} csat {key}")

            agents = (await report(hub, "agents", filters, teams)).rows
            named = {(row["agent"].lower() if row["agent_id"] is not None else None): row for row in agents}
            close(named, expected_people(stories, filters, "assignee"), f"{where} agents")
            assert set(named) == set(expected_people(stories, filters, "assignee"))

            team_rows = (await report(hub, "teams", filters, teams)).rows
            by_team = {(row["team"] if row["team_id"] is not None else None): row for row in team_rows}
            close(by_team, expected_people(stories, filters, "team"), f"{where} teams")
            assert set(by_team) == set(expected_people(stories, filters, "team"))

            bot = await report(hub, "bot-handoffs", filters, teams)
            expected_handoffs = expected_bot(stories, filters)
            close(bot.summary, expected_handoffs["summary"], f"{where} bot")
            got = {(r["flow"], r["step"], r["team"]): (r["handoffs"], r["share"]) for r in bot.rows}
            close(got, expected_handoffs["rows"], f"{where} handoff reasons")

    async def test_the_csv_of_a_table_is_its_rows_under_a_header(
        self, hub: Hub, week: tuple[list[Story], dict[str, int]]
    ) -> None:
        _, teams = week
        table = await report(hub, "csat", Filters(), teams)
        lines = table.csv().splitlines()
        assert lines[0] == "rating,responses,share"
        assert lines[1:] == [
            f"{r['rating']},{r['responses']},{'' if r['share'] is None else r['share']}" for r in table.rows
        ]
        assert table.filename() == "omnihub-csat-2026-10-22-to-2026-10-28.csv"


class TestEmptyAndEdges:
    async def test_reports_over_an_empty_range_are_zeros_not_errors(self, hub: Hub) -> None:
        scope = make_scope(FIRST, LAST, ZONE, today=LAST)
        for name in REPORTS:
            table = await run_report(hub.db.session, name, scope)
            assert table.as_dict()["report"] == name
        times = await run_report(hub.db.session, "response-times", scope)
        assert times.summary["conversations"] == 0
        assert [row["median"] for row in times.rows] == [None] * 4
        assert times.summary["first_contact_resolution"] is None

    def test_a_range_is_whole_local_days_and_checked(self) -> None:
        scope = make_scope(FIRST, LAST, ZONE, today=LAST)
        assert (scope.start, scope.end, scope.days) == (START, END, 7)
        default = make_scope(None, None, ZONE, today=LAST)
        assert (default.first_day, default.last_day) == (LAST - timedelta(days=29), LAST)
        with pytest.raises(InvalidScope, match=r"ends .* before it starts"):
            make_scope(LAST, FIRST, ZONE, today=LAST)
        with pytest.raises(InvalidScope, match="at most 366"):
            make_scope(date(2025, 1, 1), LAST, ZONE, today=LAST)
        with pytest.raises(InvalidScope, match="unknown time zone"):
            make_scope(FIRST, LAST, "Mars/Olympus", today=LAST)

    def test_the_utc_offsets_of_a_range_change_where_the_zone_does(self) -> None:
        scope = ReportScope(FIRST, LAST, ZONE)
        assert offset_spans(scope.start, scope.end, scope.zone) == [
            (START, 3 * 3600),
            (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 2 * 3600),
        ]
        assert offset_spans(START, END, ZoneInfo("UTC")) == [(START, 0)]
