"""The demo's order status: the shipped support flow's http step asks the stand-in order system
that `hub demo` mounts, through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import httpx

from bots.flows.steps.http import HttpOptions, configure
from hub.app import create_app
from hub.runtime import Hub
from tests.conftest import REPO, drain, hub_config, settings_for
from tests.fakes.webchat import Visitor


async def test_order_status_in_the_demo(database_url: str, tmp_path: Path) -> None:
    config = hub_config(flows_dir=str(REPO / "flows"))
    hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
    await hub.start(workers=False)
    app = create_app(hub.settings, config, hub=hub, demo=True)
    previous = configure(
        HttpOptions(
            transport=httpx.ASGITransport(app=app),
            rewrites={"https://orders.invalid": "http://testserver/demo"},
        )
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            assert (await http.get("/demo/orders/1042")).json()["status"] in {
                "processing",
                "shipped",
                "delivered",
            }
            assert (await http.get("/demo/orders/1040")).status_code == 404
            visitor = await Visitor.start(http)

            async def say(text: str) -> list[str]:
                before = len(await visitor.history(http))
                assert (await visitor.say(http, text, name="Ana", locale="en")).status_code == 200
                await drain(hub)
                return [
                    m["text"] for m in (await visitor.history(http))[before:] if m["direction"] == "outbound"
                ]

            assert (await say("hello"))[-1] == "How can I help you?"
            assert (await say("Order status"))[0].startswith("What is your order number?")
            found = await say("1042")
            assert found[0].startswith("Order 1042: shipped.") and "Expected by" in found[0]
            assert (await say("yes"))[-1] == "How can I help you?"
            await say("Order status")
            assert (await say("1040"))[0] == "I couldn't find an order 1040. Please check the number."
    finally:
        configure(previous)
        await hub.stop()


async def test_the_demo_order_system_is_not_mounted_outside_the_demo(
    database_url: str, tmp_path: Path
) -> None:
    config = hub_config()
    hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
    await hub.start(workers=False)
    try:
        app = create_app(hub.settings, config, hub=hub)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            assert (await http.get("/demo/orders/1042")).status_code == 404
    finally:
        await hub.stop()
