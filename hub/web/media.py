"""GET /media/{digest}/{name}: files that arrived with messages, for signed-in agents."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(include_in_schema=False)


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
