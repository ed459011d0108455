"""The HTML pages: the agent inbox, its login, and the website chat demo page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/inbox")


@router.get("/inbox")
async def inbox_page() -> FileResponse:
    return FileResponse(STATIC / "inbox.html")


@router.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html")


@router.get("/chat")
async def chat_page() -> FileResponse:
    """A demo website with the chat widget embedded, as a customer would see it."""
    return FileResponse(STATIC / "chat.html")
