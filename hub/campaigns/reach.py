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

from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Consent, Customer, Identity
from hub.accounts import IDENTITY_KIND, Accounts
from hub.campaigns.id_lists import among
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


async def load_reach(
    session: AsyncSession, customer_ids: Sequence[int], *, documents: bool = True
) -> dict[int, CustomerReach]:
    """The reach facts of these customers. ``documents=False`` leaves their attributes and tags
    out (empty): for campaign planning whose templates read neither (decoding them was a good part
    of planning a million customers)."""
    if not customer_ids:
        return {}
    c = Customer.__table__.c  # type: ignore[attr-defined]
    record = (c.id, c.display_name, c.locale, c.timezone, *((c.attributes, c.tags) if documents else ()))
    rows = await session.execute(select(*record).where(among(session, c.id, customer_ids)))
    if documents:
        reach = {row[0]: CustomerReach(Person(*row)) for row in rows.all()}
    else:
        reach = {row[0]: CustomerReach(Person(*row, {}, [])) for row in rows.all()}
    i = Identity.__table__.c  # type: ignore[attr-defined]
    identities = await session.execute(
        # The kind as its stored text: turning a million values into enum members costs seconds.
        select(i.customer_id, type_coerce(i.kind, String), i.address)
        .where(among(session, i.customer_id, customer_ids))
        .order_by(i.customer_id, i.verified.desc(), i.id.desc())
    )
    for customer_id, kind, address in identities.all():
        if customer_id in reach:
            reach[customer_id].addresses.setdefault(kind, address)
    k = Consent.__table__.c  # type: ignore[attr-defined]
    consents = await session.execute(
        select(k.customer_id, k.channel, type_coerce(k.purpose, String), k.granted).where(
            among(session, k.customer_id, customer_ids)
        )
    )
    for customer_id, channel, purpose, granted in consents.all():
        if customer_id in reach:
            reach[customer_id].consents[(channel, purpose)] = bool(granted)
    return reach


# channel type -> the identity kind it addresses, as text (enum .value per customer adds up at scale)
_ADDRESSED_BY = {channel_type: kind.value for channel_type, kind in IDENTITY_KIND.items()}


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
            address = reach.addresses.get(_ADDRESSED_BY.get(channel_type, ""))
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
