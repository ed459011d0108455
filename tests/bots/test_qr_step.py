"""The qr step: a templated text becomes a PNG QR code attached to the reply (decoded back here module
by module), with a per-language caption; a text too long for a QR code fails the flow."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import segno

from bots.flows import FlowEngine
from bots.flows.steps.qr import qr_png
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer

FLOW = """
id: coupon
version: 1
triggers:
  - event: coupon.issued
start: code
steps:
  code:
    qr: "PROMO-{{ var.event.code }}"
    caption: {en: "Show this at the till", es: "Muéstralo en caja"}
    next: thanks
  thanks:
    say: "Enjoy"
"""


def png_modules(png: bytes, scale: int = 8, border: int = 4) -> list[list[int]]:
    """The dark (1) and light (0) modules of a 1-bit greyscale PNG such as segno writes."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (depth, colour) == (1, 0) and width == height
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(data)
    stride = (width + 7) // 8
    rows, previous = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        current = _unfilter(line[0], line[1:], previous)
        rows.append([(current[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        previous = current
    size = width // scale - 2 * border
    # Greyscale 1 is white: a dark module is a 0 bit.
    return [
        [1 - rows[(border + r) * scale + scale // 2][(border + c) * scale + scale // 2] for c in range(size)]
        for r in range(size)
    ]


def _unfilter(kind: int, line: bytes, above: bytes) -> bytes:
    """PNG row filters (one byte per pixel group at 1 bit depth)."""
    out = bytearray()
    for i, value in enumerate(line):
        left = out[i - 1] if i else 0
        up, corner = above[i], above[i - 1] if i else 0
        if kind == 1:
            value += left
        elif kind == 2:
            value += up
        elif kind == 3:
            value += (left + up) // 2
        elif kind == 4:
            p = left + up - corner
            value += min((left, up, corner), key=lambda v: (abs(p - v), (left, up, corner).index(v)))
        out.append(value & 0xFF)
    return bytes(out)


def test_the_png_holds_a_regular_qr_code_of_the_text() -> None:
    text = "PROMO-7"
    expected = [list(row) for row in segno.make(text, error="m", micro=False).matrix]
    modules = png_modules(qr_png(text))
    assert len(modules) >= 21  # a regular QR code (version 1 or more), never a Micro QR
    assert modules == expected


class TestQrStep:
    async def test_the_code_goes_out_as_an_image_with_its_caption(self, db: Database, tmp_path: Path) -> None:
        talking = Talk(
            db, FlowEngine(flows_from(tmp_path, FLOW), clock=Clock()), await new_customer(db, locale="es")
        )
        result = await talking.event("coupon.issued", {"code": 42})
        coupon, thanks = result.replies
        assert (coupon.text, thanks.text) == ("Muéstralo en caja", "Enjoy")
        [image] = coupon.attachments
        assert (image.kind, image.filename, image.content_type, image.data) == (
            "image",
            "qr.png",
            "image/png",
            {"qr": "PROMO-42"},
        )
        assert image.content is not None and image.size == len(image.content)
        assert png_modules(image.content) == [
            list(row) for row in segno.make("PROMO-42", error="m", micro=False).matrix
        ]

    async def test_a_text_too_long_for_a_qr_code_fails_the_flow(self, db: Database, tmp_path: Path) -> None:
        talking = Talk(db, FlowEngine(flows_from(tmp_path, FLOW), clock=Clock()), await new_customer(db))
        result = await talking.event("coupon.issued", {"code": "x" * 5000})
        assert result.replies == ()
        [failed] = await talking.events("flow.failed")
        assert failed.payload["error"] == "step 'code': 5006 characters are too many for a QR code"
