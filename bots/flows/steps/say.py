"""``say``: send a text (per locale, templated), optionally with buttons, then continue.

.. code-block:: yaml

    hello:
      say: {en: "Hi {{ name }}!", es: "¡Hola {{ name }}!"}
      buttons:
        - {title: {en: Our shop, es: Nuestra tienda}, url: "https://shop.example.com"}
        - {title: {en: Main menu, es: Menú}, payload: menu}
      next: menu
    sorry:
      say: "Sorry we missed your call! Chat with us: {{ deep_link('telegram') }}"
      channel: sms          # send on this channel type instead of the conversation's
    menu_card:
      say: {en: "Today's menu", es: "El menú de hoy"}    # the caption
      media: {url: "https://shop.example.com/menu.jpg", kind: image}   # image, video, audio or file

With ``media``, the text goes out as the caption of a picture, video, audio or file that the
provider fetches from the (public ``https``) URL; channels without media (SMS) send the text and the
link.

With ``channel``, the hub sends the text to the customer's address of that kind (their phone for
sms and whatsapp) on a configured account of that type; when they have none, or no such account is
configured, the text is not sent and the customer's timeline says why (``flow.reply_skipped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.channel_types import SENDING
from bots.flows.outcomes import Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText
from bots.flows.yamlsource import LineList, LineMap
from bots.turn import BotReply
from channels.contract import Attachment, Button

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
    media: tuple[Attachment, ...] = ()
    # A channel type to send on instead of the conversation's (None: the conversation's).
    channel: str | None = None
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        return [Link(self.next, self.next_line, "next")] if self.next else []

    async def run(self, ctx: TurnContext) -> Outcome:
        buttons = tuple(button.render(ctx) for button in self.buttons)
        ctx.send(BotReply(ctx.render(self.text), buttons, self.media), channel=self.channel)
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


MEDIA_KINDS = ("image", "video", "audio", "file")


def read_media(reader: StepReader) -> tuple[Attachment, ...] | None:
    """``media: {url: https://..., kind: image, filename: menu.jpg}``; None when it is wrong."""
    raw = reader.node.get("media")
    if raw is None:
        return ()
    line = reader.line_of("media")
    if not isinstance(raw, LineMap) or "url" not in raw:
        reader.problem(line, "'media' is {url: https://..., kind: image|video|audio|file}")
        return None
    for extra in (k for k in raw if k not in ("url", "kind", "filename")):
        reader.problem(raw.key_lines[extra], f"{extra!r} is not a media setting (url, kind, filename)")
    url, kind, filename = raw.get("url"), raw.get("kind", "image"), raw.get("filename")
    if not isinstance(url, str) or not url.startswith("https://"):
        reader.problem(raw.line_of("url"), f"the media url must be a public https:// link, got {url!r}")
        return None
    if kind not in MEDIA_KINDS:
        reader.problem(raw.line_of("kind"), f"media kind is one of {', '.join(MEDIA_KINDS)}, got {kind!r}")
        return None
    if filename is not None and not isinstance(filename, str):
        reader.problem(raw.line_of("filename"), "'filename' is a text such as menu.pdf")
        return None
    name = filename or url.rsplit("/", 1)[-1].split("?")[0] or None
    return (Attachment(kind=kind, url=url, filename=name),)


def parse(reader: StepReader) -> SayStep | None:
    reader.check_keys({"buttons", "channel", "next", "media"})
    text = reader.text("say", required=True)
    buttons = read_buttons(reader)
    media = read_media(reader)
    channel = reader.node.get("channel")
    if channel is not None and channel not in SENDING:
        reader.problem(
            reader.line_of("channel"),
            f"'channel' is the channel type to send on: one of {', '.join(SENDING)}, got {channel!r}",
        )
        return None
    next_step = reader.target("next")
    if text is None or media is None:
        return None
    return SayStep(
        name=reader.name,
        line=reader.line,
        text=text,
        buttons=buttons,
        media=media,
        channel=channel,
        next=next_step,
        next_line=reader.line_of("next"),
    )
