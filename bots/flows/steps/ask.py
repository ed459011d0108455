"""``ask``: a question whose answer is checked, converted and stored, with re-prompts and a timeout.

.. code-block:: yaml

    ask_email:
      ask: {en: "What is your email?", es: "¿Cuál es tu correo?"}
      type: email                # text, number, email, phone, date, choice, yes_no, regex
      save_to: attribute.email   # or var.NAME; default var.<this step's name>
      retry: {en: "That does not look like an email.", es: "Eso no parece un correo."}
      max_tries: 3               # then on_fail (or the flow ends)
      on_fail: human
      timeout: 24h               # then on_timeout
      on_timeout: goodbye
      next: thanks

Choices come back as button payloads, or typed: the value, a title (any language, accents and case
ignored), the option's number ("2"), or a close fuzzy match of a title. A yes/no question also takes
the number of its Yes/No button, as SMS and WhatsApp list the buttons ("1. Yes", "2. No").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bots.flows.answers import AnswerType, InvalidAnswer, parse_scalar
from bots.flows.matching import fold_accents, normalize, phrase_score, same_text
from bots.flows.model import SaveTarget
from bots.flows.outcomes import Finish, Next, Outcome, Wait, WaitingFor, after
from bots.flows.steps import defaults
from bots.flows.steps.base import Answer, Link, WaitingStep
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText
from bots.flows.yamlsource import LineList, LineMap
from channels.contract import Button
from crm_core.attributes import InvalidAttribute

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

# A typed answer this close to exactly one choice title picks it ("Questons" -> "Questions").
_FUZZY_CHOICE = 85.0
_MAX_PAYLOAD = 64


@dataclass(frozen=True)
class Choice:
    value: Any
    title: LocalText
    payload: str
    line: int
    goto: str | None = None


@dataclass(frozen=True, kw_only=True)
class AskStep(WaitingStep):
    kind: ClassVar[str] = "ask"

    question: LocalText
    type: AnswerType = AnswerType.TEXT
    save_to: SaveTarget
    choices: tuple[Choice, ...] = ()
    pattern: re.Pattern[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    retry: LocalText | None = None
    max_tries: int = 3
    on_fail: str | None = None
    on_fail_line: int = 0
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        links = [Link(c.goto, c.line, "goto") for c in self.choices if c.goto]
        if self.next:
            links.append(Link(self.next, self.next_line, "next"))
        if self.on_fail:
            links.append(Link(self.on_fail, self.on_fail_line, "on_fail"))
        return links + self.timeout_links()

    def buttons(self, ctx: TurnContext) -> list[Button]:
        if self.type is AnswerType.CHOICE:
            return [Button(title=ctx.render(c.title), payload=c.payload) for c in self.choices]
        if self.type is AnswerType.YES_NO:
            return [
                Button(title=ctx.render(defaults.YES), payload="yes"),
                Button(title=ctx.render(defaults.NO), payload="no"),
            ]
        return []

    async def run(self, ctx: TurnContext) -> Outcome:
        ctx.say(self.question, self.buttons(ctx))
        return Wait(WaitingFor.ANSWER)

    async def on_answer(self, ctx: TurnContext, answer: Answer) -> Outcome:
        goto: str | None = None
        try:
            if self.type is AnswerType.CHOICE:
                choice = self.choose(answer)
                value, goto = choice.value, choice.goto
            else:
                payload = answer.payload
                if payload is None and self.type is AnswerType.YES_NO:
                    payload = self._numbered_button(ctx, answer.text)
                value = parse_scalar(
                    self.type,
                    answer.text,
                    payload,
                    pattern=self.pattern,
                    minimum=self.minimum,
                    maximum=self.maximum,
                    default_region=ctx.default_region,
                )
            try:
                await ctx.store(self.save_to, value, step=self.name, why="answer to a question")
            except InvalidAttribute as exc:
                raise InvalidAnswer(str(exc)) from None
        except InvalidAnswer:
            if answer.tries + 1 >= self.max_tries:
                return Next(self.on_fail) if self.on_fail else Finish()
            ctx.say(self.retry or self.question, self.buttons(ctx))
            return Wait(WaitingFor.ANSWER, failed_try=True)
        return Next(goto) if goto else after(self.next)

    def _numbered_button(self, ctx: TurnContext, text: str) -> str | None:
        """The payload of the button numbered ``text``: channels without buttons show them as a
        numbered list and ask for the number ("Reply 1 or 2"); the number is the press."""
        number = text.strip()
        buttons = self.buttons(ctx)
        if number.isdigit() and 1 <= int(number) <= len(buttons):
            return buttons[int(number) - 1].payload
        return None

    def claims(self, answer: Answer) -> bool:
        if self.type is AnswerType.YES_NO:
            return answer.payload in ("yes", "no")
        if self.type is not AnswerType.CHOICE:
            return False
        text = answer.text.strip()
        return any(
            answer.payload == c.payload
            or same_text(text, str(c.value))
            or any(same_text(text, title) for title in c.title.plain_variants())
            for c in self.choices
        )

    def choose(self, answer: Answer) -> Choice:
        if answer.payload is not None:
            for choice in self.choices:
                if choice.payload == answer.payload:
                    return choice
        text = answer.text.strip()
        for choice in self.choices:
            if same_text(text, str(choice.value)):
                return choice
        for choice in self.choices:
            if any(same_text(text, title) for title in choice.title.plain_variants()):
                return choice
        if text.isdigit() and 1 <= int(text) <= len(self.choices):
            return self.choices[int(text) - 1]
        scored = sorted(
            (
                (max(phrase_score(text, t, processor=_process) for t in c.title.plain_variants()), i)
                for i, c in enumerate(self.choices)
            ),
            reverse=True,
        )
        if scored and scored[0][0] >= _FUZZY_CHOICE and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return self.choices[scored[0][1]]
        raise InvalidAnswer(f"{answer.text!r} is none of the choices")


def _process(text: str) -> str:
    return fold_accents(normalize(text))


def _read_choices(reader: StepReader) -> tuple[Choice, ...]:
    raw = reader.node.get("choices")
    if not isinstance(raw, LineList) or not raw:
        reader.problem(reader.line_of("choices"), "a choice question needs 'choices': a list of options")
        return ()
    choices: list[Choice] = []
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        if not isinstance(item, LineMap):
            item_map = LineMap(line)
            item_map["value"] = item
        else:
            item_map = item
            for extra in (k for k in item if k not in ("value", "title", "payload", "goto")):
                reader.problem(
                    item.key_lines[extra], f"{extra!r} is not a choice setting (value, title, payload, goto)"
                )
        value = item_map.get("value")
        if not isinstance(value, str | int | float | bool):
            reader.problem(line, "each choice needs a value: a text or a number (quote dates)")
            continue
        title_raw = item_map.get("title", str(value))
        title = reader.local_text(title_raw, item_map.line_of("title"), "the choice title")
        payload = str(item_map.get("payload", value))
        if len(payload) > _MAX_PAYLOAD:
            reader.problem(line, f"the choice payload {payload!r} is longer than {_MAX_PAYLOAD} characters")
            continue
        goto = None
        if "goto" in item_map:
            goto = reader.step_name(item_map["goto"], item_map.line_of("goto"), "the choice's goto")
        if any(c.payload == payload for c in choices):
            reader.problem(line, f"two choices have the payload {payload!r}")
            continue
        if title is not None:
            choices.append(Choice(value, title, payload, line, goto))
    return tuple(choices)


def parse(reader: StepReader) -> AskStep | None:
    reader.check_keys(
        {"type", "save_to", "choices", "pattern", "min", "max", "retry", "max_tries", "on_fail"}
        | {"timeout", "on_timeout", "next"}
    )
    question = reader.text("ask", required=True)
    type_name = reader.node.get("type", "text")
    try:
        answer_type = AnswerType(type_name)
    except ValueError:
        reader.problem(
            reader.line_of("type"),
            f"unknown answer type {type_name!r}; use one of {', '.join(t.value for t in AnswerType)}",
        )
        answer_type = AnswerType.TEXT
    save_to = (
        reader.save_target(reader.node["save_to"], reader.line_of("save_to"), "save_to")
        if "save_to" in reader.node
        else SaveTarget("var", reader.name.replace("-", "_"))
    )
    choices = _read_choices(reader) if answer_type is AnswerType.CHOICE else ()
    if answer_type is not AnswerType.CHOICE and "choices" in reader.node:
        reader.problem(reader.line_of("choices"), "'choices' only applies to type: choice")
    pattern = None
    if answer_type is AnswerType.REGEX:
        source = reader.node.get("pattern")
        if not isinstance(source, str) or not source:
            reader.problem(reader.line_of("pattern"), "a regex question needs 'pattern'")
        else:
            try:
                pattern = re.compile(source)
            except re.error as exc:
                reader.problem(reader.line_of("pattern"), f"the pattern {source} is not a valid regex: {exc}")
    elif "pattern" in reader.node:
        reader.problem(reader.line_of("pattern"), "'pattern' only applies to type: regex")
    minimum = reader.number("min")
    maximum = reader.number("max")
    for bound in ("min", "max"):
        if answer_type is not AnswerType.NUMBER and bound in reader.node:
            reader.problem(reader.line_of(bound), f"{bound!r} only applies to type: number")
    if minimum is not None and maximum is not None and minimum > maximum:
        reader.problem(reader.line_of("min"), f"'min' ({minimum:g}) is above 'max' ({maximum:g})")
    retry = reader.text("retry")
    max_tries = reader.integer("max_tries", 3, low=1, high=20)
    timeout, on_timeout = reader.timeout()
    on_fail = reader.target("on_fail")
    next_step = reader.target("next")
    if question is None or save_to is None:
        return None
    return AskStep(
        name=reader.name,
        line=reader.line,
        question=question,
        type=answer_type,
        save_to=save_to,
        choices=choices,
        pattern=pattern,
        minimum=minimum,
        maximum=maximum,
        retry=retry,
        max_tries=max_tries,
        on_fail=on_fail,
        on_fail_line=reader.line_of("on_fail"),
        timeout=timeout,
        on_timeout=on_timeout,
        timeout_line=reader.line_of("on_timeout"),
        next=next_step,
        next_line=reader.line_of("next"),
    )
