"""Talking to a flow in the terminal (`hub flows chat FLOW`): you type as the customer, the real
engine answers on a throwaway database, and commands move the clock or send business events.

The hub's part (a conversation, handoffs, the clock) is bots.flows.transcripts.simulation, the same
stand-in transcript tests use, so the console behaves exactly like `hub flows test`. Input and output
are two callables (ConsoleIO), so tests drive a session by feeding lines.

Commands::

    /advance 2h                     move the clock on; due timeouts fire
    /event order.created {"id": 7}  a business event, with an optional JSON object as payload
    /start [PAYLOAD]                start the bot from a deep link (Telegram /start, Viber)
    /press PAYLOAD                  press a button by its payload
    /share +380501234567            share your phone (a share-phone button)
    /vars                           the flow's variables and where it waits
    /customer                       the customer's attributes and tags
    /help, /quit
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bots.flows.context import BusinessHours
from bots.flows.durations import InvalidDuration, parse_duration
from bots.flows.model import Flow, FlowSet, Trigger, TriggerKind
from bots.flows.result import FlowResult
from bots.flows.transcripts.database import scratch_database
from bots.flows.transcripts.simulation import RESOLVED, STAND_IN_HOST, Simulation
from channels.contract import Attachment, Button
from crm_core.columns import utcnow

# A phone as /share takes it: E.164, as the channel would vouch for it.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

PROMPT = "you> "
BOT = "bot> "
NOTE = "  · "
INDENT = " " * len(BOT)

HELP = """\
Type a message as the customer, or a button's number to press it. Commands:
  /advance 2h                     move the clock on (30s, 10m, 2h, 1d); due timeouts fire
  /event KIND [JSON]              a business event, e.g. /event order.created {"order_id": 7}
  /start [PAYLOAD]                start the bot from a deep link
  /press PAYLOAD                  press a button by its payload
  /share PHONE                    share your phone, e.g. /share +380501234567 (a share-phone button)
  /vars                           the flow's variables and where it waits
  /customer                       the customer's attributes and tags
  /help                           this text
  /quit                           leave (end of input does too)"""


@dataclass(frozen=True)
class ConsoleIO:
    """``read(prompt)`` returns the next line typed, or None at the end of input; ``write`` shows
    one line (or several, joined by newlines)."""

    read: Callable[[str], str | None]
    write: Callable[[str], None]


def terminal() -> ConsoleIO:
    """Standard input and output."""

    def read(prompt: str) -> str | None:
        try:
            return input(prompt)
        except (EOFError, KeyboardInterrupt):
            return None

    return ConsoleIO(read, print)


class CommandError(ValueError):
    """A command typed wrongly; the message says how to write it."""


def how_it_starts(trigger: Trigger) -> str:
    """What to type in the console to fire ``trigger``."""
    patterns = ", ".join(trigger.patterns)
    match trigger.kind:
        case TriggerKind.CONVERSATION_OPENED:
            text = "any first message (it opens a conversation)"
        case TriggerKind.KEYWORD:
            text = f"a message with one of the words: {patterns}"
        case TriggerKind.INTENT:
            text = f"a message like: {patterns}"
        case TriggerKind.START:
            text = f"/start {patterns}" if patterns else "/start"
        case TriggerKind.BUTTON:
            text = f"/press {patterns}"
        case TriggerKind.EVENT:
            text = f"/event {patterns}"
        case _:
            text = f"a {trigger.kind.value} trigger"
    if trigger.channels:
        text += f" (on {', '.join(trigger.channels)} only)"
    return text


def parse_event(argument: str) -> tuple[str, dict[str, Any]]:
    """``order.created {"order_id": 7}`` -> the kind and the payload (an empty one when none)."""
    kind, _, rest = argument.strip().partition(" ")
    if not kind:
        raise CommandError('/event needs an event kind, e.g. /event order.created {"order_id": 7}')
    if not rest.strip():
        return kind, {}
    try:
        payload = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise CommandError(f"the payload of /event is not JSON: {exc.msg} (at column {exc.colno})") from None
    if not isinstance(payload, dict):
        raise CommandError(
            f'the payload of /event must be a JSON object such as {{"order_id": 7}}, got {rest}'
        )
    return kind, payload


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _moment(value: datetime) -> str:
    return value.strftime("%a %Y-%m-%d %H:%M UTC")


class Console:
    def __init__(self, simulation: Simulation, flow: Flow, io: ConsoleIO) -> None:
        self.simulation = simulation
        self.flow = flow
        self.io = io
        # The buttons of the bot's latest message with buttons: typing a number presses one.
        self.buttons: tuple[Button, ...] = ()

    async def run(self) -> None:
        self.intro()
        while True:
            line = self.io.read(PROMPT)
            if line is None:
                break
            try:
                if not await self.handle(line):
                    break
            except CommandError as exc:
                self.note(str(exc))
        await self.simulation.stop()

    def intro(self) -> None:
        flow = self.flow
        simulation = self.simulation
        self.io.write(
            f"Chatting with flow {flow.id!r} (version {flow.version}, {flow.file}) on {simulation.channel}; "
            f"it is {_moment(simulation.now)}."
        )
        if flow.triggers:
            self.io.write("It starts on:")
            for trigger in flow.triggers:
                target = f" -> step {trigger.step}" if trigger.step else ""
                self.io.write(f"  - {how_it_starts(trigger)}{target}")
        else:
            self.io.write("It has no triggers, so nothing you type starts it.")
        self.io.write("Type a message, a button's number, or /help.")

    def note(self, text: str) -> None:
        self.io.write(NOTE + text)

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False when the session should end."""
        text = line.strip()
        if not text.startswith("/"):
            await self.message(text)
            return True
        command, _, argument = text.partition(" ")
        argument = argument.strip()
        match command:
            case "/quit" | "/exit":
                return False
            case "/help":
                self.io.write(HELP)
            case "/advance":
                await self.advance(argument)
            case "/event":
                await self.event(argument)
            case "/start":
                self.show(await self.simulation.start(argument), self.unanswered())
            case "/press":
                if not argument:
                    raise CommandError("/press needs a button payload, e.g. /press offer-today")
                self.show(await self.simulation.press(argument, argument), self.unanswered())
            case "/share":
                if not _E164.match(argument):
                    raise CommandError(
                        f"/share needs a phone number in E.164, e.g. /share +380501234567, got {argument!r}"
                    )
                self.show(await self.simulation.share(argument), self.unanswered())
            case "/vars":
                await self.variables()
            case "/customer":
                await self.customer()
            case _:
                raise CommandError(f"unknown command {command}; /help lists the commands")
        return True

    async def message(self, text: str) -> None:
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            button = self.buttons[int(text) - 1]
            if button.request_contact:
                self.note(f"the button {button.title!r} shares your phone: type /share +380501234567")
                return
            if button.payload is None:
                where = f"opens {button.url}" if button.url else "cannot be pressed here"
                self.note(f"the button {button.title!r} {where}; nothing is sent")
                return
            result = await self.simulation.press(button.payload, button.title)
        else:
            result = await self.simulation.say(text)
        self.show(result, self.unanswered())

    async def event(self, argument: str) -> None:
        kind, payload = parse_event(argument)
        result = await self.simulation.event(kind, payload)
        if kind != RESOLVED and not self.simulation.conversation.bot_active:
            self.show(result, "(people have this conversation: business events start no flow here)")
        else:
            self.show(result, f"(no flow starts on {kind})")

    async def advance(self, argument: str) -> None:
        try:
            duration = parse_duration(argument)
        except InvalidDuration:
            raise CommandError(
                f"/advance needs a duration such as 30s, 10m, 2h or 1d, got {argument!r}"
            ) from None
        result = await self.simulation.wait(duration)
        self.note(f"it is now {_moment(self.simulation.now)}")
        self.show(result, None)

    def unanswered(self) -> str:
        """Why a message got no answer at all."""
        if not self.simulation.conversation.bot_active:
            return f"(the bot is quiet: people have this conversation; /event {RESOLVED} closes it)"
        return "(no flow answered: none is waiting for you, and no trigger matches)"

    def show(self, result: FlowResult, unanswered: str | None) -> None:
        """The bot's replies (numbering buttons) and a handoff; ``unanswered`` is said when no flow
        handled the action at all."""
        for reply in result.replies:
            # A reply the flow sends on another of the customer's channels (an SMS) says so.
            where = f"(on {reply.channel_type}) " if reply.channel_type else ""
            lines = reply.text.splitlines() or [""]
            self.io.write(BOT + where + lines[0])
            for extra in lines[1:]:
                self.io.write(INDENT + extra)
            for attachment in reply.attachments:
                self.io.write(f"{INDENT}({_attachment_note(attachment)})")
            for number, button in enumerate(reply.buttons, start=1):
                self.io.write(f"{INDENT}[{number}] {button.title}{_button_note(button)}")
        with_buttons = [reply for reply in result.replies if reply.buttons]
        if with_buttons:
            self.buttons = with_buttons[-1].buttons
        elif result.replies:
            self.buttons = ()
        if result.handoff is not None:
            team = f" (team {result.handoff.team})" if result.handoff.team else ""
            self.note(f"handed over to people{team}. Summary for the agents:")
            for summary_line in result.handoff.summary.splitlines():
                self.io.write(f"{NOTE}  {summary_line}")
            self.note(f"the bot stays quiet in this conversation now; /event {RESOLVED} closes it")
        elif not result.replies:
            if result.flow_id is not None:
                self.note("(no reply)")
            elif unanswered:
                self.note(unanswered)

    async def variables(self) -> None:
        state = await self.simulation.waiting()
        values: Mapping[str, Any]
        if state is not None:
            until = f", until {_moment(state.deadline)}" if state.deadline is not None else ""
            self.note(
                f"flow {state.flow_id} (version {state.flow_version}) waits at step {state.step}{until}"
            )
            values = state.variables
        else:
            self.note("no flow is waiting; the last flow's variables as it left them:")
            values = self.simulation.variables
        if not values:
            self.note("  (no variables)")
        for key in sorted(values):
            self.note(f"  var.{key} = {_json(values[key])}")

    async def customer(self) -> None:
        customer = await self.simulation.customer()
        self.note(f"customer {customer.display_name!r}, locale {customer.locale or 'not set'}")
        self.note(f"  tags: {', '.join(customer.tags) if customer.tags else '(none)'}")
        if not customer.attributes:
            self.note("  attributes: (none)")
        for key in sorted(customer.attributes):
            self.note(f"  attribute.{key} = {_json(customer.attributes[key])}")


def _attachment_note(attachment: Attachment) -> str:
    """``image qr.png, 412 bytes: a QR code of 'TICKET-7'``."""
    what = " ".join(part for part in (attachment.kind, attachment.filename or attachment.url) if part)
    size = len(attachment.content) if attachment.content is not None else attachment.size
    note = f"{what}, {size} bytes" if size is not None else what
    encoded = attachment.data.get("qr")
    return f"{note}: a QR code of {encoded!r}" if isinstance(encoded, str) else note


def _button_note(button: Button) -> str:
    if button.url:
        return f" (link: {button.url})"
    if button.request_contact:
        return " (shares your phone: /share PHONE)"
    return ""


async def chat(
    flows: FlowSet,
    flow_id: str,
    io: ConsoleIO,
    *,
    channel: str = "webchat",
    locale: str | None = "en",
    name: str = "Ana",
    business_hours: BusinessHours | None = None,
    now: datetime | None = None,
    default_region: str | None = None,
    timezone: str | None = None,
) -> None:
    """Chat with ``flows`` as a new customer until /quit or the end of input. ``flow_id``'s triggers
    are tried before the other flows' (so it wins where two would start), and the others stay active
    as in the hub. Runs on a throwaway SQLite database; the clock starts at ``now`` (default: the
    real time) and moves only with /advance. ``timezone`` is the business's (waits until a time of
    day); deep links and accounts are the transcripts' stand-ins."""
    flow = flows.get(flow_id)
    if flow is None:
        raise LookupError(f"no flow {flow_id!r}; the flows are {', '.join(flows.ids) or 'none'}")
    ordered = FlowSet((flow, *(other for other in flows if other.id != flow_id)))
    async with scratch_database() as transactions:
        simulation = Simulation(
            ordered,
            transactions,
            channel=channel,
            business_hours=business_hours,
            now=now or utcnow(),
            default_region=default_region,
            engine_options={"host": STAND_IN_HOST, "timezone": timezone},
        )
        await simulation.create_customer(name=name, locale=locale)
        await Console(simulation, flow, io).run()
