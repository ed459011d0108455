"""What other parts of the hub may say about an outbox row around its sending.

The outbox knows messages, not why they are sent. A campaign message must be checked again right
before it leaves (consent withdrawn since planning, the frequency cap, a paused campaign) and its
campaign must learn how it went. A hook ``concerns`` the rows it recognises by their payload (no
database round trip for the others), ``check``s them before sending, and hears about their outcome
in the same transaction that records it in the outbox.

A hook may put a row under rate limits of its own besides its channel account's (a campaign's
``max_rate``): ``Send(limits=(RateLimit("campaign:spring", 30),))``. Those hold across every worker
like the account's (hub/outbound/ratelimit.py); a hook must not wait for a rate itself, since its
``check`` runs inside a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from hub.outbound.ratelimit import RateLimit


@dataclass(frozen=True)
class Send:
    """Go ahead, within ``limits`` as well as the channel account's."""

    limits: tuple[RateLimit, ...] = ()


@dataclass(frozen=True)
class Defer:
    """Not now: try again at ``until`` (the attempt is not counted)."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class Drop:
    """Never send this row (it is marked cancelled with ``reason``)."""

    reason: str


Verdict = Send | Defer | Drop
SEND = Send()


class OutboxHook(Protocol):
    def concerns(self, payload: dict[str, Any]) -> bool: ...

    async def check(self, session: AsyncSession, payload: dict[str, Any]) -> Verdict: ...

    async def sent(
        self, session: AsyncSession, payload: dict[str, Any], provider_message_id: str | None, at: datetime
    ) -> None: ...

    async def failed(
        self, session: AsyncSession, payload: dict[str, Any], reason: str, at: datetime
    ) -> None: ...

    async def dropped(self, session: AsyncSession, payload: dict[str, Any], reason: str) -> None: ...
