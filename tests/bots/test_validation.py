"""Validation of flows: every mistake reported at once, each with its file, line and a plain sentence.

tests/bots/broken/ holds deliberately broken flows; the exact messages are asserted here, so a
change that makes them vaguer (or loses one) fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.flows import FlowError, load_flows, validate
from tests.bots.conftest import write_flow
from tests.conftest import REPO

BROKEN = Path(__file__).parent / "broken"
CIRCLE = "a flow cannot call itself, directly or through other flows"

EXPECTED = [
    (
        "bad_condition.yaml",
        7,
        "step 'route': bad condition 'attribute.city = \"Lviv\"': '=' is not a comparison; write "
        "'==' to compare (at column 16)",
    ),
    (
        "bad_condition.yaml",
        9,
        "step 'route': bad condition 'var.rating >= 4 and vip in tags': unknown name 'vip' (use "
        "var., attribute., tags, channel, locale, name, business_hours, segments); text must be in quotes: "
        '"vip" (at column 21)',
    ),
    ("bad_condition.yaml", 11, "step 'route': each branch rule needs 'if' (a condition) and 'then' (a step)"),
    (
        "bad_regex.yaml",
        8,
        "step 'code': the pattern [A-Z{3}-(\\d+ is not a valid regex: bad character range }-( at position 6",
    ),
    ("bad_regex.yaml", 9, "step 'code': 'min' only applies to type: number"),
    ("bad_template.yaml", 7, "step 'hello': 'say' (en): the template does not compile: unexpected '}'"),
    (
        "bad_template.yaml",
        10,
        "step 'hello': 'say' (es): the template does not compile: Unexpected end of template. Jinja "
        "was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that "
        "needs to be closed is 'if'.",
    ),
    (
        "calls_a.yaml",
        6,
        f"step 'first': calling 'calls-b' goes round in a circle (calls-a -> calls-b -> calls-a); {CIRCLE}",
    ),
    (
        "calls_a.yaml",
        9,
        "step 'second': calls the flow 'calls-nowhere', which does not exist (did you mean 'calls-c' or "
        "'calls-b'?)",
    ),
    ("calls_a.yaml", 13, "step 'third': the flow 'calls-c' has no step 'strret' (did you mean 'street'?)"),
    (
        "calls_a.yaml",
        16,
        f"step 'fourth': calling 'calls-a' goes round in a circle (calls-a -> calls-a); {CIRCLE}",
    ),
    (
        "calls_b.yaml",
        6,
        f"step 'back': calling 'calls-a' goes round in a circle (calls-b -> calls-a -> calls-b); {CIRCLE}",
    ),
    ("dup_b.yaml", 1, f"the flow id 'dup' is already used by {BROKEN}/dup_a.yaml"),
    ("dup_c.yaml", 4, f"button 'offer' already starts the flow 'dup' ({BROKEN}/dup_a.yaml)"),
    ("dup_c.yaml", 5, f"keyword 'Promo' already starts the flow 'dup' ({BROKEN}/dup_a.yaml)"),
    ("faq/broken.csv", 4, "entry 'returns' has no answer"),
    ("faq/broken.csv", 5, "the id column is empty"),
    ("faq/broken.csv", 6, "'english' is not a language code such as en or es"),
    ("faq_missing.yaml", 6, "step 'q': knowledge base 'faq/nowhere.yaml' does not exist"),
    ("loop.yaml", 6, "steps a -> b -> a go round in a loop without waiting for the customer"),
    ("missing_target.yaml", 1, "the start step 'welcome' does not exist"),
    (
        "missing_target.yaml",
        7,
        "step 'hello': next goes to 'menuu', which does not exist (did you mean 'menu'?)",
    ),
    (
        "missing_target.yaml",
        12,
        "step 'menu': goto goes to 'answr', which does not exist (did you mean 'answer'?)",
    ),
    (
        "missing_target.yaml",
        14,
        "step 'menu': on_fail goes to 'helo', which does not exist (did you mean 'hello'?)",
    ),
    ("missing_target.yaml", 18, "step 'answer': then goes to 'thanks', which does not exist"),
    (
        "new_steps.yaml",
        6,
        "step 'nap': 'wait': 'soon' is not a duration; write a number and a unit: 30s, 10m, 24h, 2d "
        "(or 1h30m)",
    ),
    (
        "new_steps.yaml",
        9,
        "step 'morning': 'until' must be a time in quotes (\"09:00\", \"2026-01-10T09:00\"), got 540",
    ),
    (
        "new_steps.yaml",
        12,
        "step 'late': 'until': '25:00' is not a time; write HH:MM (09:00) or an ISO date and time "
        "(2026-01-10T09:00)",
    ),
    (
        "new_steps.yaml",
        13,
        "step 'late': 'timeout' only applies to waiting for an event; a wait for a time is its own timeout",
    ),
    (
        "new_steps.yaml",
        17,
        "step 'paid': 'wait' is for a time (until) or for an event, not both; use two steps",
    ),
    (
        "new_steps.yaml",
        20,
        "step 'billed': 'event' takes an event kind such as order.paid (or a list of them), got 'order paid'",
    ),
    (
        "new_steps.yaml",
        23,
        "step 'agree': 'channel' is current, any, or one of webchat, telegram, viber, whatsapp, sms, email, "
        "api, voice, got 'fax'",
    ),
    (
        "new_steps.yaml",
        23,
        "step 'agree': 'granted' is true, false or one answer (\"{{ var.agrees }}\"), got 'yes'",
    ),
    ("new_steps.yaml", 23, "step 'agree': 'purpose' is one of transactional, marketing, got 'newsletters'"),
    (
        "new_steps.yaml",
        26,
        "step 'phone': 'timeout' and 'on_timeout' go together: how long to wait, and where to go",
    ),
    ("new_steps.yaml", 27, "step 'phone': save_to must be var.NAME or attribute.NAME, got 'phone'"),
    ("new_steps.yaml", 31, "step 'code': 'qr' (the text to encode) must be a non-empty text"),
    ("new_steps.yaml", 32, "step 'code': 'caption': 'english' is not a language code such as en or es"),
    (
        "new_steps.yaml",
        36,
        "step 'sms': 'channel' is the channel type to send on: one of webchat, telegram, viber, whatsapp, "
        "sms, email, api, got 'fax'",
    ),
    ("schema.yaml", 1, "the flow needs a 'version' (e.g. version: 1); raise it when you change it"),
    (
        "schema.yaml",
        1,
        "the id 'Schema Errors' must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
    ),
    ("schema.yaml", 2, "unknown setting 'trigers' (did you mean 'triggers'?)"),
    ("schema.yaml", 6, "step 'ask_email': 'ask': 'english' is not a language code such as en or es"),
    (
        "schema.yaml",
        7,
        "step 'ask_email': unknown answer type 'mail'; use one of text, number, email, phone, date, "
        "choice, yes_no, regex",
    ),
    ("schema.yaml", 8, "step 'ask_email': save_to must be var.NAME or attribute.NAME, got 'email'"),
    ("schema.yaml", 9, "step 'ask_email': 'max_tries' must be a whole number, got 'three'"),
    (
        "schema.yaml",
        10,
        "step 'ask_email': 'timeout': '10 minutes' is not a duration; write a number and a unit: "
        "30s, 10m, 24h, 2d (or 1h30m)",
    ),
    ("schema.yaml", 12, "step 'ask_email': 'colour' is not a setting of ask steps"),
    ("schema.yaml", 14, "step 'pick': a choice question needs 'choices': a list of options"),
    ("schema.yaml", 19, "step 'info': a button needs exactly one of payload or url"),
    ("schema.yaml", 20, "step 'info': a button needs exactly one of payload or url"),
    ("schema.yaml", 21, "step 'info': 'example.com' is not a link (https://...)"),
    ("schema.yaml", 22, "'info' appears twice here (first on line 16)"),
    ("team.yaml", 6, "step 'human': team 'suport' is not in hub.yaml's teams (support, sales)"),
    ("triggers.yaml", 4, "unknown trigger 'keywrd' (did you mean 'keyword'?)"),
    ("triggers.yaml", 6, "'threshold' is a score from 1 to 100, got 150"),
    ("triggers.yaml", 7, "event pattern 'order created' must be one word of at most 64 characters"),
    ("triggers.yaml", 8, "write 'conversation_opened: true'"),
    ("triggers.yaml", 9, "one trigger per list item; this one has button and start"),
    ("triggers.yaml", 11, "the keyword trigger starts at 'nowhere', which does not exist"),
    ("unknown_kind.yaml", 6, "step 'hello': unknown step kind 'sey' (did you mean 'set' or 'say'?)"),
    ("unknown_kind.yaml", 8, "step 'later': unknown step kind 'pause'"),
    ("unknown_kind.yaml", 10, "step 'both' has two kinds (say and ask); split it in two steps"),
    ("unreachable.yaml", 9, "step 'orphan' is never reached from the start step 'hello'"),
    ("yaml_syntax.yaml", 7, "not valid YAML: expected ',' or ']', but got '<stream end>'"),
]


def where(file: str) -> str:
    return str(BROKEN / file)


class TestBrokenFlows:
    def test_every_problem_is_reported_with_file_line_and_sentence(self) -> None:
        problems = validate(BROKEN, teams=["support", "sales"])
        assert [(p.file, p.line, p.message) for p in problems] == [
            (where(file), line, message) for file, line, message in EXPECTED
        ]

    def test_problems_print_as_file_line_message(self) -> None:
        problem = validate(BROKEN / "unreachable.yaml")[0]
        assert (
            str(problem)
            == f"{BROKEN}/unreachable.yaml:9: step 'orphan' is never reached from the start step 'hello'"
        )

    def test_without_the_hub_teams_handoff_teams_are_not_checked(self) -> None:
        assert validate(BROKEN / "team.yaml") == []

    def test_a_yaml_file_that_is_not_a_flow_is_skipped_in_a_folder_but_reported_alone(self) -> None:
        assert not any("not_a_flow" in p.file for p in validate(BROKEN))
        alone = [p.message for p in validate(BROKEN / "not_a_flow.yaml")]
        assert alone == [
            "'start' must name the first step",
            "'steps' is a map of step name -> step (say, ask, ...)",
            "the flow needs a 'version' (e.g. version: 1); raise it when you change it",
            "the flow needs an 'id' (e.g. id: support)",
            "unknown setting 'greeting'",
        ]

    def test_a_missing_path_is_a_problem(self, tmp_path: Path) -> None:
        assert [str(p) for p in validate(tmp_path / "nope")] == [f"{tmp_path}/nope: no such file or folder"]


class TestActivation:
    def test_the_shipped_flows_are_valid(self) -> None:
        assert validate(REPO / "flows", teams=["support", "callbacks"]) == []
        assert load_flows(REPO / "flows").ids == ["feedback", "missed_call", "registration", "support"]

    def test_one_invalid_file_keeps_the_whole_folder_from_loading(self, tmp_path: Path) -> None:
        write_flow(tmp_path, "id: good\nversion: 1\nstart: a\nsteps: {a: {say: Hi}}\n", "good.yaml")
        write_flow(tmp_path, "id: bad\nversion: 1\nstart: a\nsteps: {a: {say: Hi, next: b}}\n", "bad.yaml")
        with pytest.raises(FlowError) as error:
            load_flows(tmp_path)
        assert [str(p) for p in error.value.problems] == [
            f"{tmp_path}/bad.yaml:4: step 'a': next goes to 'b', which does not exist"
        ]
        assert str(error.value) == f"{tmp_path}/bad.yaml:4: step 'a': next goes to 'b', which does not exist"

    def test_a_loop_through_a_question_is_fine(self, tmp_path: Path) -> None:
        write_flow(
            tmp_path,
            """
            id: loop-ok
            version: 1
            start: a
            steps:
              a: {ask: "Again?", type: yes_no, next: b}
              b:
                branch: [{if: var.a, then: a}]
                else: c
              c: {end: true}
            """,
        )
        assert validate(tmp_path) == []


class TestCallsAcrossFiles:
    def test_one_file_is_checked_against_the_flows_of_its_folder(self) -> None:
        # calls_c.yaml alone is fine; calls_a.yaml alone still finds calls-b and calls-c next to it.
        assert validate(BROKEN / "calls_c.yaml") == []
        assert [(p.line, p.message.split(":")[0]) for p in validate(BROKEN / "calls_a.yaml")] == [
            (6, "step 'first'"),
            (9, "step 'second'"),
            (13, "step 'third'"),
            (16, "step 'fourth'"),
        ]

    def test_a_step_only_a_call_starts_at_is_reachable_and_a_loop_through_a_call_is_fine(
        self, tmp_path: Path
    ) -> None:
        write_flow(
            tmp_path,
            """
            id: menu
            version: 1
            start: a
            steps:
              a: {call: address, step: street, next: b}
              b: {goto: a}
            """,
            "menu.yaml",
        )
        write_flow(
            tmp_path,
            """
            id: address
            version: 1
            start: city
            steps:
              city: {ask: "City?"}
              street: {ask: "Street?"}            # only the call in menu starts here
              only_called: {say: "never reached"}
            """,
            "address.yaml",
        )
        assert [p.message for p in validate(tmp_path)] == [
            "step 'only_called' is never reached from the start step 'city'"
        ]
