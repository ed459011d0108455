"""Media files: ``/media/{digest}/{name}`` for signed-in agents (files that arrived with messages,
files agents attach), and ``/media/shared/{digest}/{name}?sig=...`` for one file an agent sent to a
customer — the provider (Twilio, Telegram) or the customer's browser fetches it without logging in, so
the link carries an HMAC of the file's digest instead: it opens that file and no other."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.media import share_signature, shared_url
from hub.runtime import Hub

router = APIRouter(include_in_schema=False)

__all__ = ["router", "shared_url"]


@router.get("/media/shared/{digest}/{name}")
async def shared_media(
    digest: str, name: str, sig: str = Query(max_length=64), hub: Hub = Depends(get_hub)
) -> FileResponse:
    if not hmac.compare_digest(share_signature(hub.settings.secret_key, digest), sig):
        raise ApiError(404, "not_found", "no such file")
    path = hub.media.path_for(digest)
    if path is None:
        raise ApiError(404, "not_found", "no such file")
    return FileResponse(path, filename=name)


@router.get("/media/{digest}/{name}")
async def media(
    digest: str,
    name: str,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> FileResponse:
    path = hub.media.path_for(digest)
    if path is None:
        raise ApiError(404, "not_found", "no such file")
    return FileResponse(path, filename=name)
