"""``qr``: send a text (a promo code, a ticket, a link) as a QR code image, with an optional caption.

.. code-block:: yaml

    ticket:
      qr: "TICKET-{{ var.booking.id }}"                 # templated; what the code encodes
      caption: {en: "Show this at the door", es: "Muéstralo en la entrada"}   # optional
      next: thanks

The image is a PNG made with segno (a regular QR code, never a Micro QR, which phones' cameras often
cannot read). It goes out as an image attachment; the hub stores it in its media store, and the
caption is the message text. The encoded text is kept with the attachment (``data.qr``), so agents
and transcript tests can see what was sent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import segno
from segno.encoder import DataOverflowError

from bots.flows.outcomes import Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText, RenderError, Template
from channels.contract import Attachment

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

FILENAME = "qr.png"
CONTENT_TYPE = "image/png"
# Modules per pixel block and quiet zone: readable from a phone screen photographed by another phone.
_SCALE = 8
_BORDER = 4


def qr_png(text: str) -> bytes:
    """A PNG of ``text`` as a QR code (error correction M, or better when it fits). Raises
    DataOverflowError when the text is too long for any QR code."""
    code = segno.make(text, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=_SCALE, border=_BORDER)
    return buffer.getvalue()


@dataclass(frozen=True, kw_only=True)
class QrStep(Step):
    kind: ClassVar[str] = "qr"

    content: Template
    caption: LocalText | None = None
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        return [Link(self.next, self.next_line, "next")] if self.next else []

    async def run(self, ctx: TurnContext) -> Outcome:
        text = self.content.render(ctx.names())
        if not text:
            raise RenderError(f"step {self.name!r}: the QR code's text came out empty")
        try:
            png = qr_png(text)
        except DataOverflowError:
            raise RenderError(
                f"step {self.name!r}: {len(text)} characters are too many for a QR code"
            ) from None
        attachment = Attachment(
            "image",
            filename=FILENAME,
            content_type=CONTENT_TYPE,
            size=len(png),
            data={"qr": text},
            content=png,
        )
        ctx.send_file(ctx.render(self.caption) if self.caption is not None else "", attachment)
        return after(self.next)


def parse(reader: StepReader) -> QrStep | None:
    reader.check_keys({"caption", "next"})
    raw = reader.node.get("qr")
    content = reader.template(
        str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw,
        reader.line_of("qr"),
        "'qr' (the text to encode)",
    )
    caption = reader.text("caption")
    next_step = reader.target("next")
    if content is None:
        return None
    return QrStep(
        name=reader.name,
        line=reader.line,
        content=content,
        caption=caption,
        next=next_step,
        next_line=reader.line_of("next"),
    )
