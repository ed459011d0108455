"""A local HTTP server standing in for an integrator's system behind the custom API channel: it
receives the hub's signed outbound callbacks, records them, and answers what the test scripts
(2xx with an id, 429 with Retry-After, 5xx, slow answers, 4xx refusals)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.contract import WebhookRequest
from channels.signing import verify_signed


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class CallbackServer:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []  # every request that reached us, in order
        self.accepted: list[dict[str, Any]] = []  # requests we answered 2xx to
        self.script: deque[Scripted] = deque()
        self.default = Scripted()
        self.bad_signatures = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    def then(self, *answers: Scripted) -> None:
        self.script.extend(answers)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify_signed(
                WebhookRequest(
                    "POST", str(request.url), {k.lower(): v for k, v in request.headers.items()}, raw
                ),
                self.secret,
            )
        except Exception:
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        body = json.loads(raw)
        self.received.append(body)
        answer = self.script.popleft() if self.script else self.default
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if 200 <= answer.status < 300:
            self.accepted.append(body)
            payload = answer.body if answer.body is not None else {"id": f"ext-{len(self.accepted)}"}
            return web.json_response(payload, status=answer.status, headers=answer.headers)
        return web.json_response(
            answer.body or {"error": f"scripted {answer.status}"},
            status=answer.status,
            headers=answer.headers,
        )

    async def __aenter__(self) -> CallbackServer:
        app = web.Application()
        app.router.add_post("/callback", self._handle)
        # A handler whose client hung up is cancelled: this provider acts on a request only if it
        # can still answer it. (The window where a provider acts and the sender dies before hearing
        # back is real for every provider; docs/architecture.md describes it.)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/callback"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
