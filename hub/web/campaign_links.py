"""The two public links campaign messages carry (hub.campaigns.links): a tracked click, and one-click
unsubscribe. Both are signed: nothing here trusts a parameter the hub did not sign itself."""

from __future__ import annotations

import html

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from crm_core.columns import utcnow
from crm_core.consent import set_consent
from crm_core.customers import get_customer, record_event
from crm_core.models import ConsentPurpose
from hub.api.deps import get_hub
from hub.campaigns.journeys import wake
from hub.campaigns.models import CampaignSend
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(tags=["campaigns"], include_in_schema=False)

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font:inherit;padding:.5rem 1.25rem;border-radius:.5rem;border:1px solid #888;background:#fff}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _links(hub: Hub):  # type: ignore[no-untyped-def]
    links = hub.campaigns.links if hub.campaigns is not None else None
    if links is None:
        raise ApiError(404, "not_found", "no such link")
    return links


@router.get("/c/{token}")
async def click(token: str, hub: Hub = Depends(get_hub)) -> RedirectResponse:
    """Count the first click on the customer's campaign message, then go where the link points."""
    found = _links(hub).read_click(token)
    if found is None:
        raise ApiError(404, "not_found", "no such link")
    ref, destination = found
    async with hub.db.transaction() as session:
        send = (
            await session.execute(
                select(CampaignSend)
                .where(
                    CampaignSend.campaign_id == ref.campaign,
                    CampaignSend.run_key == ref.run,
                    CampaignSend.step == ref.step,
                    CampaignSend.customer_id == ref.customer,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if send is not None and send.clicked_at is None:
            send.clicked_at = utcnow()
            session.add(send)
            # A journey waiting until the customer clicks goes on now.
            await wake(session, send.customer_id, send.clicked_at)
            await record_event(
                session,
                send.customer_id,
                "campaign.clicked",
                {"campaign": ref.campaign, "url": destination},
                source="campaign",
            )
    return RedirectResponse(destination, status_code=302)


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, hub: Hub = Depends(get_hub)) -> HTMLResponse:
    """A confirmation page (mail scanners follow GET links; only the button unsubscribes)."""
    found = _links(hub).read_unsubscribe(token)
    if found is None:
        raise ApiError(404, "not_found", "no such link")
    _, channel = found
    body = (
        f"<p>Stop marketing messages by {html.escape(channel)}? Order updates still reach you.</p>"
        f'<form method="post"><button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=body))


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, hub: Hub = Depends(get_hub)) -> HTMLResponse:
    """Withdraw the customer's marketing consent on that channel: from the page's button, or from a
    mail client's one-click unsubscribe (RFC 8058 posts List-Unsubscribe=One-Click)."""
    found = _links(hub).read_unsubscribe(token)
    if found is None:
        raise ApiError(404, "not_found", "no such link")
    customer_id, channel = found
    async with hub.db.transaction() as session:
        customer = await get_customer(session, customer_id)
        while customer.merged_into_id is not None:
            customer = await get_customer(session, customer.merged_into_id)
        await set_consent(
            session,
            customer.id,
            channel,
            ConsentPurpose.MARKETING,
            False,
            source="unsubscribe link",  # type: ignore[arg-type]
        )
    body = f"<p>Done: no more marketing messages by {html.escape(channel)}.</p>"
    return HTMLResponse(_PAGE.format(title="You are unsubscribed", body=body))
