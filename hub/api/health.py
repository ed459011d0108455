"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.deps import get_hub
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(hub: Hub = Depends(get_hub)) -> dict[str, str]:
    try:
        await hub.db.ping()
    except Exception as exc:
        raise ApiError(
            503, "database_unreachable", f"the database is not reachable: {type(exc).__name__}"
        ) from None
    return {"status": "ready", "database": hub.db.dialect}


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
