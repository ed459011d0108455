"""The workspace pages are for the roles whose permission they name: the server sends a visitor without a
session to sign in, answers 403 with a page saying why for a role without the permission, and lands each
role on its own page."""

from __future__ import annotations

import pytest

from hub.runtime import Hub
from hub.web.pages import PAGES
from inbox.models import Role
from tests.conftest import agent_headers, client_for

# Which pages each role may open; written out rather than derived, so a change to the permission table
# that opens a page to a new role fails here and is a decision, not an accident.
ALLOWED = {
    Role.ADMIN: {"/inbox", "/campaigns", "/reports", "/admin"},
    Role.AGENT: {"/inbox"},
    Role.SUPERVISOR: {"/inbox", "/reports"},
    Role.MARKETER: {"/inbox", "/campaigns"},
}
LANDING = {Role.ADMIN: "/inbox", Role.AGENT: "/inbox", Role.SUPERVISOR: "/inbox", Role.MARKETER: "/campaigns"}


async def test_without_a_session_every_page_sends_you_to_sign_in(hub: Hub) -> None:
    async with client_for(hub) as http:
        for page in PAGES:
            response = await http.get(page.path)
            assert response.status_code == 303, page.path
            assert response.headers["location"] == f"/login?next={page.path}"
        assert (await http.get("/")).headers["location"] == "/login"


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_opens_its_pages_and_is_refused_the_others(hub: Hub, role: Role) -> None:
    headers, _ = await agent_headers(hub, role)
    async with client_for(hub) as http:
        listed = await http.get("/api/v1/pages", headers=headers)
        assert {p["path"] for p in listed.json()} == ALLOWED[role]
        assert (await http.get("/", headers=headers)).headers["location"] == LANDING[role]
        for page in PAGES:
            response = await http.get(page.path, headers=headers)
            if page.path in ALLOWED[role]:
                assert response.status_code == 200, (role, page.path)
                assert response.headers["content-type"].startswith("text/html")
            else:
                assert response.status_code == 403, (role, page.path)
                assert f"{page.title} is not for your role" in response.text
                assert page.permission.value in response.text
