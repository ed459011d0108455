"""A local stand-in for Viber's REST bot API (``https://chatapi.viber.com/pa``), for tests.

It answers ``POST /pa/send_message`` the way Viber does: a JSON message whose auth token is in the
``X-Viber-Auth-Token`` header (or, as the viberbot SDK sends it, in the body's ``auth_token``), answered
with HTTP 200 and ``{"status": 0, "status_message": "ok", "message_token": ...}`` or a non-zero status.
Message tokens are above 2**53, as Viber's are, so a client that reads them as floats gets them wrong.

``POST /pa/set_webhook`` and ``POST /pa/get_account_info`` answer as Viber does too: the webhook set is
kept (``webhook``, ``event_types``) and reported in the account info. Viber calls a webhook URL to verify
it while setting it; set ``webhook_reachable`` to False to play a hub that is not running.

Every request is recorded. Scripted answers, consumed one per send_message request in the order given,
make the next sends fail like Viber can::

    async with FakeViberApi(auth_token="secret") as viber:
        viber.fail_with_status(6, "notSubscribed")
        viber.fail_with_http(429, retry_after="7")
        ...  # point the adapter at viber.api_base
        assert viber.accepted[0]["text"] == "hello"
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

# Limits Viber's message data model documents, enforced so that a client exceeding them fails here too.
MAX_TEXT_LENGTH = 7000
MAX_SENDER_NAME_LENGTH = 28
MAX_TRACKING_DATA_LENGTH = 4000
FIRST_MESSAGE_TOKEN = 5_000_000_000_000_000_001
# What Viber subscribes a webhook to when set_webhook names no event_types.
ALL_EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]

Handler = Callable[[dict[str, Any]], Awaitable[web.Response]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; ``body`` is None when it was not a JSON object."""

    path: str
    headers: Mapping[str, str]
    body: dict[str, Any] | None


class FakeViberApi:
    """Viber's send_message, set_webhook and get_account_info endpoints on 127.0.0.1, on a port the OS
    picks."""

    def __init__(self, auth_token: str) -> None:
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self.accepted: list[dict[str, Any]] = []
        self.webhook = ""
        self.event_types: list[str] = []
        self.webhook_reachable = True
        self._script: deque[Handler] = deque()
        self._tokens = itertools.count(FIRST_MESSAGE_TOKEN)
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/pa/send_message", self._send_message)
        app.router.add_post("/pa/set_webhook", self._set_webhook)
        app.router.add_post("/pa/get_account_info", self._get_account_info)
        # Cancel a handler whose client went away, so a scripted slow answer cannot hold up shutdown.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        self.api_base = ""

    async def __aenter__(self) -> Self:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.api_base = f"http://{host}:{port}/pa"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        await self._runner.cleanup()

    # ----------------------------------------------------------------------------------------------
    # Scripting the next answers

    def accept(self) -> None:
        """Answer the next request as usual, so that a failure scripted after it hits a later one."""

        async def answer(body: dict[str, Any]) -> web.Response:
            return self._accept(body)

        self._script.append(answer)

    def fail_with_status(self, status: int, status_message: str) -> None:
        """Answer the next request with HTTP 200 and a Viber error status (5, 6, 12, ...)."""

        async def answer(body: dict[str, Any]) -> web.Response:
            return _viber_answer(status, status_message)

        self._script.append(answer)

    def fail_with_http(self, status: int, *, retry_after: str | None = None, body: bytes = b"") -> None:
        """Answer the next request with a bare HTTP status (429, 503, ...), optionally with Retry-After."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}

        async def answer(request_body: dict[str, Any]) -> web.Response:
            return web.Response(status=status, body=body, headers=headers)

        self._script.append(answer)

    def answer_slowly(self, seconds: float) -> None:
        """Accept the next request, but only after ``seconds`` (or when the fake shuts down)."""

        async def answer(body: dict[str, Any]) -> web.Response:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)
            return self._accept(body)

        self._script.append(answer)

    def answer_malformed(self) -> None:
        """Answer the next request with HTTP 200 and a body that is not JSON."""

        async def answer(body: dict[str, Any]) -> web.Response:
            return web.Response(status=200, text="<html>upstream error</html>", content_type="text/html")

        self._script.append(answer)

    # ----------------------------------------------------------------------------------------------
    # The endpoint

    async def _authenticated(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The request's JSON body, recorded; Viber's refusal when it is not JSON or not authenticated."""
        try:
            body = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        self.requests.append(RecordedRequest(request.path, dict(request.headers), body))
        if not isinstance(body, dict):
            return _viber_answer(3, "badData")
        token = request.headers.get("X-Viber-Auth-Token") or body.get("auth_token")
        if not token:
            return _viber_answer(2, "missing_auth_token")
        if token != self.auth_token:
            return _viber_answer(2, "invalidAuthToken")
        return body

    async def _send_message(self, request: web.Request) -> web.Response:
        body = await self._authenticated(request)
        if isinstance(body, web.Response):
            return body
        if self._script:
            return await self._script.popleft()(body)
        problem = _problem(body)
        if problem is not None:
            return _viber_answer(*problem)
        return self._accept(body)

    def _accept(self, body: dict[str, Any]) -> web.Response:
        self.accepted.append(body)
        return _viber_answer(0, "ok", message_token=next(self._tokens))

    async def _set_webhook(self, request: web.Request) -> web.Response:
        """An empty url removes the webhook; otherwise it must be HTTPS and answer Viber's check call."""
        body = await self._authenticated(request)
        if isinstance(body, web.Response):
            return body
        url = body.get("url")
        if not isinstance(url, str):
            return _viber_answer(4, "missingData")
        if not url:
            self.webhook, self.event_types = "", []
            return _viber_answer(0, "ok")
        if not url.startswith("https://"):
            return _viber_answer(1, "invalidUrl")
        if not self.webhook_reachable:
            return _viber_answer(1, f"Result[HttpRequest[POST {url}], HttpResponse[HTTP/1.1 404 Not Found]]")
        self.webhook = url
        self.event_types = list(body.get("event_types") or ALL_EVENT_TYPES)
        return _viber_answer(0, "ok", event_types=self.event_types)

    async def _get_account_info(self, request: web.Request) -> web.Response:
        """The bot's account details, with the webhook currently set."""
        body = await self._authenticated(request)
        if isinstance(body, web.Response):
            return body
        return _viber_answer(
            0,
            "ok",
            id="pa:75346594275468546724",
            name="Fake bot",
            uri="fakebot",
            icon="https://media.example.com/icon.jpg",
            background="https://media.example.com/background.jpg",
            category="Services",
            subcategory="Customer service",
            location={"lon": 30.5234, "lat": 50.4501},
            country="UA",
            webhook=self.webhook,
            event_types=self.event_types,
            subscribers_count=35,
            members=[{"id": "01234567890A=", "name": "Admin", "avatar": None, "role": "admin"}],
        )


def _problem(body: Mapping[str, Any]) -> tuple[int, str] | None:
    """The status Viber gives a message breaking its data model, if it does."""
    sender = body.get("sender")
    if not body.get("receiver") or not body.get("type") or not isinstance(sender, Mapping):
        return 4, "missingData"
    if not sender.get("name") or len(sender["name"]) > MAX_SENDER_NAME_LENGTH:
        return 3, "badData"
    if body["type"] == "text" and not 0 < len(body.get("text") or "") <= MAX_TEXT_LENGTH:
        return 3, "badData"
    if len(body.get("tracking_data") or "") > MAX_TRACKING_DATA_LENGTH:
        return 3, "badData"
    return None


def _viber_answer(status: int, status_message: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"status": status, "status_message": status_message, "chat_hostname": "SN-CHAT-01_", **extra}
    )
