"""One shape for every error answer, a request id on every request, and a cap on body size.

Every 4xx/5xx is JSON ``{"error": {"code", "message", "request_id"}}`` where the message names the
problem in plain words, and the same request id is logged and sent back as ``X-Request-ID``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.contract import MalformedEvent, SignatureError
from crm_core.addresses import InvalidAddress
from crm_core.attributes import InvalidAttribute
from crm_core.customers import CustomerNotFound
from crm_core.merge import MergeError
from hub.accounts import UnknownAccount
from inbox.conversations import ConversationNotFound, InvalidTransition

log = logging.getLogger(__name__)
access_log = logging.getLogger("hub.access")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    request_id = request_id_var.get()
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    # The X-Request-ID header itself is added by RequestContextMiddleware for every response.
    return JSONResponse(body, status_code=status_code, headers=headers)


_DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (SignatureError, 401, "signature_invalid"),
    (MalformedEvent, 400, "malformed_event"),
    (UnknownAccount, 404, "unknown_channel_account"),
    (CustomerNotFound, 404, "customer_not_found"),
    (ConversationNotFound, 404, "conversation_not_found"),
    (InvalidAttribute, 422, "invalid_attribute"),
    (InvalidAddress, 422, "invalid_address"),
    (InvalidTransition, 422, "invalid_transition"),
    (MergeError, 409, "merge_refused"),
]


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        if error.get("type") == "json_invalid":
            parts.append(f"body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})")
        elif error.get("type") == "missing":
            parts.append(f"{loc or 'body'}: required")
        else:
            parts.append(f"{loc or 'body'}: {error.get('msg')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):
            # FastAPI wraps errors raised while it reads a JSON body into a 400.
            raise exc.__cause__
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    for error_type, status_code, code in _DOMAIN_ERRORS:

        def make(status_code: int = status_code, code: str = code) -> Any:
            async def handler(_request: Request, exc: Exception) -> JSONResponse:
                if status_code >= 500 or isinstance(exc, SignatureError):
                    log.warning("%s: %s", code, exc)
                return error_response(getattr(exc, "status_code", status_code), code, str(exc))

            return handler

        app.add_exception_handler(error_type, make())

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(
            500, "internal_error", "something went wrong on our side; the request id is logged"
        )


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Assigns the request id and enforces the body size cap (413 before the app reads past it)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        status_code = 500
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 100 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started, status_code
            if message["type"] == "http.response.start":
                started = True
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(send_with_id)
                return
            seen = 0

            async def limited_receive() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > self.max_body_bytes:
                        raise BodyTooLarge
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except BodyTooLarge:
                if not started:
                    await self._too_large(send_with_id)
        finally:
            # Path only: query strings may carry visitor tokens, which must never reach the logs.
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status_code,
                (time.perf_counter() - started_at) * 1000,
            )
            request_id_var.reset(token)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "body_too_large",
                    "message": f"request body is larger than {self.max_body_bytes} bytes",
                    "request_id": request_id_var.get(),
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
