"""/api/v1/channel-accounts: each channel account's health for the admin screens (settings:manage).

Per account: the exact webhook URL to paste into the provider (from hub.yaml's public_url), what to do
with it, what the provider says is wrong (``?check=true`` asks the providers, as `hub channels check`
does, hub/channel_health.py; it takes up to a few seconds), and what the hub itself saw: the last
event received, failures in the last 24 hours and the newest error in either direction. Nothing here
ever contains a secret of the configuration: provider answers and stored errors are masked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.channel_health import PROVIDER_TYPES, AccountReport, check_config, without_secrets
from hub.inbound.models import RawEvent, RawEventStatus
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/channel-accounts", tags=["admin"])

RECENT = timedelta(hours=24)


class ChannelErrorOut(BaseModel):
    direction: Literal["inbound", "outbound"]
    # Inbound: when the event arrived; outbound: when the message was queued.
    at: datetime
    text: str


class ChannelAccountHealthOut(BaseModel):
    name: str
    type: str
    # None for email, which receives by SMTP or IMAP rather than a webhook.
    webhook_url: str | None
    advice: list[str]
    # What the provider reported (None: not asked in this request).
    problems: list[str] | None
    # problem: the provider check failed; failing: failures in the last 24 h; ok: checked, fine;
    # unchecked: nothing wrong seen, provider not asked.
    status: Literal["problem", "failing", "ok", "unchecked"]
    last_event_at: datetime | None
    events_24h: int
    failures_24h: int
    last_error: ChannelErrorOut | None


class ChannelHealthOut(BaseModel):
    public_url: str
    # Problems of the hub as a whole (a public_url providers cannot reach), from the check.
    hub_problems: list[str]
    checked: bool
    accounts: list[ChannelAccountHealthOut]


async def _inbound_counts(
    session: AsyncSession, since: datetime
) -> dict[str, tuple[datetime | None, int, int]]:
    recent = RawEvent.received_at >= since
    failed = and_(recent, RawEvent.status == RawEventStatus.FAILED)
    statement = select(
        RawEvent.account,
        func.max(RawEvent.received_at),
        func.sum(case((recent, 1), else_=0)),
        func.sum(case((failed, 1), else_=0)),
    ).group_by(RawEvent.account)
    rows = (await session.execute(statement)).all()
    return {account: (last, int(events or 0), int(failures or 0)) for account, last, events, failures in rows}


async def _outbound_failures(session: AsyncSession, account: str, since: datetime) -> int:
    statement = select(func.count()).where(
        OutboxItem.channel_account == account,
        OutboxItem.status == OutboxStatus.FAILED,
        OutboxItem.created_at >= since,
    )
    return int((await session.execute(statement)).scalar_one())


async def _last_error(session: AsyncSession, account: str) -> ChannelErrorOut | None:
    inbound = (
        await session.execute(
            select(RawEvent.received_at, RawEvent.error)
            .where(RawEvent.account == account, RawEvent.error.is_not(None))  # type: ignore[union-attr]
            .order_by(RawEvent.id.desc())  # type: ignore[union-attr]
            .limit(1)
        )
    ).first()
    # Failed sends and sends being retried; holds (quiet hours) and cancellations are not errors.
    outbound = (
        await session.execute(
            select(OutboxItem.created_at, OutboxItem.last_error)
            .where(
                OutboxItem.channel_account == account,
                OutboxItem.last_error.is_not(None),  # type: ignore[union-attr]
                OutboxItem.status.in_([OutboxStatus.FAILED, OutboxStatus.PENDING]),  # type: ignore[attr-defined]
                OutboxItem.attempts > 0,
                ~OutboxItem.last_error.startswith("held:"),  # type: ignore[union-attr]
            )
            .order_by(OutboxItem.id.desc())  # type: ignore[union-attr]
            .limit(1)
        )
    ).first()
    found = [
        ChannelErrorOut(direction=direction, at=row[0], text=row[1])
        for direction, row in (("inbound", inbound), ("outbound", outbound))
        if row is not None
    ]
    return max(found, key=lambda error: error.at) if found else None


def _status(
    report: AccountReport, checked: bool, hub_problems: list[str], failures: int
) -> Literal["problem", "failing", "ok", "unchecked"]:
    if report.problems or (hub_problems and report.type in PROVIDER_TYPES):
        return "problem"
    if failures:
        return "failing"
    return "ok" if checked else "unchecked"


@router.get("", response_model=ChannelHealthOut)
async def channel_health(
    check: bool = Query(False, description="also ask each provider (token, webhook set to our URL, ...)"),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> ChannelHealthOut:
    report = await check_config(hub.config, ask_providers=check)
    hub_problems = list(report.hub_problems)
    since = utcnow() - RECENT
    accounts = []
    async with hub.db.session() as session:
        inbound = await _inbound_counts(session, since)
        for account in report.accounts:
            settings = hub.config.channels[account.name]
            last_event_at, events, inbound_failures = inbound.get(account.name, (None, 0, 0))
            failures = inbound_failures + await _outbound_failures(session, account.name, since)
            error = await _last_error(session, account.name)
            if error is not None:
                error.text = without_secrets(error.text, settings)
            accounts.append(
                ChannelAccountHealthOut(
                    name=account.name,
                    type=account.type,
                    webhook_url=account.webhook_url,
                    advice=list(account.advice),
                    problems=list(account.problems) if check else None,
                    status=_status(account, check, hub_problems, failures),
                    last_event_at=last_event_at,
                    events_24h=events,
                    failures_24h=failures,
                    last_error=error,
                )
            )
    return ChannelHealthOut(
        public_url=hub.config.public_url, hub_problems=hub_problems, checked=check, accounts=accounts
    )
