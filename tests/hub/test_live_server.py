"""The demo story over real HTTP against real `hub serve` (and on PostgreSQL a separate `hub worker`,
so live updates must cross processes through LISTEN/NOTIFY): the agent's screen and the visitor's
chat update live through server-sent events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import HubProcesses


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Iterator[HubProcesses]:
    hub = HubProcesses(tmp_path, database_url)
    try:
        if database_url.startswith("postgresql"):
            hub.serve("--no-workers")
            hub.start("worker", name="worker")
        else:
            hub.serve()
        yield hub
    finally:
        hub.stop()


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            yield event, json.loads(line[len("data: ") :])


async def next_event(events: AsyncIterator[tuple[str, Any]], wanted: str, seconds: float = 15) -> Any:
    async def find() -> Any:
        async for name, data in events:
            if name == wanted:
                return data
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), seconds)


async def test_agent_and_visitor_see_each_other_live(deployment: HubProcesses) -> None:
    deployment.run(
        "create-agent",
        "--email",
        "ana@example.com",
        "--name",
        "Ana",
        "--role",
        "agent",
        "--password",
        "a long password",
    )
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=20) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": "ana@example.com", "password": "a long password"}
        )
        assert login.status_code == 200
        agent = {"Cookie": f"hub_session={login.cookies['hub_session']}"}
        http.cookies.clear()
        session = (await http.post("/webchat/site/session", json={})).json()
        visitor = {"X-Webchat-Visitor": session["visitor_id"], "X-Webchat-Token": session["token"]}
        query = {"visitor": session["visitor_id"], "token": session["token"]}

        async with (
            http.stream("GET", "/api/v1/live", headers=agent) as agent_stream,
            http.stream("GET", "/webchat/site/stream", params=query) as visitor_stream,
        ):
            agent_events = sse_events(agent_stream)
            visitor_events = sse_events(visitor_stream)
            await next_event(agent_events, "ready")
            await next_event(visitor_events, "ready")

            sent = await http.post(
                "/webhooks/webchat/site",
                json={"type": "message", "id": uuid.uuid4().hex, "text": "Is anyone there?", "name": "Marta"},
                headers=visitor,
            )
            assert sent.status_code == 200

            inbound = await next_event(agent_events, "message.created")
            assert inbound["text"] == "Is anyone there?" and inbound["direction"] == "inbound"
            own = await next_event(visitor_events, "message")  # the visitor's other tabs see it too
            assert own["author"] == "customer" and own["text"] == "Is anyone there?"
            greeting = await next_event(visitor_events, "message")
            assert greeting["author"] == "bot" and "Marta" in greeting["text"]

            reply = await http.post(
                f"/api/v1/conversations/{inbound['conversation_id']}/messages",
                json={"text": "Yes, I'm here!"},
                headers=agent,
            )
            assert reply.status_code == 201
            answer = await next_event(visitor_events, "message")
            assert answer == {**answer, "author": "agent", "text": "Yes, I'm here!"}
            updated = await next_event(agent_events, "message.updated")
            while updated["id"] != reply.json()["id"]:
                updated = await next_event(agent_events, "message.updated")
            assert updated["status"] == "sent"
