"""Finding customer records that are probably the same person, with the reasons.

Verified identities merge records on their own (the same verified phone is the same person).
Everything weaker only suggests: similar names (rapidfuzz), or a phone or email typed into one
record's attributes that is another record's identity. An agent decides, and a merge can be undone.

Candidates are blocked in SQL first (name tokens, exact addresses), so this stays cheap on large
databases; only the few candidates are scored in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz, utils
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.addresses import InvalidAddress, normalize_email, normalize_phone
from crm_core.customers import get_customer
from crm_core.models import Customer, Identity, IdentityKind

NAME_THRESHOLD = 85.0
MAX_CANDIDATES = 200
# Attributes where people type contact details by hand.
_PHONE_ATTRIBUTES = ("phone", "mobile", "phone_number")
_EMAIL_ATTRIBUTES = ("email", "email_address")


@dataclass
class DuplicateSuggestion:
    customer: Customer
    score: float
    reasons: list[str] = field(default_factory=list)


def _typed_addresses(customer: Customer, default_region: str | None) -> list[tuple[IdentityKind, str, str]]:
    """(kind, normalised address, attribute name) of contact details typed into attributes."""
    found = []
    for key in _PHONE_ATTRIBUTES:
        if isinstance(customer.attributes.get(key), str):
            try:
                found.append(
                    (IdentityKind.PHONE, normalize_phone(customer.attributes[key], default_region), key)
                )
            except InvalidAddress:
                continue
    for key in _EMAIL_ATTRIBUTES:
        if isinstance(customer.attributes.get(key), str):
            try:
                found.append((IdentityKind.EMAIL, normalize_email(customer.attributes[key]), key))
            except InvalidAddress:
                continue
    return found


async def find_duplicates(
    session: AsyncSession, customer_id: int, *, default_region: str | None = None, limit: int = 5
) -> list[DuplicateSuggestion]:
    """Other live customers that may be the same person, best first."""
    customer = await get_customer(session, customer_id)
    suggestions: dict[int, DuplicateSuggestion] = {}

    def suggest(other: Customer, score: float, reason: str) -> None:
        entry = suggestions.setdefault(other.id, DuplicateSuggestion(other, 0.0))  # type: ignore[arg-type]
        entry.score = max(entry.score, score)
        entry.reasons.append(reason)

    live = Customer.merged_into_id.is_(None) & (Customer.id != customer_id)

    # A phone or email typed into this record that is someone else's identity.
    for kind, address, key in _typed_addresses(customer, default_region):
        owners = await session.execute(
            select(Customer)
            .join(Identity, Identity.customer_id == Customer.id)
            .where(live, Identity.kind == kind, Identity.address == address)
        )
        for other in owners.scalars():
            suggest(other, 95.0, f"the {key} typed on this record ({address}) is their {kind.value}")

    # This record's phone or email typed into someone else's attributes. Matched in SQL on the
    # canonical forms; a number typed with spaces is found from the other record's side (above).
    own = list((await session.execute(select(Identity).where(Identity.customer_id == customer_id))).scalars())
    for identity in own:
        if identity.kind is IdentityKind.PHONE:
            keys, forms = _PHONE_ATTRIBUTES, {identity.address, identity.address.lstrip("+")}
        elif identity.kind is IdentityKind.EMAIL:
            keys, forms = _EMAIL_ATTRIBUTES, {identity.address}
        else:
            continue
        for key in keys:
            typed = func.lower(Customer.attributes[key].as_string())
            for other in (await session.execute(select(Customer).where(live, typed.in_(forms)))).scalars():
                suggest(
                    other, 95.0, f"their {key} is this record's {identity.kind.value} ({identity.address})"
                )

    # Similar names: block on any name token, then score.
    name = utils.default_process(customer.display_name)
    tokens = [t for t in name.split() if len(t) >= 3]
    if tokens:
        pattern = or_(*(func.lower(Customer.display_name).like(f"%{t}%") for t in tokens))
        candidates = (
            await session.execute(select(Customer).where(live, pattern).limit(MAX_CANDIDATES))
        ).scalars()
        for other in candidates:
            score = fuzz.token_sort_ratio(
                customer.display_name, other.display_name, processor=utils.default_process
            )
            if score >= NAME_THRESHOLD:
                suggest(other, score, f"similar name: {other.display_name!r} ({score:.0f}%)")

    ranked = sorted(suggestions.values(), key=lambda s: (-s.score, -len(s.reasons), s.customer.id))
    return ranked[:limit]
