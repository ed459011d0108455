"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from channels.webchat import WebchatSettings
from hub.api import (
    admin,
    attributes,
    auth,
    campaigns,
    conversations,
    customers,
    events,
    flows,
    health,
    live,
    privacy,
    reports,
    segments,
    sla,
    teams_queue,
    webhooks,
)
from hub.config import HubConfig, load_config
from hub.errors import RequestContextMiddleware, install_error_handlers
from hub.runtime import Hub
from hub.settings import Settings
from hub.web import campaign_links, demo_orders, media, pages, webchat
from hub.web.pages import STATIC


def create_app(
    settings: Settings | None = None,
    config: HubConfig | None = None,
    *,
    hub: Hub | None = None,
    workers: bool | None = None,
    demo: bool = False,
) -> FastAPI:
    """Build the app. ``workers`` runs the inbound processor and outbox dispatcher in this process
    (default: on SQLite yes, on PostgreSQL no — run `hub worker` there); ``demo`` adds the demo's
    stand-in order system (hub.web.demo_orders)."""
    settings = settings or Settings()
    config = config or load_config(settings.hub_config)
    run_workers = settings.run_worker_in_process if workers is None else workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = Hub.build(settings, config)
        app.state.hub = running
        await running.start(workers=run_workers, listeners=run_workers)
        try:
            yield
        finally:
            await running.stop()

    app = FastAPI(
        title="omnihub",
        version="0.1.0",
        description="One customer record, one inbox, every channel.",
        # A hub handed in (tests) is started and stopped by its owner.
        lifespan=None if hub is not None else lifespan,
    )
    if hub is not None:
        app.state.hub = hub
    origins = sorted(
        {o for s in config.channels.values() if isinstance(s, WebchatSettings) for o in s.allowed_origins}
    )
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Webchat-Visitor", "X-Webchat-Token"],
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.hub_max_body_bytes)
    install_error_handlers(app)
    for router in (
        health.router,
        webhooks.router,
        auth.router,
        customers.router,
        attributes.router,
        conversations.router,
        events.router,
        sla.router,
        teams_queue.router,
        admin.router,
        privacy.router,
        reports.router,
        flows.router,
        segments.router,
        campaigns.router,
        live.router,
        webchat.router,
        media.router,
        campaign_links.router,
        pages.router,
    ):
        app.include_router(router)
    if demo:
        app.include_router(demo_orders.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
