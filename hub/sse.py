"""Server-sent events: the live stream format shared by agent screens and chat visitors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from hub.live import LiveEvent, Subscription

HEARTBEAT_SECONDS = 15.0


def sse_frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def sse_response(
    request: Request,
    subscription_factory: Callable[[], Any],
    render: Callable[[LiveEvent], Awaitable[list[str]]],
) -> StreamingResponse:
    """Stream live events as SSE until the client goes away. ``render`` turns one bus event into
    zero or more frames (loading what it shows from the database)."""

    async def stream() -> AsyncIterator[str]:
        with subscription_factory() as subscription:
            sub: Subscription = subscription
            yield sse_frame("ready", {})
            while not await request.is_disconnected():
                live_event = await sub.get(wait_seconds=HEARTBEAT_SECONDS)
                if live_event is None:
                    yield ": keep-alive\n\n"
                    continue
                for frame in await render(live_event):
                    yield frame

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
