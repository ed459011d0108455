"""POST /api/v1/uploads: a file an agent attaches to a reply, kept in the media store until sent."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, File, UploadFile

from hub.api.deps import get_hub, require
from hub.api.schemas import UploadOut
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])

# Most providers refuse bigger media (Twilio MMS 5 MB, WhatsApp 16 MB, Telegram bots 50 MB).
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
_KINDS = ("image", "audio", "video")


def attachment_kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0].lower()
    return major if major in _KINDS else "file"


@router.post("", response_model=UploadOut, status_code=201)
async def upload(
    file: UploadFile = File(..., description="the file to attach"),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> UploadOut:
    """Store the file; send its ``url`` in a reply's ``attachments``."""
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ApiError(
            413, "file_too_large", f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
        )
    if not content:
        raise ApiError(422, "empty_file", "the file is empty")
    filename = (file.filename or "file").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200] or "file"
    content_type = file.content_type or "application/octet-stream"
    return UploadOut(
        url=await asyncio.to_thread(hub.media.save, content, filename),
        filename=filename,
        content_type=content_type,
        size=len(content),
        kind=attachment_kind(content_type),
    )
