"""POST /webhooks/{type}/{account}: where providers deliver events (see hub.inbound.receive)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request, Response

from channels.contract import MalformedEvent, SignatureError, WebhookRequest
from hub import metrics
from hub.accounts import UnknownAccount
from hub.api.deps import get_hub
from hub.inbound.receive import receive
from hub.runtime import Hub

router = APIRouter(tags=["webhooks"])


def public_request(hub: Hub, request: Request, body: bytes) -> WebhookRequest:
    """The request as the provider saw it: behind a proxy the URL it signed is the configured
    public_url, not the address we are listening on."""
    url = hub.config.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return WebhookRequest(
        method=request.method,
        url=url,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        query=dict(request.query_params),
    )


@router.post("/webhooks/{channel_type}/{account_name}", summary="Receive a provider event")
async def webhook(
    channel_type: str, account_name: str, request: Request, hub: Hub = Depends(get_hub)
) -> Response:
    started = time.perf_counter()
    try:
        account = hub.accounts.get(account_name, channel_type)
    except UnknownAccount:
        metrics.WEBHOOKS.labels(channel_type, "unknown_account").inc()
        raise
    body = await request.body()
    try:
        received = await receive(
            hub.db, hub.bus, account, public_request(hub, request, body), hub.config.default_region
        )
    except SignatureError:
        metrics.WEBHOOKS.labels(channel_type, "forged").inc()
        raise
    except MalformedEvent:
        metrics.WEBHOOKS.labels(channel_type, "malformed").inc()
        raise
    metrics.WEBHOOKS.labels(channel_type, "duplicate" if received.duplicate else "stored").inc()
    metrics.ACK_SECONDS.labels(channel_type).observe(time.perf_counter() - started)
    ack = received.acknowledgement
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.content_type)
