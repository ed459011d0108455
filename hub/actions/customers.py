"""Actions on the customer record: edit, consent, merge and undo, business events."""

from __future__ import annotations

from typing import Any

from crm_core import customers as crm
from crm_core.addresses import parse_identity_ref
from crm_core.consent import consents_of, set_consent
from crm_core.merge import merge_customers, undo_merge
from crm_core.models import ConsentPurpose, Customer, CustomerEvent, MergeRecord
from hub import audit
from hub.api.schemas import BusinessEventIn, CustomerUpdateIn
from hub.auth.credentials import Principal
from hub.errors import ApiError
from hub.flows import on_business_event
from hub.outbound.enqueue import WAKE_TOPIC
from hub.runtime import MERGE_PARTICIPANTS, Hub


async def _publish_customer(hub: Hub, *customer_ids: int) -> None:
    for customer_id in customer_ids:
        await hub.bus.publish("inbox", {"type": "customer.updated", "customer_id": customer_id})


async def update_customer(
    hub: Hub, customer_id: int, changes: CustomerUpdateIn, principal: Principal
) -> Customer:
    async with hub.db.transaction() as session:
        customer = await crm.get_customer(session, customer_id)
        if customer.merged_into_id is not None:
            raise ApiError(
                409, "customer_merged", f"customer {customer_id} was merged into {customer.merged_into_id}"
            )
        for field in ("display_name", "locale", "timezone"):
            value = getattr(changes, field)
            if value is not None:
                setattr(customer, field, value)
        if changes.attributes:
            stored = await crm.update_attributes(session, customer, changes.attributes)
            await crm.record_event(
                session, customer, "attributes.changed", {"changes": stored}, source=principal.label
            )
        if changes.add_tags or changes.remove_tags:
            await crm.set_tags(session, customer, changes.add_tags, changes.remove_tags)
        session.add(customer)
    await _publish_customer(hub, customer_id)
    return customer


async def change_consent(
    hub: Hub,
    customer_id: int,
    channel: str,
    purpose: ConsentPurpose,
    granted: bool,
    source: str,
    principal: Principal,
) -> None:
    async with hub.db.transaction() as session:
        await crm.get_customer(session, customer_id)
        before = {(c.channel, c.purpose): c.granted for c in await consents_of(session, customer_id)}
        await set_consent(session, customer_id, channel, purpose, granted, source=source or principal.label)
        # The decision and where it came from; the channel is a kind (sms, email), never an address.
        details = {
            "channel": channel,
            "purpose": purpose.value,
            "granted": [before.get((channel, purpose)), granted],
        }
        audit.record(session, principal, "consent.change", "customer", customer_id, details)
    await _publish_customer(hub, customer_id)


async def merge(hub: Hub, survivor_id: int, merged_id: int, principal: Principal) -> MergeRecord:
    async with hub.db.transaction() as session:
        record = await merge_customers(
            session, survivor_id, merged_id, by=principal.label, participants=MERGE_PARTICIPANTS
        )
        details = {"merged_id": merged_id, "merge_id": record.id}
        audit.record(session, principal, "customer.merge", "customer", survivor_id, details)
    await _publish_customer(hub, survivor_id, merged_id)
    return record


async def undo(hub: Hub, merge_id: int, principal: Principal) -> MergeRecord:
    async with hub.db.transaction() as session:
        record = await undo_merge(session, merge_id, by=principal.label, participants=MERGE_PARTICIPANTS)
        details = {"merged_id": record.merged_id, "merge_id": merge_id}
        audit.record(session, principal, "customer.merge_undo", "customer", record.survivor_id, details)
    await _publish_customer(hub, record.survivor_id, record.merged_id)
    return record


async def record_business_event(hub: Hub, body: BusinessEventIn, principal: Principal) -> CustomerEvent:
    """A business event (order.created, cart.abandoned, ...) on the customer found by id or by any
    identity; campaigns and flows trigger on these."""
    if (body.customer_id is None) == (body.identity is None):
        raise ApiError(422, "invalid_request", "give exactly one of customer_id or identity (kind:address)")
    payload: dict[str, Any] = dict(body.payload)
    async with hub.db.transaction() as session:
        if body.customer_id is not None:
            customer = await crm.get_customer(session, body.customer_id)
        else:
            kind, address = parse_identity_ref(body.identity or "", hub.config.default_region)
            found = await crm.find_by_identity(session, kind, address)
            if found is None:
                if not body.create_customer:
                    raise ApiError(
                        404, "customer_not_found", f"no customer has the identity {kind.value}:{address}"
                    )
                found = (
                    await crm.resolve_identity(session, kind, address, verified=False, source=principal.label)
                ).customer
            customer = found
        if customer.merged_into_id is not None:
            customer = await crm.get_customer(session, customer.merged_into_id)
        event = await crm.record_event(
            session, customer, body.kind, payload, source=principal.label, occurred_at=body.occurred_at
        )
        flow_events = (
            await on_business_event(session, hub.flows, customer, body.kind, payload) if hub.flows else []
        )
        if hub.campaigns is not None:
            # Triggered campaigns plan their sends; a recent campaign message may have converted.
            await hub.campaigns.on_event(
                session, customer.id, body.kind, payload, event_id=event.id, at=event.occurred_at
            )
    await _publish_customer(hub, event.customer_id)
    if flow_events:
        await hub.bus.publish_all(flow_events)
        await hub.bus.publish(WAKE_TOPIC, {})
    return event
