"""Transcript tests: every transcript in flows/tests/ is a pytest test on SQLite and PostgreSQL, and
the runner's own behaviour (reports, failures, file problems) is checked here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bots.flows import run_transcripts
from bots.flows.transcripts import FlowCache, collect_transcripts, play
from bots.flows.transcripts.model import Transcript
from hub.db import Database
from tests.conftest import REPO

SHIPPED, SHIPPED_PROBLEMS = collect_transcripts(REPO / "flows" / "tests")
FLOWS = FlowCache()


def test_the_shipped_transcript_files_are_well_formed() -> None:
    assert SHIPPED_PROBLEMS == []
    assert {Path(t.file).name for t in SHIPPED} == {"support.yaml", "feedback.yaml"}


@pytest.mark.parametrize("transcript", SHIPPED, ids=lambda t: t.id)
async def test_shipped_transcript(db: Database, transcript: Transcript) -> None:
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
                "'shout' is not a turn setting (bot, bot_exact, buttons, event, expect, payload, press, say, "
                "start, wait)",
            ),
            (5, "a turn needs exactly one of say, press, start, event, wait (say may go with press)"),
            (6, "use bot (replies contain the texts) or bot_exact (replies equal them), not both"),
            (9, "'soon' is not a duration; write a number and a unit: 30s, 10m, 24h, 2d (or 1h30m)"),
            (10, "a transcript is a map with a name and turns"),
        ]
        assert report.results == [] and not report.ok

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
