"""A say step with media: the reply carries the attachment; mistakes are named with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.flows import FlowEngine, FlowError, load_flows
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer

FLOW = """
id: menu
version: 1
triggers:
  - keyword: [menu]
start: card
steps:
  card:
    say: {en: "Today's menu, {{ name }}", es: "El menú de hoy"}
    media: {url: "https://shop.example.com/menu.jpg", kind: image}
    buttons: [{title: Order, payload: order}]
"""


async def test_the_reply_carries_the_picture_with_the_text_as_caption(db: Database, tmp_path: Path) -> None:
    talking = Talk(db, FlowEngine(flows_from(tmp_path, FLOW), clock=Clock()), await new_customer(db))
    [reply] = (await talking.say("menu")).replies
    assert reply.text.startswith("Today's menu")
    [picture] = reply.attachments
    assert (picture.kind, picture.url, picture.filename) == (
        "image",
        "https://shop.example.com/menu.jpg",
        "menu.jpg",
    )
    assert [b.title for b in reply.buttons] == ["Order"]


@pytest.mark.parametrize(
    ("media", "problem"),
    [
        ('{url: "http://shop.example.com/a.jpg"}', "must be a public https:// link"),
        ('{url: "https://a.example/x", kind: gif}', "media kind is one of image, video, audio, file"),
        ("https://a.example/x.jpg", "'media' is {url: https://..., kind: image|video|audio|file}"),
        ('{url: "https://a.example/x", size: 3}', "'size' is not a media setting"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, media: str, problem: str) -> None:
    (tmp_path / "menu.yaml").write_text(
        FLOW.replace('{url: "https://shop.example.com/menu.jpg", kind: image}', media)
    )
    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)
    found = [str(p) for p in caught.value.problems]
    assert any(problem in p and ":10" in p for p in found), found
