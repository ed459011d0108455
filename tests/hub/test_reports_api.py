"""/api/v1/reports on SQLite and PostgreSQL: who may read them, the figures through the API equal the
ones computed independently (tests/inbox/test_reports.py's week), CSV files of every table, clear
errors for bad ranges and filters, a handoff and a CSAT rating that went through the real bot flows,
and campaign funnels that are the campaigns' own results."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from channels.registry import known_types
from crm_core.consent import set_consent
from crm_core.customers import resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.api.reports import NAMES
from hub.runtime import Hub
from inbox.models import Role, Team
from inbox.reports.handoff_log import BotHandoff
from tests.conftest import (
    GREETING_ONLY,
    REPO,
    agent_headers,
    client_for,
    drain,
    hub_config,
    settings_for,
    token_headers,
)
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.fakes.webchat import Visitor
from tests.inbox.test_reports import (
    FIRST,
    LAST,
    ZONE,
    Clock,
    Filters,
    expected_bot,
    expected_csat,
    expected_people,
    expected_response_times,
    plan_week,
    play,
    use_clock,
)

WEEKDAYS = {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
CHANNELS: dict[str, Any] = {"site": {"type": "webchat"}}
HELPDESK = """
id: helpdesk
version: 1
description: Straight to a person
triggers:
  - keyword: [help]
start: to_people
steps:
  to_people:
    handoff: support
    message: "Passing you to our team"
"""

HubMaker = Callable[..., Awaitable[Hub]]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return use_clock(monkeypatch)


@pytest.fixture
async def make(database_url: str, tmp_path: Path) -> AsyncIterator[HubMaker]:
    """Hubs whose business hours are in Kyiv (the reports' days), with the given flows and channels."""
    hubs: list[Hub] = []

    async def build(flows: dict[str, str] | None = None, channels: dict[str, Any] | None = None) -> Hub:
        folder = GREETING_ONLY
        if flows:
            folder = tmp_path / f"flows-{len(hubs)}"
            folder.mkdir()
            for name, text in flows.items():
                (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        config = hub_config(
            channels or CHANNELS,
            flows_dir=str(folder),
            teams=["support", "sales"],
            business_hours={"timezone": ZONE, "weekly": WEEKDAYS},
        )
        hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
        await hub.start(workers=False)
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        await hub.stop()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


WEEK = {"from": FIRST.isoformat(), "to": LAST.isoformat()}


class TestAccess:
    async def test_supervisors_and_admins_read_reports_agents_and_marketers_do_not(
        self, make: HubMaker
    ) -> None:
        hub = await make()
        async with client_for(hub) as http:
            for role, allowed in (
                (Role.SUPERVISOR, True),
                (Role.ADMIN, True),
                (Role.AGENT, False),
                (Role.MARKETER, False),
            ):
                headers, _ = await agent_headers(hub, role)
                listing = await http.get("/api/v1/reports", headers=headers)
                one = await http.get("/api/v1/reports/csat.csv", headers=headers)
                if allowed:
                    assert ok(listing) == list(NAMES)
                    assert one.status_code == 200
                else:
                    assert "reports:read" in refused(listing, 403, "forbidden")
                    refused(one, 403, "forbidden")
            assert (await http.get("/api/v1/reports/csat")).status_code == 401


class TestFigures:
    async def test_the_api_gives_the_independently_computed_figures_and_csv_of_every_table(
        self, make: HubMaker, clock: Clock
    ) -> None:
        hub = await make()
        stories = plan_week()
        teams = await play(hub, clock, stories)
        headers = await token_headers(hub, Role.SUPERVISOR)
        async with client_for(hub) as http:

            async def get(name: str, filters: Filters = Filters(), **extra: str) -> Any:
                params = {**WEEK, **extra}
                if filters.channel:
                    params["channel"] = filters.channel
                if filters.team:
                    params["team_id"] = str(teams[filters.team])
                return ok(await http.get(f"/api/v1/reports/{name}", params=params, headers=headers))

            for filters in (Filters(), Filters(channel="sms"), Filters(team="sales")):
                times = await get("response-times", filters)
                expected = expected_response_times(stories, filters)
                assert times["summary"]["conversations"] == expected["conversations"]
                assert times["summary"]["first_contact_resolution"] == expected["first_contact_resolution"]
                for got, want in zip(times["rows"], expected["rows"], strict=True):
                    assert got["metric"] == want["metric"] and got["count"] == want["count"]
                    for key in ("median", "p90"):
                        assert (
                            got[key] == pytest.approx(want[key], abs=0.1)
                            if want[key] is not None
                            else got[key] is None
                        )
                csat = await get("csat", filters)
                assert [r["responses"] for r in csat["rows"]] == [
                    r["responses"] for r in expected_csat(stories, filters)["rows"]
                ]
                assert csat["summary"]["average"] == expected_csat(stories, filters)["average"]
                bot = await get("bot-handoffs", filters)
                assert (
                    bot["summary"]["containment_rate"]
                    == expected_bot(stories, filters)["summary"]["containment_rate"]
                )
                people = {
                    row["team"] if row["team_id"] else None: row["conversations"]
                    for row in (await get("teams", filters))["rows"]
                }
                assert people == {
                    k: v["conversations"] for k, v in expected_people(stories, filters, "team").items()
                }
                assert (times["from"], times["to"], times["timezone"]) == (
                    FIRST.isoformat(),
                    LAST.isoformat(),
                    ZONE,
                )
                assert (times["channel"], times["team_id"]) == (
                    filters.channel,
                    teams[filters.team] if filters.team else None,
                )

            # Every table as CSV: a header of the column keys, then the JSON's rows.
            for name in NAMES:
                as_json = await get(name)
                for response in (
                    await http.get(f"/api/v1/reports/{name}.csv", params=WEEK, headers=headers),
                    await http.get(
                        f"/api/v1/reports/{name}", params={**WEEK, "format": "csv"}, headers=headers
                    ),
                ):
                    assert response.status_code == 200, response.text
                    assert response.headers["content-type"] == "text/csv; charset=utf-8"
                    assert response.headers["content-disposition"] == (
                        f'attachment; filename="omnihub-{name}-{FIRST.isoformat()}-to-{LAST.isoformat()}.csv"'
                    )
                    header, *rows = list(csv.reader(io.StringIO(response.text)))
                    assert header == [column["key"] for column in as_json["columns"]]
                    assert rows == [
                        ["" if row[k] is None else str(row[k]) for k in header] for row in as_json["rows"]
                    ]
                # The page names every column in both languages.
                assert {f"rp.col_{column['key']}" for column in as_json["columns"]} <= set(page_texts("en"))
            daily = await get("volume-daily")
            assert [row["date"] for row in daily["rows"]][:2] == ["2026-10-22", "2026-10-23"]
            assert len((await get("volume-heatmap"))["rows"]) == 168


STATIC = REPO / "hub" / "web" / "static"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def page_texts(language: str) -> dict[str, str]:
    return dict(json.loads((STATIC / "reports" / "locales" / f"{language}.json").read_text(encoding="utf-8")))


class TestPageTexts:
    def test_english_and_spanish_have_every_key_the_page_uses(self) -> None:
        english, spanish = page_texts("en"), page_texts("es")
        assert set(english) == set(spanish)
        for key, text in english.items():
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(spanish[key])), key
        used: set[str] = set()
        for script in (STATIC / "reports").glob("*.js"):
            used |= set(re.findall(r"[\"'`](rp\.[a-z0-9_]+)[\"'`]", script.read_text(encoding="utf-8")))
        used |= set(
            re.findall(r'data-i18n(?:-[a-z]+)?="(rp\.[a-z0-9_]+)"', (STATIC / "reports.html").read_text())
        )
        built = {f"rp.channel_{kind}" for kind in known_types()}
        built |= {f"rp.metric_{m}" for m in ("first_response", "resolution", "customer_wait", "duration")}
        built |= {f"rp.weekday_{d}" for d in range(1, 8)} | {f"rp.weekday_short_{d}" for d in range(1, 8)}
        built |= {
            f"rp.funnel_{step}"
            for step in ("planned", "sent", "delivered", "read", "replied", "clicked", "converted")
        }
        assert not sorted((used | built) - set(english))


class TestBadRequests:
    async def test_each_mistake_is_a_clear_error(self, make: HubMaker) -> None:
        hub = await make()
        headers = await token_headers(hub, Role.SUPERVISOR)
        async with hub.db.transaction() as session:
            session.add(Team(name="support"))
        async with client_for(hub) as http:

            async def get(path: str, **params: str) -> httpx.Response:
                return await http.get(path, params=params, headers=headers)

            assert "'2026-13-01' is not a date" in refused(
                await get("/api/v1/reports/csat", **{"from": "2026-13-01"}), 422, "invalid_range"
            )
            assert "to: 'soon'" in refused(await get("/api/v1/reports/csat", to="soon"), 422, "invalid_range")
            assert "before it starts" in refused(
                await get("/api/v1/reports/agents", **{"from": "2026-10-10", "to": "2026-10-01"}),
                422,
                "invalid_range",
            )
            assert "at most 366" in refused(
                await get("/api/v1/reports/agents", **{"from": "2024-01-01", "to": "2026-10-01"}),
                422,
                "invalid_range",
            )
            message = refused(
                await get("/api/v1/reports/volume-daily", channel="fax"), 422, "unknown_channel"
            )
            assert "'fax'" in message and "webchat" in message
            assert "is not a team's id" in refused(
                await get("/api/v1/reports/teams", team_id="support"), 422, "unknown_team"
            )
            assert "team 999 does not exist" in refused(
                await get("/api/v1/reports/teams", team_id="999"), 422, "unknown_team"
            )
            assert "'xml'" in refused(await get("/api/v1/reports/csat", format="xml"), 422, "invalid_format")
            message = refused(await get("/api/v1/reports/churn"), 404, "unknown_report")
            assert "'churn'" in message and "response-times" in message
            # Without dates: the 30 days up to today, in the business-hours time zone.
            default = ok(await get("/api/v1/reports/csat"))
            assert default["timezone"] == ZONE
            from datetime import date

            assert (date.fromisoformat(default["to"]) - date.fromisoformat(default["from"])).days == 29


class TestThroughTheBotFlows:
    async def test_a_flow_handoff_and_a_feedback_rating_reach_the_reports(self, make: HubMaker) -> None:
        """The helpdesk flow hands the visitor to support; an agent answers and resolves; the shipped
        feedback flow asks for a rating and the visitor gives 4 (their answer opens a new conversation,
        which the bot handles: the rating still belongs to the resolved one)."""
        feedback = (REPO / "flows" / "feedback.yaml").read_text(encoding="utf-8")
        hub = await make(flows={"helpdesk.yaml": HELPDESK, "feedback.yaml": feedback})
        supervisor = await token_headers(hub, Role.SUPERVISOR)
        agent, _ = await agent_headers(hub, Role.AGENT)
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            assert (await visitor.say(http, "help", name="Ana")).status_code == 200
            await drain(hub)
            async with hub.db.session() as session:
                [handoff] = (await session.execute(select(BotHandoff))).scalars().all()
                support = (await session.execute(select(Team).where(Team.name == "support"))).scalars().one()
            assert (handoff.flow, handoff.step, handoff.team_id) == ("helpdesk", "to_people", support.id)
            conversation = handoff.conversation_id
            reply = await http.post(
                f"/api/v1/conversations/{conversation}/messages", json={"text": "Hi Ana!"}, headers=agent
            )
            assert reply.status_code == 201, reply.text
            resolved = await http.post(
                f"/api/v1/conversations/{conversation}/status", json={"status": "resolved"}, headers=agent
            )
            assert resolved.status_code == 200, resolved.text
            await drain(hub)
            # The rating, then the comment: the flow records csat.submitted after both.
            for answer in ("4", "Quick and friendly"):
                assert (await visitor.say(http, answer)).status_code == 200
                await drain(hub)

            bot = ok(await http.get("/api/v1/reports/bot-handoffs", headers=supervisor))
            assert bot["rows"] == [
                {"flow": "helpdesk", "step": "to_people", "team": "support", "handoffs": 1, "share": 1.0}
            ]
            assert bot["summary"]["handed_off"] == 1
            # The rating's own conversation is the bot's alone: it counts as contained.
            assert (bot["summary"]["bot_conversations"], bot["summary"]["contained"]) == (2, 1)
            csat = ok(
                await http.get(
                    "/api/v1/reports/csat", params={"team_id": str(support.id)}, headers=supervisor
                )
            )
            assert [row["responses"] for row in csat["rows"]] == [0, 0, 0, 1, 0]
            assert csat["summary"]["average"] == 4.0
            teams = ok(await http.get("/api/v1/reports/teams", headers=supervisor))["rows"]
            [row] = [r for r in teams if r["team"] == "support"]
            assert (row["conversations"], row["resolved"], row["csat_average"]) == (1, 1, 4.0)
            # Replies count for the team of who wrote them: this agent is in no team.
            [teamless] = [r for r in teams if r["team_id"] is None]
            assert (row["replies"], teamless["replies"], teamless["conversations"]) == (0, 1, 1)


SALE = {
    "name": "Autumn sale",
    "audience": "newsletter",
    "channels": ["sms"],
    "content": {"default": {"en": "Hi {{ name }}! 20% off this week."}},
    "variants": [
        {"id": "a", "weight": 50},
        {"id": "b", "weight": 50, "content": {"default": {"en": "Autumn is here: 20% off!"}}},
    ],
}
NEWSLETTER = {"name": "Newsletter", "conditions": [{"tag": "newsletter"}]}


class TestCampaignFunnels:
    async def test_the_funnels_are_the_campaigns_own_results_per_variant(self, make: HubMaker) -> None:
        async with FakeTwilioApi() as twilio:
            sms = {"type": "sms", "from": "+15005550006", "provider": "twilio", "account_sid": ACCOUNT_SID}
            sms |= {"auth_token": AUTH_TOKEN, "api_base": twilio.base_url}
            hub = await make(channels={"site": {"type": "webchat"}, "sms-main": sms})
            async with hub.db.transaction() as session:
                for number in range(12):
                    customer = (
                        await resolve_identity(
                            session, IdentityKind.PHONE, f"+3460000{number:04d}", verified=True, source="t"
                        )
                    ).customer
                    await set_tags(session, customer, ["newsletter"])
                    if number % 4:  # a quarter never agreed to marketing SMS
                        await set_consent(session, customer.id, "sms", "marketing", True, source="t")  # type: ignore[arg-type]
            marketer = await token_headers(hub, Role.MARKETER, name="marketer")
            supervisor = await token_headers(hub, Role.SUPERVISOR)
            async with client_for(hub) as http:
                assert (
                    await http.put("/api/v1/segments/newsletter", json=NEWSLETTER, headers=marketer)
                ).status_code == 200
                assert (
                    await http.put("/api/v1/campaigns/autumn", json=SALE, headers=marketer)
                ).status_code == 200
                assert (
                    await http.post("/api/v1/campaigns/autumn/launch", headers=marketer)
                ).status_code == 200
                assert hub.campaigns is not None
                await hub.campaigns.tick()
                await drain(hub)
                await hub.campaigns.tick()
                results = ok(await http.get("/api/v1/campaigns/autumn/results", headers=marketer))["variants"]
                funnels = ok(await http.get("/api/v1/reports/campaigns", headers=supervisor))
                before = ok(
                    await http.get(
                        "/api/v1/reports/campaigns", params={"to": "2020-01-31"}, headers=supervisor
                    )
                )

        assert len(twilio.messages) == 9
        rows = {row["variant"]: row for row in funnels["rows"]}
        assert set(rows) == {"a", "b", "total"}
        for variant, row in rows.items():
            funnel = results[variant]
            assert row["campaign_id"] == "autumn" and row["campaign"] == "Autumn sale"
            assert row["planned"] == funnel["planned"]
            assert row["skipped"] == sum(funnel["skipped"].values())
            for step in ("sent", "delivered", "read", "replied", "clicked", "converted"):
                assert row[step] == funnel[step], (variant, step)
            assert row["revenue"] == funnel["revenue"]
        assert rows["total"]["planned"] == 12 and rows["total"]["skipped"] == 3 and rows["total"]["sent"] == 9
        assert funnels["summary"]["campaigns"] == 1 and funnels["summary"]["sent"] == 9
        # Launched today: not a campaign of a range that ended years ago.
        assert before["rows"] == [] and before["summary"]["campaigns"] == 0
