"""Liveness, readiness and metrics, as a load balancer and Prometheus see them."""

from __future__ import annotations

from hub.db import Database
from hub.runtime import Hub
from tests.conftest import client_for, drain
from tests.fakes.webchat import Visitor


async def test_health_readiness_and_metrics(hub: Hub) -> None:
    async with client_for(hub) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = (await http.get("/readyz")).json()
        assert ready == {"status": "ready", "database": hub.db.dialect}

        visitor = await Visitor.start(http)
        await visitor.say(http, "hello", message_id="metrics-msg-1")
        await visitor.say(http, "hello", message_id="metrics-msg-1")
        await drain(hub)
        metrics = (await http.get("/metrics")).text
        assert 'omnihub_webhook_requests_total{channel="webchat",outcome="stored"}' in metrics
        assert 'omnihub_webhook_requests_total{channel="webchat",outcome="duplicate"}' in metrics
        assert 'omnihub_inbound_events_total{channel="webchat",outcome="processed"}' in metrics
        assert "omnihub_webhook_ack_seconds_bucket" in metrics


async def test_readiness_fails_when_the_database_is_unreachable(hub: Hub) -> None:
    real = hub.db
    hub.db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")  # nothing listens on port 1
    try:
        async with client_for(hub) as http:
            response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unreachable"
    finally:
        await hub.db.dispose()
        hub.db = real
