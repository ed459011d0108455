"""A website visitor, driving the web chat endpoints exactly as widget.js does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Visitor:
    account: str
    visitor_id: str
    token: str

    @classmethod
    async def start(cls, http: httpx.AsyncClient, account: str = "site") -> Visitor:
        response = await http.post(f"/webchat/{account}/session", json={})
        assert response.status_code == 200, response.text
        body = response.json()
        return cls(account, body["visitor_id"], body["token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Webchat-Visitor": self.visitor_id, "X-Webchat-Token": self.token}

    def message(self, text: str, message_id: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"type": "message", "id": message_id or uuid.uuid4().hex, "text": text, **extra}

    async def say(
        self, http: httpx.AsyncClient, text: str, message_id: str | None = None, **extra: Any
    ) -> httpx.Response:
        return await http.post(
            f"/webhooks/webchat/{self.account}",
            json=self.message(text, message_id, **extra),
            headers=self.headers,
        )

    async def history(self, http: httpx.AsyncClient) -> list[dict[str, Any]]:
        response = await http.get(f"/webchat/{self.account}/messages", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()
