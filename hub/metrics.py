"""Prometheus metrics, exposed at GET /metrics (per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOKS = Counter("omnihub_webhook_requests_total", "Webhook requests by outcome", ["channel", "outcome"])
ACK_SECONDS = Histogram(
    "omnihub_webhook_ack_seconds",
    "Time from request to acknowledgement",
    ["channel"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RAW_EVENTS = Counter(
    "omnihub_inbound_events_total", "Raw inbound events processed by outcome", ["channel", "outcome"]
)
OUTBOX_SENT = Counter(
    "omnihub_outbox_attempts_total", "Outbox send attempts by outcome", ["account", "outcome"]
)
