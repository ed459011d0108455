"""A local Telegram Bot API server for tests.

The real aiogram Bot is pointed at it (``TelegramAPIServer.from_base(api.base_url)``) and talks to it
over HTTP exactly as to api.telegram.org: ``POST /bot<token>/<method>`` with a form-urlencoded or
multipart body, answered with ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ...}``. Every call is recorded; replies can be scripted (429, 5xx, 403, 400, a slow or
malformed answer) for the next calls. The webhook set with ``setWebhook`` is kept and reported by
``getWebhookInfo`` as a WebhookInfo object; tests can edit ``webhook`` to play a failing one.

Use it as ``async with FakeTelegramAPI() as api:`` or through the ``telegram_api`` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Self

import pytest
from aiohttp import web

TOKEN = "123456789:TEST-token_for-the-fake"
BOT_ID = 123456789
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request as received. ``params`` are the form fields as sent: objects such as
    ``reply_markup`` stay JSON strings, as on the wire (``json_param`` decodes one). ``files`` are
    multipart uploads by field name (a param ``attach://<name>`` refers to one)."""

    method: str
    params: dict[str, str]
    files: dict[str, bytes]

    def json_param(self, name: str) -> Any:
        return json.loads(self.params[name])


@dataclass(frozen=True)
class Reply:
    """A scripted answer. ``body`` None means the normal result of the method; ``delay`` holds the
    answer back that many seconds (past the client's timeout, to test it)."""

    status: int = 200
    body: bytes | None = None
    delay: float = 0.0
    content_type: str = "application/json"


def _error(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, json.dumps(body).encode())


def retry_after(seconds: int) -> Reply:
    """Flood control, as Telegram words it."""
    return _error(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)


def server_error(status: int = 500) -> Reply:
    descriptions = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return _error(status, descriptions.get(status, "Internal Server Error"))


def blocked() -> Reply:
    return _error(403, "Forbidden: bot was blocked by the user")


def chat_not_found() -> Reply:
    return _error(400, "Bad Request: chat not found")


def slow(seconds: float) -> Reply:
    return Reply(delay=seconds)


def malformed() -> Reply:
    """What a proxy in front of the Bot API sends when it breaks: HTML, not JSON."""
    return Reply(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")


class FakeTelegramAPI:
    """The fake server, accepting one bot ``token``. ``calls`` lists every request in order;
    ``script`` queues replies; ``base_url`` is set once the server runs. ``webhook`` is the WebhookInfo
    getWebhookInfo answers (add ``last_error_message`` etc. to play a failing webhook) and
    ``webhook_secret`` the secret_token of the last setWebhook. ``messages`` are the Message objects
    successful sends were answered with, as the chat shows them (a test playing the customer presses
    an inline button on one of them: the callback_query carries that Message)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[ApiCall] = []
        self.messages: list[dict[str, Any]] = []
        self.base_url = ""
        self._scripted: deque[Reply] = deque()
        # Telegram numbers messages per chat.
        self._message_ids: dict[str, int] = {}
        self.webhook: dict[str, Any] = _no_webhook()
        self.webhook_secret: str | None = None
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def script(self, *replies: Reply) -> None:
        """Answer the next calls with ``replies``, in order; later calls get normal answers."""
        self._scripted.extend(replies)

    def sent(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method."""
        return [call for call in self.calls if call.method == method]

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Release handlers still holding back a slow answer, or cleanup would wait for them.
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _response(_error(401, "Unauthorized"))
        method = request.match_info["method"]
        form = await request.post()
        params = {key: value for key, value in form.items() if isinstance(value, str)}
        files = {key: value.file.read() for key, value in form.items() if isinstance(value, web.FileField)}
        self.calls.append(ApiCall(method, params, files))
        reply = self._scripted.popleft() if self._scripted else Reply()
        if reply.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay)
        if reply.body is not None:
            return _response(reply)
        return _response(self._result(method, params))

    def _result(self, method: str, params: dict[str, str]) -> Reply:
        """The normal answer: the sent Message for send methods, True for the others we know."""
        if method == "answerCallbackQuery":
            return _ok(True)
        if method == "setWebhook":
            return self._set_webhook(params)
        if method == "deleteWebhook":
            self.webhook, self.webhook_secret = _no_webhook(), None
            return _ok(True)
        if method == "getWebhookInfo":
            return _ok(self.webhook)
        if method == "getMe":
            return _ok({"id": BOT_ID, "is_bot": True, "first_name": "Fake bot", "username": "fake_bot"})
        content = _SENT_CONTENT.get(method)
        if content is None:
            return _error(404, "Not Found: method not found")
        chat_id = params.get("chat_id", "")
        if not chat_id.lstrip("-").isdigit():
            return _error(400, "Bad Request: chat not found")
        if problem := _invalid(method, params):
            return _error(400, f"Bad Request: {problem}")
        message_id = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = message_id
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Fake bot", "username": "fake_bot"},
            **content(params),
        }
        markup = json.loads(params.get("reply_markup", "{}"))
        # Telegram echoes inline keyboards on the sent message; reply keyboards are not part of it.
        if "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self.messages.append(message)
        return _ok(message)

    def _set_webhook(self, params: dict[str, str]) -> Reply:
        """setWebhook as the Bot API does it: an empty url removes the webhook, anything but HTTPS is
        refused, and getWebhookInfo then reports the URL, connection limit and update types."""
        url = params.get("url", "")
        if not url:
            self.webhook, self.webhook_secret = _no_webhook(), None
            return _ok(True)
        if not url.startswith("https://"):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {
            "url": url,
            "has_custom_certificate": False,
            "pending_update_count": 0,
            "max_connections": int(params.get("max_connections", "40")),
            "ip_address": "192.0.2.10",
        }
        if "allowed_updates" in params:
            self.webhook["allowed_updates"] = json.loads(params["allowed_updates"])
        self.webhook_secret = params.get("secret_token")
        return _ok(True)


def _no_webhook() -> dict[str, Any]:
    """getWebhookInfo of a bot without a webhook (one that would use getUpdates)."""
    return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


def _text(params: dict[str, str]) -> dict[str, Any]:
    return {"text": params["text"]}


def _photo(params: dict[str, str]) -> dict[str, Any]:
    sizes = [(90, 67), (320, 240), (1280, 960)]
    photo = [
        {"file_id": f"photo-{w}", "file_unique_id": f"u-photo-{w}", "width": w, "height": h} for w, h in sizes
    ]
    return _captioned(params, photo=photo)


def _audio(params: dict[str, str]) -> dict[str, Any]:
    return _captioned(params, audio={"file_id": "audio-1", "file_unique_id": "u-audio-1", "duration": 1})


def _video(params: dict[str, str]) -> dict[str, Any]:
    video = {"file_id": "video-1", "file_unique_id": "u-video-1", "width": 640, "height": 480, "duration": 1}
    return _captioned(params, video=video)


def _document(params: dict[str, str]) -> dict[str, Any]:
    return _captioned(params, document={"file_id": "document-1", "file_unique_id": "u-document-1"})


def _captioned(params: dict[str, str], **media: Any) -> dict[str, Any]:
    return {**media, **({"caption": params["caption"]} if "caption" in params else {})}


_SENT_CONTENT = {
    "sendMessage": _text,
    "sendPhoto": _photo,
    "sendAudio": _audio,
    "sendVideo": _video,
    "sendDocument": _document,
}


def _invalid(method: str, params: dict[str, str]) -> str | None:
    """The Bot API's own checks on what a send may carry, with its error descriptions."""
    text = params.get("text", "")
    if method == "sendMessage" and not text.strip():
        return "message text is empty"
    if _utf16(text) > TEXT_LIMIT:
        return "message is too long"
    if _utf16(params.get("caption", "")) > CAPTION_LIMIT:
        return "message caption is too long"
    markup = json.loads(params.get("reply_markup", "{}"))
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > CALLBACK_DATA_LIMIT:
                return "BUTTON_DATA_INVALID"
    return None


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _ok(result: Any) -> Reply:
    return Reply(200, json.dumps({"ok": True, "result": result}).encode())


def _response(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)


@pytest.fixture(name="telegram_api")
async def telegram_api_fixture() -> AsyncIterator[FakeTelegramAPI]:
    """``telegram_api``: a running fake Bot API server that accepts ``TOKEN``. Import this function
    into a test module, or list this module in ``pytest_plugins``, to use it."""
    async with FakeTelegramAPI() as api:
        yield api
