"""Transcript tests: every transcript in flows/tests/ (and in tests/bots/step_flows/tests/, which
exercise wait, call, consent, share_contact, qr and say with channel) is a pytest test on SQLite and
PostgreSQL, and the runner's own behaviour (reports, failures, file problems) is checked here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bots.flows import run_transcripts, validate
from bots.flows.transcripts import FlowCache, collect_transcripts, play
from bots.flows.transcripts.model import Transcript
from hub.db import Database
from tests.conftest import REPO

SHIPPED, SHIPPED_PROBLEMS = collect_transcripts(REPO / "flows" / "tests")
STEP_FLOWS = Path(__file__).parent / "step_flows"
STEPS, STEPS_PROBLEMS = collect_transcripts(STEP_FLOWS / "tests")
FLOWS = FlowCache()


def test_the_shipped_transcript_files_are_well_formed() -> None:
    assert SHIPPED_PROBLEMS == []
    # Every shipped flow has transcripts.
    assert {Path(t.file).name for t in SHIPPED} == {
        "support.yaml",
        "feedback.yaml",
        "registration.yaml",
        "missed_call.yaml",
    }


@pytest.mark.parametrize("transcript", SHIPPED, ids=lambda t: t.id)
async def test_shipped_transcript(db: Database, transcript: Transcript) -> None:
    result = await play(transcript, FLOWS.get(transcript.flows), db.transaction)
    assert result.failures == []


def test_the_step_transcripts_are_well_formed_and_their_flows_valid() -> None:
    assert STEPS_PROBLEMS == [] and len(STEPS) >= 7
    assert validate(STEP_FLOWS, teams=["support"]) == []


@pytest.mark.parametrize("transcript", STEPS, ids=lambda t: t.id)
async def test_step_transcript(db: Database, transcript: Transcript) -> None:
    result = await play(transcript, FLOWS.get(transcript.flows), db.transaction)
    assert result.failures == []


def write(folder: Path, text: str, name: str = "t.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


class TestRunner:
    async def test_run_transcripts_uses_a_scratch_database_by_default(self) -> None:
        report = await run_transcripts(REPO / "flows" / "tests" / "feedback.yaml")
        assert report.ok, str(report)
        assert report.passed == len([t for t in SHIPPED if t.file.endswith("feedback.yaml")])
        assert str(report).splitlines()[-1] == f"{report.passed} passed, 0 failed"

    async def test_failures_say_which_turn_line_and_what_differed(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            f"""
            flows: {REPO / "flows"}
            transcripts:
              - name: wrong expectations
                customer: {{name: Ana, locale: en}}
                turns:
                  - say: hello
                    bot: ["Hello Ana", "menu"]
                    buttons: [Questions]
                  - say: Talk to a person
                    bot: []
                    expect:
                      waiting: support.menu
                      vars: {{menu: faq, missing: 1}}
                      handoff: true
                expect:
                  tags: [vip]
                  no_tags: []
                  attributes: {{city: Lviv}}
                  events: [csat.submitted]
            """,
        )
        report = await run_transcripts(path)
        assert not report.ok
        assert report.results[0].failures == [
            "turn 1 (say 'hello', line 6): bot message 1 should contain 'Hello Ana', "
            'it was "Hi Ana! I\'m the support assistant."',
            "turn 1 (say 'hello', line 6): bot message 2 should contain 'menu', it was 'How can I help you?'",
            "turn 1 (say 'hello', line 6): expected buttons ['Questions'], "
            "got ['Order status', 'I have a question', 'Talk to a person']",
            "turn 2 (say 'Talk to a person', line 9): expected 0 bot message(s) [], "
            "got ['Sure. In a few words, what is it about? A person will read it before replying.']",
            "turn 2 (say 'Talk to a person', line 9): var.menu should be 'faq', it is 'person'",
            "turn 2 (say 'Talk to a person', line 9): var.missing should be 1, it is not set",
            "turn 2 (say 'Talk to a person', line 9): expected the flow to wait at 'support.menu', "
            "it waits at 'support.topic'",
            "turn 2 (say 'Talk to a person', line 9): expected a handoff, none happened",
            "at the end: attribute.city should be 'Lviv', it is not set",
            "at the end: expected tag 'vip', the customer has []",
            "at the end: expected a timeline event 'csat.submitted', found an empty timeline",
        ]
        assert str(report).splitlines()[0] == f"FAIL {path}:3 wrong expectations"

    async def test_problems_in_transcript_files_are_reported_with_lines(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            """
            transcripts:
              - name: broken
                business_hours: sometimes
                turns:
                  - shout: hi
                  - say: hi
                    bot: hello
                    bot_exact: hello
                  - wait: soon
              - turns: []
            """,
        )
        report = await run_transcripts(path)
        assert [(p.line, p.message) for p in report.problems] == [
            (3, "business_hours is open or closed"),
            (
                5,
                "'shout' is not a turn setting (advance, bot, bot_exact, buttons, channels, event, expect, "
                "payload, press, qr, say, share, start, wait)",
            ),
            (
                5,
                "a turn needs exactly one of say, press, start, event, wait, advance, share (say may go "
                "with press)",
            ),
            (6, "use bot (replies contain the texts) or bot_exact (replies equal them), not both"),
            (9, "'soon' is not a duration; write a number and a unit: 30s, 10m, 24h, 2d (or 1h30m)"),
            (10, "a transcript is a map with a name and turns"),
        ]
        assert report.results == [] and not report.ok

    async def test_new_checks_say_what_differed(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            f"""
            flows: {STEP_FLOWS}
            transcripts:
              - name: wrong expectations about the new steps
                channel: telephony
                customer: {{name: Olena, locale: en}}
                turns:
                  - event: call.missed
                    payload: {{call_id: "7"}}
                    channels: [telephony]
                  - advance: 23h
                    qr: ["PROMO-8"]
                    channels: [telephony]
                expect:
                  consents: [{{channel: sms, purpose: marketing, granted: true}}]
            """,
        )
        report = await run_transcripts(path)
        assert report.results[0].failures == [
            "turn 1 (event call.missed, line 7): expected replies on ['telephony'], got ['sms']",
            "turn 2 (advance 23:00:00, line 10): expected QR codes of ['PROMO-8'], got ['PROMO-7']",
            "at the end: expected marketing consent on sms to be True, it is not recorded",
        ]

    async def test_invalid_flows_fail_their_transcripts(self, tmp_path: Path) -> None:
        (tmp_path / "flows").mkdir()
        write(
            tmp_path / "flows",
            "id: x\nversion: 1\nstart: a\nsteps: {a: {say: Hi, next: nowhere}}\n",
            "x.yaml",
        )
        path = write(tmp_path, "flows: flows\ntranscripts:\n  - name: t\n    turns:\n      - say: hi\n")
        report = await run_transcripts(path)
        assert report.results[0].failures == [
            f"the flows are invalid:\n{tmp_path}/flows/x.yaml:4: step 'a': next goes to 'nowhere', "
            "which does not exist"
        ]
