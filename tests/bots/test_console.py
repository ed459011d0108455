"""The console simulator (`hub flows chat`): typed lines in, the real engine's replies out, on a
throwaway database. Sessions are driven by feeding lines, as a person at the terminal would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.flows import FlowSet, load_flows
from bots.flows.console import PROMPT, ConsoleIO, chat
from tests.bots.conftest import write_flow
from tests.conftest import REPO

SHIPPED = load_flows(REPO / "flows")
MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


class Session:
    """Feeds lines and records everything shown, the typed lines included (as on a terminal)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = iter(lines)
        self.shown: list[str] = []

    def read(self, prompt: str) -> str | None:
        line = next(self.lines, None)
        if line is not None:
            self.shown.append(prompt + line)
        return line

    def write(self, text: str) -> None:
        self.shown.extend(text.split("\n"))

    def io(self) -> ConsoleIO:
        return ConsoleIO(self.read, self.write)

    def after(self, typed: str) -> list[str]:
        """What was shown after ``typed`` was entered, up to the next typed line."""
        start = self.shown.index(PROMPT + typed) + 1
        end = next((i for i in range(start, len(self.shown)) if self.shown[i].startswith(PROMPT)), None)
        return self.shown[start:end]


async def talk(
    lines: list[str], flow_id: str = "support", flows: FlowSet = SHIPPED, **options: object
) -> Session:
    session = Session(lines)
    await chat(flows, flow_id, session.io(), now=MONDAY, business_hours=lambda _moment: True, **options)  # type: ignore[arg-type]
    return session


class TestConversation:
    async def test_numbers_press_buttons_and_vars_show_the_flow(self) -> None:
        session = await talk(["hi", "2", "what are your opening hours", "/vars", "/quit", "never read"])
        assert session.shown[0] == (
            "Chatting with flow 'support' (version 1, "
            f"{REPO / 'flows' / 'support.yaml'}) on webchat; it is Mon 2026-01-05 10:00 UTC."
        )
        assert "  - a message with one of the words: menu, menú" in session.shown
        assert "  - a message with one of the words: help, ayuda" in session.shown
        assert session.after("hi") == [
            "bot> Hi Ana! I'm the support assistant.",
            "bot> How can I help you?",
            "     [1] Order status",
            "     [2] I have a question",
            "     [3] Talk to a person",
        ]
        assert session.after("2") == ["bot> Go ahead, what would you like to know?"]
        assert session.after("what are your opening hours")[0].startswith("bot> We're open Monday to Friday")
        assert session.after("/vars") == [
            "  · flow support (version 1) waits at step anything_else, until Tue 2026-01-06 10:00 UTC",
            '  ·   var.faq_answered = "hours"',
            '  ·   var.menu = "faq"',
        ]
        assert PROMPT + "never read" not in session.shown

    async def test_advance_fires_the_timeout(self) -> None:
        session = await talk(["hello", "/advance 25h", "/vars"])
        assert session.after("/advance 25h") == [
            "  · it is now Tue 2026-01-06 11:00 UTC",
            'bot> Talk soon! Write "menu" whenever you need me.',
        ]
        assert (
            session.after("/vars")[0] == "  · no flow is waiting; the last flow's variables as it left them:"
        )

    async def test_events_with_payloads_and_the_customer_record(self) -> None:
        session = await talk(["/event conversation.resolved", "5", "/customer"], flow_id="feedback")
        assert session.after("/event conversation.resolved")[0].startswith(
            "bot> Your conversation with us is closed. How would you rate our help"
        )
        assert session.after("/event conversation.resolved")[1:] == [f"     [{n}] {n}" for n in range(1, 6)]
        assert session.after("5") == ['bot> Thank you! Anything you\'d like to tell us? (or write "no")']
        assert session.after("/customer") == [
            "  · customer 'Ana', locale en",
            "  ·   tags: (none)",
            "  ·   attribute.csat = 5",
        ]

    async def test_a_handoff_then_the_bot_stays_quiet(self) -> None:
        session = await talk(
            ["talk to a person", "My parcel arrived broken", "hello?", "/event order.created {}", "/vars"],
            name="Bob",
        )
        assert session.after("My parcel arrived broken") == [
            "bot> Thanks! I'm passing you to our team; someone will reply here shortly.",
            "  · handed over to people (team support). Summary for the agents:",
            '  ·   Bot flow "support" collected:',
            "  ·   - intent_score: 100.0",
            "  ·   - topic: My parcel arrived broken",
            "  · the bot stays quiet in this conversation now; /event conversation.resolved closes it",
        ]
        assert session.after("hello?") == [
            "  · (the bot is quiet: people have this conversation; /event conversation.resolved closes it)"
        ]
        assert session.after("/event order.created {}") == [
            "  · (people have this conversation: business events start no flow here)"
        ]

    async def test_the_chosen_flow_wins_over_the_others(self, tmp_path: Path) -> None:
        for name in ("a", "b"):
            write_flow(
                tmp_path,
                f"""
                id: {name}
                version: 1
                triggers: [{{conversation_opened: true}}]
                start: hello
                steps:
                  hello:
                    say: "This is {name}"
                    buttons:
                      - {{title: Shop, url: "https://shop.example.com"}}
                      - {{title: Offer, payload: offer-today}}
                """,
                f"{name}.yaml",
            )
        flows = load_flows(tmp_path)
        session = await talk(["hi", "1", "2", "3"], flow_id="b", flows=flows)
        assert session.after("hi") == [
            "bot> This is b",
            "     [1] Shop (link: https://shop.example.com)",
            "     [2] Offer",
        ]
        assert session.after("1") == ["  · the button 'Shop' opens https://shop.example.com; nothing is sent"]
        # The payload goes out; nothing waits and no flow listens for it.
        assert session.after("2") == [
            "  · (no flow answered: none is waiting for you, and no trigger matches)"
        ]
        # The buttons of the last message stay pressable; a number beyond them is just text.
        assert session.after("3") == session.after("2")

    async def test_a_share_phone_button_and_share(self, tmp_path: Path) -> None:
        write_flow(
            tmp_path,
            """
            id: ticket
            version: 1
            triggers: [{conversation_opened: true}]
            start: phone
            steps:
              phone:
                share_contact: "We need your phone number."
                button: "Share my number"
                save_to: attribute.phone
                next: thanks
              thanks:
                say: "Thanks, {{ attribute.phone }} ({{ 'verified' if var.phone_verified else 'typed' }})"
            """,
        )
        session = await talk(
            ["hi", "1", "/share 0501234567", "/share +380501234567"],
            flow_id="ticket",
            flows=load_flows(tmp_path),
            channel="telegram",
        )
        assert session.after("hi") == [
            "bot> We need your phone number.",
            "     [1] Share my number (shares your phone: /share PHONE)",
        ]
        assert session.after("1") == [
            "  · the button 'Share my number' shares your phone: type /share +380501234567"
        ]
        assert session.after("/share 0501234567") == [
            "  · /share needs a phone number in E.164, e.g. /share +380501234567, got '0501234567'"
        ]
        assert session.after("/share +380501234567") == ["bot> Thanks, +380501234567 (verified)"]

    async def test_attachments_and_replies_on_another_channel(self, tmp_path: Path) -> None:
        write_flow(
            tmp_path,
            """
            id: ticket
            version: 1
            triggers: [{conversation_opened: true}]
            start: code
            steps:
              code:
                qr: "TICKET-7"
                caption: "Show this at the door"
                next: text_too
              text_too:
                say: "Your ticket is TICKET-7"
                channel: sms
            """,
        )
        session = await talk(["hi"], flow_id="ticket", flows=load_flows(tmp_path))
        (caption, image, sms) = session.after("hi")
        assert caption == "bot> Show this at the door"
        assert image.startswith("     (image ") and image.endswith(" bytes: a QR code of 'TICKET-7')")
        assert sms == "bot> (on sms) Your ticket is TICKET-7"


class TestMistakes:
    @pytest.mark.parametrize(
        ("typed", "said"),
        [
            ("/advance", "  · /advance needs a duration such as 30s, 10m, 2h or 1d, got ''"),
            ("/advance soon", "  · /advance needs a duration such as 30s, 10m, 2h or 1d, got 'soon'"),
            ("/event", '  · /event needs an event kind, e.g. /event order.created {"order_id": 7}'),
            (
                '/event order.created {"id": 7',
                "  · the payload of /event is not JSON: Expecting ',' delimiter (at column 9)",
            ),
            (
                "/event order.created [1]",
                '  · the payload of /event must be a JSON object such as {"order_id": 7}, got [1]',
            ),
            ("/press", "  · /press needs a button payload, e.g. /press offer-today"),
            ("/dance", "  · unknown command /dance; /help lists the commands"),
        ],
    )
    async def test_bad_commands_are_explained_and_the_session_goes_on(self, typed: str, said: str) -> None:
        session = await talk([typed, "hi"])
        assert session.after(typed) == [said]
        assert session.after("hi")[0] == "bot> Hi Ana! I'm the support assistant."

    async def test_an_unknown_flow(self) -> None:
        with pytest.raises(
            LookupError, match="no flow 'nope'; the flows are feedback, missed_call, registration, support"
        ):
            await talk([], flow_id="nope")

    async def test_the_end_of_input_ends_the_session(self) -> None:
        session = await talk(["hi"])
        assert session.shown[-1] == "     [3] Talk to a person"


def test_hub_flows_chat_in_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "flows", "chat", "support", "--name", "Bob", "--locale", "es"],
        input="hola\n/quit\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HUB_CONFIG": str(REPO / "hub.yaml"), "HUB_DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "bot> ¡Hola Bob! Soy el asistente de soporte." in done.stdout
    assert "     [1] Estado del pedido" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "hub.cli", "flows", "chat", "support", "--channel", "fax"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert bad.returncode == 2 and "unknown channel type 'fax'" in bad.stderr
