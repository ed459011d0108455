"""``say``: send a text (per locale, templated), optionally with buttons, then continue.

.. code-block:: yaml

    hello:
      say: {en: "Hi {{ name }}!", es: "¡Hola {{ name }}!"}
      buttons:
        - {title: {en: Our shop, es: Nuestra tienda}, url: "https://shop.example.com"}
        - {title: {en: Main menu, es: Menú}, payload: menu}
      next: menu
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.outcomes import Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText
from bots.flows.yamlsource import LineList, LineMap
from channels.contract import Button

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

_MAX_PAYLOAD = 64  # Telegram's callback data limit, the strictest of the channels


@dataclass(frozen=True)
class ButtonSpec:
    """A button of a say step: a ``payload`` that comes back when pressed (and can start a flow
    through a ``button`` trigger), or a ``url`` to open."""

    title: LocalText
    payload: str | None = None
    url: str | None = None

    def render(self, ctx: TurnContext) -> Button:
        return Button(title=ctx.render(self.title), payload=self.payload, url=self.url)


@dataclass(frozen=True, kw_only=True)
class SayStep(Step):
    kind: ClassVar[str] = "say"

    text: LocalText
    buttons: tuple[ButtonSpec, ...] = ()
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        return [Link(self.next, self.next_line, "next")] if self.next else []

    async def run(self, ctx: TurnContext) -> Outcome:
        ctx.say(self.text, [button.render(ctx) for button in self.buttons])
        return after(self.next)


def read_buttons(reader: StepReader, key: str = "buttons") -> tuple[ButtonSpec, ...]:
    raw = reader.node.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, LineList):
        reader.problem(reader.line_of(key), f"{key!r} must be a list of buttons (- title: ..., payload: ...)")
        return ()
    buttons = []
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        if not isinstance(item, LineMap) or "title" not in item:
            reader.problem(line, "each button needs a title, and a payload or a url")
            continue
        for extra in (k for k in item if k not in ("title", "payload", "url")):
            reader.problem(item.key_lines[extra], f"{extra!r} is not a button setting (title, payload, url)")
        title = reader.local_text(item["title"], item.line_of("title"), "the button title")
        payload, url = item.get("payload"), item.get("url")
        if (payload is None) == (url is None):
            reader.problem(line, "a button needs exactly one of payload or url")
            continue
        if payload is not None and (not isinstance(payload, str | int) or len(str(payload)) > _MAX_PAYLOAD):
            reader.problem(
                item.line_of("payload"), f"a payload is a text of at most {_MAX_PAYLOAD} characters"
            )
            continue
        if url is not None and not (
            isinstance(url, str) and url.startswith(("https://", "http://", "tg://"))
        ):
            reader.problem(item.line_of("url"), f"{url!r} is not a link (https://...)")
            continue
        if title is not None:
            buttons.append(ButtonSpec(title, None if payload is None else str(payload), url))
    return tuple(buttons)


def parse(reader: StepReader) -> SayStep | None:
    reader.check_keys({"buttons", "next"})
    text = reader.text("say", required=True)
    buttons = read_buttons(reader)
    next_step = reader.target("next")
    if text is None:
        return None
    return SayStep(
        name=reader.name,
        line=reader.line,
        text=text,
        buttons=buttons,
        next=next_step,
        next_line=reader.line_of("next"),
    )
