"""The http step against a real local HTTP server (aiohttp on 127.0.0.1): the JSON answer reaches later
steps, and timeouts, 500s, non-JSON and oversized answers take on_error with the error kind stored;
validation reports each mistake with its line; the shipped support flow's order status works once
its URL prefix is mapped to the server."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bots.flows import FlowEngine, validate
from bots.flows.steps import http
from bots.flows.transcripts import FlowCache, play
from bots.flows.transcripts.model import read_transcripts
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts
from tests.conftest import REPO


class Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.base = ""

    async def order(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.requests.append(
            {
                "method": request.method,
                "path": request.raw_path,
                "match": request.match_info["number"],
                "lang": request.headers.get("Accept-Language"),
                "body": body,
            }
        )
        number = request.match_info["number"]
        if number == "404":
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"status": "shipped", "eta": "2026-01-09", "number": number})

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response({"status": "late"})

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>hi</html>", content_type="text/html")

    async def huge(self, request: web.Request) -> web.Response:
        return web.json_response({"blob": "x" * (http.MAX_RESPONSE_BYTES + 10)})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_route("*", "/orders/{number}", state.order)
    app.router.add_get("/slow", state.slow)
    app.router.add_get("/broken", state.broken)
    app.router.add_get("/html", state.html)
    app.router.add_get("/huge", state.huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


@pytest.fixture
def rewrites(server: Server) -> Iterator[None]:
    previous = http.configure(http.HttpOptions(rewrites={"https://erp.invalid": server.base}))
    yield
    http.configure(previous)


FLOW = """
id: lookup
version: 1
triggers:
  - keyword: [order]
start: lookup
steps:
  lookup:
    http:
      url: "https://erp.invalid/{path}"
      timeout: {timeout}
    save_to: var.order
    next: show
    on_error: failed
  show:
    say: "Status: {{{{ var.order.status }}}} ({{{{ var.order_status }}}})"
  failed:
    say: "Error: {{{{ var.order_error }}}} {{{{ var.order_status }}}}"
"""


async def run_lookup(db: Database, tmp_path: Path, path: str, seconds: float = 5) -> tuple[list[str], Any]:
    engine = FlowEngine(flows_from(tmp_path, FLOW.format(path=path, timeout=seconds)), clock=Clock())
    talk = Talk(db, engine, await new_customer(db, locale="en"))
    result = await talk.say("order")
    return texts(result), result.variables


@pytest.mark.usefixtures("rewrites")
class TestCalls:
    async def test_the_json_answer_is_available_to_later_steps(
        self, db: Database, tmp_path: Path, server: Server
    ) -> None:
        said, variables = await run_lookup(db, tmp_path, "orders/1042")
        assert said == ["Status: shipped (200)"]
        assert variables["order"] == {"status": "shipped", "eta": "2026-01-09", "number": "1042"}
        assert variables["order_error"] is None
        assert server.requests[0]["method"] == "GET"

    async def test_a_timeout_takes_on_error(self, db: Database, tmp_path: Path) -> None:
        said, variables = await run_lookup(db, tmp_path, "slow", seconds=0.5)
        assert said == ["Error: timeout None"]
        assert "order" not in variables

    async def test_a_500_takes_on_error_with_its_status(self, db: Database, tmp_path: Path) -> None:
        said, _ = await run_lookup(db, tmp_path, "broken")
        assert said == ["Error: status 500"]

    async def test_an_answer_that_is_not_json(self, db: Database, tmp_path: Path) -> None:
        said, _ = await run_lookup(db, tmp_path, "html")
        assert said == ["Error: not_json 200"]

    async def test_an_oversized_answer(self, db: Database, tmp_path: Path) -> None:
        said, _ = await run_lookup(db, tmp_path, "huge")
        assert said == ["Error: too_large 200"]

    async def test_nobody_listening_is_a_connection_error(self, db: Database, tmp_path: Path) -> None:
        previous = http.configure(http.HttpOptions(rewrites={"https://erp.invalid": "http://127.0.0.1:9"}))
        try:
            said, _ = await run_lookup(db, tmp_path, "orders/1")
        finally:
            http.configure(previous)
        assert said == ["Error: connection None"]

    async def test_post_with_a_templated_body_headers_and_an_encoded_url(
        self, db: Database, tmp_path: Path, server: Server
    ) -> None:
        flow = """
        id: book
        version: 1
        triggers:
          - keyword: [book]
        start: ask_ref
        steps:
          ask_ref:
            ask: "Reference?"
            save_to: var.ref
            next: call
          call:
            http:
              method: post
              url: "https://erp.invalid/orders/{{ var.ref }}?x=1"
              headers: {Accept-Language: "{{ locale }}"}
              json: {ref: "{{ var.ref }}", items: [1, "{{ locale }}"], note: fixed}
            next: done
            on_error: done
          done:
            say: "{{ var.http.number }} {{ var.http_error }}"
        """
        engine = FlowEngine(flows_from(tmp_path, textwrap.dedent(flow)), clock=Clock())
        talk = Talk(db, engine, await new_customer(db, locale="es"))
        await talk.say("book")
        said = texts(await talk.say("a/b c"))
        request = server.requests[0]
        assert request["method"] == "POST"
        assert request["path"] == "/orders/a%2Fb%20c?x=1"
        assert request["match"] == "a/b c"
        assert request["lang"] == "es"
        assert request["body"] == {"ref": "a/b c", "items": [1, "es"], "note": "fixed"}
        assert said == ["a/b c None"]


async def test_an_injected_transport_is_used() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"ok": True})

    previous = http.configure(http.HttpOptions(transport=httpx.MockTransport(handler)))
    try:
        step = http.HttpStep(
            name="s",
            line=1,
            method="GET",
            url=http.compile_url("https://erp.invalid/x"),
            on_error="e",
        )
        assert await step._call("https://erp.invalid/x", {}, None) == (200, {"ok": True})
    finally:
        http.configure(previous)
    assert seen == ["https://erp.invalid/x"]


BROKEN = """
id: broken
version: 1
start: a
steps:
  a:
    http:
      method: DELETE
      timeout: 60
      verb: x
    on_error: nowhere
    colour: red
    next: b
  b:
    http:
      url: "{{ var.base }}/orders"
      json: {a: 1}
    save_to: attribute.order
    on_error: b
  c:
    http: {url: "https://erp.invalid/x", timeout: 0}
    next: a
"""


def test_validation_reports_each_mistake_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN.lstrip(), encoding="utf-8")
    problems = [(p.line, p.message) for p in validate(path)]
    assert problems == [
        (7, "step 'a': 'method' must be GET or POST, got 'DELETE'"),
        (7, "step 'a': 'url' is required (https://erp.example.com/orders/{{ var.order_id }})"),
        (8, "step 'a': 'timeout' is a number of seconds, more than 0 and at most 30, got 60"),
        (9, "step 'a': 'verb' is not a setting of http (method, url, headers, json, timeout)"),
        (11, "step 'a': 'colour' is not a setting of http steps"),
        (
            15,
            "step 'b': 'url' must start with http:// or https:// and a host written out "
            "(no {{ }} before the path), got '{{ var.base }}/orders'",
        ),
        (16, "step 'b': a GET request has no body; use method: POST with 'json'"),
        (17, "step 'b': 'save_to' of an http step must be a flow variable (var.NAME)"),
        (20, "step 'c': 'on_error' is required: the step to continue at"),
        (20, "step 'c': 'timeout' is a number of seconds, more than 0 and at most 30, got 0"),
    ]


def test_a_missing_on_error_target_is_reported(tmp_path: Path) -> None:
    text = """
    id: t
    version: 1
    start: a
    steps:
      a:
        http: {url: "https://erp.invalid/x"}
        next: b
        on_error: nowhere
      b:
        say: hi
    """
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    assert [(p.line, p.message) for p in validate(path)] == [
        (8, "step 'a': on_error goes to 'nowhere', which does not exist")
    ]
    path.write_text(textwrap.dedent(text).lstrip().replace("    on_error: nowhere\n", ""), encoding="utf-8")
    assert [(p.line, p.message) for p in validate(path)] == [
        (6, "step 'a': 'on_error' is required: the step to continue at")
    ]


SUPPORT_TRANSCRIPTS = f"""
flows: {REPO / "flows"}
transcripts:
  - name: order status found
    customer: {{name: Ana, locale: en}}
    turns:
      - say: hello
      - press: order
        bot: "What is your order number?"
      - say: "1042"
        bot: ["Order 1042: shipped. Expected by 2026-01-09.", "anything else?"]
        expect:
          vars:
            order: {{status: shipped, eta: "2026-01-09", number: "1042"}}
            order_status: 200
            order_error: null
  - name: pedido que no existe
    customer: {{name: Olena, locale: es}}
    turns:
      - say: hola
      - say: Estado del pedido
      - say: "404"
        bot: ["No encontré el pedido 404", "¿Te puedo ayudar con algo más?"]
        expect: {{vars: {{order_error: status, order_status: 404}}}}
"""


async def test_the_support_flow_looks_up_an_order(db: Database, tmp_path: Path, server: Server) -> None:
    path = tmp_path / "tests" / "orders.yaml"
    path.parent.mkdir()
    path.write_text(SUPPORT_TRANSCRIPTS, encoding="utf-8")
    transcripts, problems = read_transcripts(path)
    assert problems == []
    previous = http.configure(http.HttpOptions(rewrites={"https://orders.invalid": server.base}))
    try:
        for transcript in transcripts:
            result = await play(transcript, FlowCache().get(transcript.flows), db.transaction)
            assert result.failures == []
    finally:
        http.configure(previous)
    assert [r["path"] for r in server.requests] == ["/orders/1042", "/orders/404"]
