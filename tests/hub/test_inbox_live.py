"""The workspace's live stream over real HTTP against `hub serve` (on PostgreSQL with a separate
`hub worker`, so events cross processes through LISTEN/NOTIFY): a colleague's typing, an @mention,
and read positions that reach only their own agent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hub.test_live_server import next_event, sse_events
from tests.processes import HubProcesses

PASSWORD = "a long password"
WORKSPACE_ONLY = ("typing", "conversation.read", "note.created", "conversation.assigned")


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Iterator[HubProcesses]:
    hub = HubProcesses(tmp_path, database_url)
    try:
        if database_url.startswith("postgresql"):
            hub.serve("--no-workers")
            hub.start("worker", name="worker")
        else:
            hub.serve()
        for name in ("ana", "ben"):
            hub.run(
                "create-agent",
                "--email",
                f"{name}@example.com",
                "--name",
                name.title(),
                "--role",
                "agent",
                "--password",
                PASSWORD,
            )
        yield hub
    finally:
        hub.stop()


async def log_in(http: httpx.AsyncClient, name: str) -> tuple[dict[str, str], int]:
    response = await http.post(
        "/api/v1/auth/login", json={"email": f"{name}@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return {"Cookie": f"hub_session={response.cookies['hub_session']}"}, response.json()["agent_id"]


async def test_typing_mentions_and_reads_reach_the_right_screens(deployment: HubProcesses) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=20) as http:
        ana, _ = await log_in(http, "ana")
        ben, ben_id = await log_in(http, "ben")
        session = (await http.post("/webchat/site/session", json={})).json()
        visitor = {"X-Webchat-Visitor": session["visitor_id"], "X-Webchat-Token": session["token"]}

        async with (
            http.stream("GET", "/api/v1/workspace/live", headers=ana) as ana_stream,
            http.stream("GET", "/api/v1/workspace/live", headers=ben) as ben_stream,
        ):
            ana_events, ben_events = sse_events(ana_stream), sse_events(ben_stream)
            await next_event(ana_events, "ready")
            await next_event(ben_events, "ready")

            sent = await http.post(
                "/webhooks/webchat/site",
                json={"type": "message", "id": uuid.uuid4().hex, "text": "Hello?", "name": "Marta"},
                headers=visitor,
            )
            assert sent.status_code == 200
            inbound = await next_event(ben_events, "message.created")
            conversation = inbound["conversation_id"]
            base = f"/api/v1/conversations/{conversation}"

            # Ana reads it: only Ana's screens hear of her read position.
            read = await http.post(f"{base}/read", json={}, headers=ana)
            assert read.status_code == 200
            position = await next_event(ana_events, "conversation.read")
            assert position["conversation_id"] == conversation
            assert position["last_read_message_id"] == read.json()["last_read_message_id"]

            # Ana types: Ben sees it (and the read event before it never reached him).
            assert (await http.post(f"{base}/typing", json={"mode": "reply"}, headers=ana)).status_code == 204
            name, typing = await anext_named(ben_events)
            assert name == "typing" and typing["name"] == "Ana" and typing["mode"] == "reply"

            note = await http.post(
                f"{base}/notes", json={"text": "@Ben VIP, take this one?", "mentions": [ben_id]}, headers=ana
            )
            assert note.status_code == 201
            mentioned = await next_event(ben_events, "note.created")
            assert mentioned["mentions"] == [ben_id] and mentioned["text"].startswith("@Ben")

            # Ana hands it to Ben: he is told (she is not: she knows).
            assigned = await http.post(f"{base}/assign", json={"agent_id": ben_id}, headers=ana)
            assert assigned.status_code == 200
            name, news = await anext_named(ben_events)
            assert name == "conversation.assigned"
            assert news == {"conversation_id": conversation, "customer_name": "Marta"}

            # On web chat the customer and the agent see each other typing.
            query = {"visitor": session["visitor_id"], "token": session["token"]}
            async with http.stream("GET", "/webchat/site/stream", params=query) as visitor_stream:
                visitor_events = sse_events(visitor_stream)
                await next_event(visitor_events, "ready")
                assert (await http.post("/webchat/site/typing", headers=visitor)).status_code == 204
                name, typing = await anext_named(ben_events)
                assert name == "typing" and typing["mode"] == "customer" and typing["name"] == "Marta"
                typed = await http.post(f"{base}/typing", json={"mode": "reply"}, headers=ben)
                assert typed.status_code == 204
                assert await next_event(visitor_events, "typing") == {}


async def anext_named(events: AsyncIterator[tuple[str, Any]]) -> tuple[str, Any]:
    """The next event only a workspace stream carries (the bot's greeting and the conversation's
    updates may still be on their way and are skipped)."""
    async for name, data in events:
        if name in WORKSPACE_ONLY:
            return name, data
    raise AssertionError("stream ended")
