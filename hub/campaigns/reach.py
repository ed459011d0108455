"""Which channel a campaign reaches each customer on.

The campaign's preference order is walked for each customer; a channel qualifies when the customer
has an identity it addresses (a phone for SMS and WhatsApp, a Telegram chat...), the hub has an
account of that type, and — for marketing — the customer granted marketing consent on that channel.
Transactional messages need no opt-in, only the absence of a refusal.

Facts are loaded for a whole batch of customers in three queries, so planning a million customers
costs a few thousand queries, not millions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Consent, Customer, Identity
from hub.accounts import IDENTITY_KIND, Accounts
from hub.campaigns.models import SkipReason


@dataclass(frozen=True)
class Person:
    """What planning needs of a customer record (read as plain columns: building ORM objects for a
    million customers costs more than the query)."""

    id: int
    display_name: str
    locale: str | None
    timezone: str | None
    attributes: dict[str, Any]
    tags: list[str]


@dataclass
class CustomerReach:
    customer: Person
    # identity kind -> address (the verified one first, then the newest)
    addresses: dict[str, str] = field(default_factory=dict)
    # (channel type, purpose) -> granted
    consents: dict[tuple[str, str], bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    channel_type: str
    account: str
    address: str


@dataclass(frozen=True)
class NoRoute:
    reason: SkipReason


async def load_reach(session: AsyncSession, customer_ids: Sequence[int]) -> dict[int, CustomerReach]:
    if not customer_ids:
        return {}
    c = Customer.__table__.c  # type: ignore[attr-defined]
    rows = await session.execute(
        select(c.id, c.display_name, c.locale, c.timezone, c.attributes, c.tags).where(c.id.in_(customer_ids))
    )
    reach = {row[0]: CustomerReach(Person(*row)) for row in rows.all()}
    identities = await session.execute(
        select(Identity.customer_id, Identity.kind, Identity.address, Identity.verified)
        .where(Identity.customer_id.in_(customer_ids))  # type: ignore[attr-defined]
        .order_by(Identity.customer_id, Identity.verified.desc(), Identity.id.desc())  # type: ignore[attr-defined]
    )
    for customer_id, kind, address, _verified in identities.all():
        if customer_id in reach:
            reach[customer_id].addresses.setdefault(
                str(kind.value if hasattr(kind, "value") else kind), address
            )
    consents = await session.execute(
        select(Consent.customer_id, Consent.channel, Consent.purpose, Consent.granted).where(
            Consent.customer_id.in_(customer_ids)  # type: ignore[attr-defined]
        )
    )
    for customer_id, channel, purpose, granted in consents.all():
        if customer_id in reach:
            purpose_value = purpose.value if hasattr(purpose, "value") else str(purpose)
            reach[customer_id].consents[(channel, purpose_value)] = bool(granted)
    return reach


class Router:
    """Picks the route for a customer over the channel types in preference order."""

    def __init__(self, accounts: Accounts | Iterable[tuple[str, str]]) -> None:
        # channel type -> the first configured account of that type
        self.accounts: dict[str, str] = {}
        pairs = ((a.type, a.name) for a in accounts) if isinstance(accounts, Accounts) else accounts
        for channel_type, name in pairs:
            self.accounts.setdefault(channel_type, name)

    def route(
        self,
        reach: CustomerReach,
        preference: Sequence[str],
        purpose: str,
        *,
        skip: Iterable[str] = (),
    ) -> Route | NoRoute:
        skipped = set(skip)
        reachable_without_consent = False
        for channel_type in preference:
            if channel_type in skipped or channel_type not in self.accounts:
                continue
            kind = IDENTITY_KIND.get(channel_type)
            address = reach.addresses.get(kind.value) if kind is not None else None
            if address is None:
                continue
            if not allowed(reach.consents, channel_type, purpose):
                reachable_without_consent = True
                continue
            return Route(channel_type, self.accounts[channel_type], address)
        return NoRoute(SkipReason.NO_CONSENT if reachable_without_consent else SkipReason.NO_CHANNEL)


def allowed(consents: Mapping[tuple[str, str], bool], channel_type: str, purpose: str) -> bool:
    """Marketing needs an opt-in on the channel; transactional only the absence of a refusal."""
    if purpose == "marketing":
        return consents.get((channel_type, "marketing")) is True
    return consents.get((channel_type, "transactional")) is not False
