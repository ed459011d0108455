"""The HTML pages: the agents' inbox, the marketers' campaigns, the supervisors' reports, the admins'
settings, the sign-in page and the website chat demo.

Each workspace page is for the roles whose permission it names: without a session the browser is sent
to sign in (and back afterwards); a role without the permission gets a 403 page saying so, so an agent
never even loads the admin screens. The APIs behind the pages check the same permissions again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from hub.api.deps import current_principal, get_hub
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission, allows
from hub.errors import ApiError
from hub.runtime import Hub

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    file: str
    permission: Permission
    # Who starts their day here after signing in ("/"): marketers may read the inbox but work in
    # campaigns, so the inbox is the landing page only for those who reply.
    landing: Permission | None = None


# In the order of the navigation bar; "/" opens the first one the role may see.
PAGES = (
    Page("/inbox", "Inbox", "inbox.html", Permission.CONVERSATIONS_READ, Permission.CONVERSATIONS_REPLY),
    Page("/campaigns", "Campaigns", "campaigns.html", Permission.CAMPAIGNS_MANAGE),
    Page("/reports", "Reports", "reports.html", Permission.REPORTS_READ),
    Page("/admin", "Admin", "admin.html", Permission.SETTINGS_MANAGE),
)


async def _principal(request: Request, hub: Hub) -> Principal | None:
    try:
        return await current_principal(request, hub)
    except ApiError:
        return None


def _sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


def _forbidden(principal: Principal, page: Page) -> HTMLResponse:
    allowed = [p for p in PAGES if allows(principal.role, p.permission)]
    links = "".join(f'<li><a href="{p.path}">{html.escape(p.title)}</a></li>' for p in allowed)
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not for your role · omnihub</title><link rel="stylesheet" href="/static/inbox.css"></head>
<body class="auth"><main class="auth-card" data-forbidden="{page.path}">
<div class="brand brand--large"><span class="brand-mark" aria-hidden="true"></span>omnihub</div>
<h1 class="auth-title">{html.escape(page.title)} is not for your role</h1>
<p class="auth-lead">You are signed in as {html.escape(principal.name)} ({principal.role.value}).
{html.escape(page.title)} needs the <code>{page.permission.value}</code> permission; ask an admin if you
need it.</p><ul class="forbidden-links">{links}</ul></main></body></html>"""
    return HTMLResponse(body, status_code=403)


def _page_route(page: Page) -> None:
    async def serve(request: Request, hub: Hub = Depends(get_hub)) -> Response:
        principal = await _principal(request, hub)
        if principal is None:
            return _sign_in(request)
        if not allows(principal.role, page.permission):
            return _forbidden(principal, page)
        return FileResponse(STATIC / page.file, headers={"Cache-Control": "no-store"})

    router.add_api_route(page.path, serve, methods=["GET"], name=page.path.strip("/") + "_page")


for _page in PAGES:
    _page_route(_page)


@router.get("/")
async def home(request: Request, hub: Hub = Depends(get_hub)) -> RedirectResponse:
    principal = await _principal(request, hub)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    for page in PAGES:
        if allows(principal.role, page.landing or page.permission):
            return RedirectResponse(page.path, status_code=303)
    return RedirectResponse("/login", status_code=303)


@router.get("/api/v1/pages")
async def pages_for_me(principal: Principal = Depends(current_principal)) -> list[dict[str, str]]:
    """The workspace pages the caller may open, for the navigation bar (static/shell/nav.js)."""
    return [{"path": p.path, "title": p.title} for p in PAGES if allows(principal.role, p.permission)]


@router.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html")


@router.get("/chat")
async def chat_page() -> FileResponse:
    """A demo website with the chat widget embedded, as a customer would see it."""
    return FileResponse(STATIC / "chat.html")
