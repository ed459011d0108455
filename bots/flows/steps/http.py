"""``http``: call a business system (order status, booking) and keep its JSON answer for later steps.

.. code-block:: yaml

    lookup:
      http:
        method: GET                                             # GET (default) or POST
        url: "https://erp.example.com/orders/{{ var.order_id }}"
        headers: {Accept-Language: "{{ locale }}"}              # optional, templated; no secrets
        json: {order: "{{ var.order_id }}"}                     # optional body (POST), templated
        timeout: 5                                              # seconds, default 5, at most 30
      save_to: var.order        # the parsed JSON answer; later: {{ var.order.status }}
      next: show_order
      on_error: order_unavailable

The scheme and host of ``url`` are written literally in the flow (only the path and query may be
templated), and every ``{{ }}`` in the url is URL-encoded, so what a customer typed can never change
which system is called. On a timeout, a connection error, a non-2xx status, an answer that is not
JSON or one larger than 64 KiB, the flow continues at ``on_error``; the kind of error is in
``var.<save_to>_error`` (``timeout``, ``connection``, ``status``, ``not_json``, ``too_large``) and
the HTTP status (when there was one) in ``var.<save_to>_status``.

Where the calls go can be changed without editing flows (``configure``): a transport (tests) and URL
prefix rewrites (``https://orders.invalid`` -> a local or staging base).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import httpx
import jinja2

from bots.flows.outcomes import Next, Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import _ENVIRONMENT, Template, Value
from bots.flows.yamlsource import LineList, LineMap

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

log = logging.getLogger(__name__)

METHODS = ("GET", "POST")
DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 64 * 1024
ERROR_KINDS = ("timeout", "connection", "status", "not_json", "too_large")
_HTTP_KEYS = ("method", "url", "headers", "json", "timeout")
# The scheme and host must be literal text: templating starts after them.
_LITERAL_HOST = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/|\?|$)")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_URL_ENVIRONMENT = _ENVIRONMENT.overlay(
    finalize=lambda value: quote("" if isinstance(value, jinja2.Undefined) else str(value), safe="")
)


@dataclass(frozen=True)
class HttpOptions:
    """How http steps reach the network: a ``transport`` (None: the real network) and URL prefix
    ``rewrites`` applied to each rendered url (``{"https://orders.invalid": "http://127.0.0.1:8080"}``)."""

    transport: httpx.AsyncBaseTransport | None = None
    rewrites: Mapping[str, str] = field(default_factory=dict)

    def rewrite(self, url: str) -> str:
        for prefix, replacement in self.rewrites.items():
            if url == prefix or url.startswith(prefix.rstrip("/") + "/") or url.startswith(prefix + "?"):
                return replacement.rstrip("/") + url[len(prefix.rstrip("/")) :]
        return url


_options = HttpOptions()


def configure(options: HttpOptions) -> HttpOptions:
    """Use ``options`` for every http step from now on; returns the previous options."""
    global _options
    previous, _options = _options, options
    return previous


class _Failed(Exception):
    def __init__(self, kind: str, status: int | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status


def _body(raw: Any, reader: StepReader, line: int, what: str) -> Any:
    """A JSON body: maps and lists of Values, compiled once."""
    if isinstance(raw, LineMap):
        return {str(k): _body(v, reader, raw.line_of(k), f"{what}.{k}") for k, v in raw.items()}
    if isinstance(raw, LineList):
        return [_body(v, reader, raw.line_of(i), f"{what}[{i}]") for i, v in enumerate(raw)]
    return reader.value(raw, line, what)


def _evaluate(body: Any, ctx: TurnContext) -> Any:
    if isinstance(body, dict):
        return {k: _evaluate(v, ctx) for k, v in body.items()}
    if isinstance(body, list):
        return [_evaluate(v, ctx) for v in body]
    assert isinstance(body, Value)
    return ctx.evaluate(body)


def _complete(body: Any) -> bool:
    if isinstance(body, dict):
        return all(_complete(v) for v in body.values())
    if isinstance(body, list):
        return all(_complete(v) for v in body)
    return body is not None


@dataclass(frozen=True, kw_only=True)
class HttpStep(Step):
    kind: ClassVar[str] = "http"

    method: str
    url: Template
    headers: tuple[tuple[str, Template], ...] = ()
    body: Any = None
    timeout: float = DEFAULT_TIMEOUT
    save_to: str = "http"  # the flow variable's name
    next: str | None = None
    next_line: int = 0
    on_error: str
    on_error_line: int = 0

    def links(self) -> list[Link]:
        links = [Link(self.next, self.next_line, "next")] if self.next else []
        return [*links, Link(self.on_error, self.on_error_line, "on_error")]

    async def run(self, ctx: TurnContext) -> Outcome:
        names = ctx.names()
        url = _options.rewrite(self.url.render(names))
        headers = {name: value.render(names) for name, value in self.headers}
        body = _evaluate(self.body, ctx) if self.body is not None else None
        status_key, error_key = f"{self.save_to}_status", f"{self.save_to}_error"
        try:
            status, data = await self._call(url, headers, body)
        except _Failed as failure:
            log.info(
                "flow %s step %s: %s %s failed (%s)", ctx.flow.id, self.name, self.method, url, failure.kind
            )
            ctx.variables[status_key] = failure.status
            ctx.variables[error_key] = failure.kind
            return Next(self.on_error)
        ctx.variables[self.save_to] = data
        ctx.variables[status_key] = status
        ctx.variables[error_key] = None
        return after(self.next)

    async def _call(self, url: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        try:
            async with (
                httpx.AsyncClient(transport=_options.transport, timeout=self.timeout) as client,
                client.stream(self.method, url, headers=headers, json=body) as response,
            ):
                if not 200 <= response.status_code < 300:
                    raise _Failed("status", response.status_code)
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_RESPONSE_BYTES:
                        raise _Failed("too_large", response.status_code)
                status = response.status_code
        except httpx.TimeoutException:
            raise _Failed("timeout") from None
        except (httpx.HTTPError, httpx.InvalidURL, OSError):
            raise _Failed("connection") from None
        try:
            return status, json.loads(content) if content else None
        except ValueError:
            raise _Failed("not_json", status) from None


def compile_url(source: str) -> Template:
    """A url template whose ``{{ }}`` values are URL-encoded (raises jinja2.TemplateSyntaxError)."""
    return Template(source, _URL_ENVIRONMENT.from_string(source))


def _url(reader: StepReader, spec: LineMap) -> Template | None:
    raw = spec.get("url")
    line = spec.line_of("url")
    if raw is None:
        reader.problem(spec.line, "'url' is required (https://erp.example.com/orders/{{ var.order_id }})")
        return None
    if not isinstance(raw, str) or not _LITERAL_HOST.match(raw):
        reader.problem(
            line,
            f"'url' must start with http:// or https:// and a host written out (no {{{{ }}}} before "
            f"the path), got {raw!r}",
        )
        return None
    try:
        return compile_url(raw)
    except jinja2.TemplateSyntaxError as exc:
        reader.problem(line, f"'url': the template does not compile: {exc.message}")
        return None


def _headers(reader: StepReader, spec: LineMap) -> tuple[tuple[str, Template], ...] | None:
    raw = spec.get("headers")
    if raw is None:
        return ()
    if not isinstance(raw, LineMap):
        reader.problem(spec.line_of("headers"), "'headers' is a map of header name -> text")
        return None
    headers = []
    for name, value in raw.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            reader.problem(raw.key_lines[name], f"{name!r} is not a header name")
            continue
        template = reader.template(
            str(value) if isinstance(value, int | float) else value, raw.line_of(name), f"header {name!r}"
        )
        if template is not None:
            headers.append((name, template))
    return tuple(headers) if len(headers) == len(raw) else None


def parse(reader: StepReader) -> HttpStep | None:
    reader.check_keys({"save_to", "next", "on_error"})
    spec = reader.node.get("http")
    next_step = reader.target("next")
    on_error = reader.target("on_error", required=True)
    if not isinstance(spec, LineMap):
        reader.problem(
            reader.line_of("http"), "'http' is a map with url (and method, headers, json, timeout)"
        )
        return None
    for key in spec:
        if key not in _HTTP_KEYS:
            reader.problem(spec.key_lines[key], f"{key!r} is not a setting of http ({', '.join(_HTTP_KEYS)})")
    method = spec.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        reader.problem(spec.line_of("method"), f"'method' must be GET or POST, got {method!r}")
        method = None
    url = _url(reader, spec)
    headers = _headers(reader, spec)
    timeout: float | None = DEFAULT_TIMEOUT
    raw_timeout = spec.get("timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(raw_timeout, bool)
        or not isinstance(raw_timeout, int | float)
        or not 0 < raw_timeout <= MAX_TIMEOUT
    ):
        reader.problem(
            spec.line_of("timeout"),
            f"'timeout' is a number of seconds, more than 0 and at most {MAX_TIMEOUT:g}, got {raw_timeout!r}",
        )
        timeout = None
    else:
        timeout = float(raw_timeout)
    body = None
    if "json" in spec:
        body = _body(spec["json"], reader, spec.line_of("json"), "json")
        if method is not None and method.upper() == "GET":
            reader.problem(spec.line_of("json"), "a GET request has no body; use method: POST with 'json'")
            body = None
        elif not _complete(body):
            body = None
            method = None
    save_to = "http"
    if "save_to" in reader.node:
        target = reader.save_target(reader.node["save_to"], reader.line_of("save_to"), "'save_to'")
        if target is not None and target.scope != "var":
            reader.problem(
                reader.line_of("save_to"), "'save_to' of an http step must be a flow variable (var.NAME)"
            )
            target = None
        if target is None:
            return None
        save_to = target.key
    if method is None or url is None or headers is None or timeout is None or on_error is None:
        return None
    return HttpStep(
        name=reader.name,
        line=reader.line,
        method=method.upper(),
        url=url,
        headers=headers,
        body=body,
        timeout=timeout,
        save_to=save_to,
        next=next_step,
        next_line=reader.line_of("next"),
        on_error=on_error,
        on_error_line=reader.line_of("on_error"),
    )
