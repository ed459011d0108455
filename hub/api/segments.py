"""/api/v1/segments: saved customer filters for marketers — define, preview (count and a sample),
and list. Segments defined in files under <flows_dir>/segments are shown but changed only there.

``GET /api/v1/segments/catalog`` tells the workspace's segment builder what it can offer (declared
attributes with their types and comparisons, tags and event kinds seen, channels, consent purposes,
order figures, facts), so the page does not hard-code the vocabulary of crm_core.segments."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import AttributeDefinition, AttributeType, Customer, CustomerEvent
from crm_core.segments import Segment as SavedSegment
from crm_core.segments import (
    SegmentDefinition,
    SegmentError,
    delete_segment,
    get_segment,
    list_segments,
    save_segment,
)
from crm_core.segments.definition import COMPARISONS, IDENTITY_KINDS, ORDER_FIGURES, PURPOSES
from hub.api.deps import get_hub, require
from hub.api.schemas import CustomerOut
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.campaigns.definition import CHANNEL_TYPES
from hub.errors import ApiError
from hub.runtime import Hub
from hub.segments import segments_for

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])

# Paths under /api/v1/segments/ that are not segments: a segment with such an id could never be read.
RESERVED_IDS = frozenset({"catalog"})
# The comparisons that make sense for each declared attribute type (the parser accepts any of
# ATTRIBUTE_OPS; offering "contains" on a number or "birthday" on a flag would only confuse).
OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    AttributeType.TEXT.value: ("eq", "ne", "contains", "in", "not_in", "exists"),
    AttributeType.NUMBER.value: ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists"),
    AttributeType.BOOLEAN.value: ("eq", "exists"),
    AttributeType.DATE.value: ("before", "after", "on_or_before", "on_or_after", "eq", "birthday", "exists"),
    AttributeType.DATETIME.value: ("before", "after", "on_or_before", "on_or_after", "exists"),
    # An attribute nobody declared is read the way the compared value suggests.
    "any": ("eq", "ne", "contains", "gt", "gte", "lt", "lte", "in", "not_in", "exists"),
}
# How many of the newest customers the tag suggestions are read from (a scan of every customer's
# tags would cost a full table read per page load).
TAG_SAMPLE = 2000
CATALOG_LIMIT = 200


class SegmentIn(BaseModel):
    """A segment definition (see docs/segments.md); ``id`` comes from the URL on PUT."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    conditions: list[dict[str, Any]]


class SegmentOut(BaseModel):
    id: str
    name: str
    description: str
    conditions: list[dict[str, Any]]
    source: str
    updated_at: datetime
    updated_by: str
    # Problems when a stored definition no longer reads (it then matches nobody).
    problems: list[str] = []


class PreviewOut(BaseModel):
    count: int
    sample: list[CustomerOut]


class AttributeFieldOut(BaseModel):
    key: str
    type: AttributeType
    label: str
    operators: list[str]


class CatalogOut(BaseModel):
    """What a segment condition can be built from; the grammar itself is docs/segments.md."""

    attributes: list[AttributeFieldOut]
    operators_by_type: dict[str, list[str]]
    comparisons: list[str]
    figures: list[str]
    identity_kinds: list[str]
    consent_channels: list[str]
    purposes: list[str]
    facts: list[str]
    tags: list[str] = Field(description=f"tags of the {TAG_SAMPLE} newest customers, most used first")
    events: list[str] = Field(description="event kinds recorded so far")
    span_units: list[str]


def _out(saved: SavedSegment) -> SegmentOut:
    problems: list[str] = []
    try:
        segments_for().parse(saved.definition)
    except SegmentError as exc:
        problems = exc.problems
    return SegmentOut(
        id=saved.id,
        name=saved.name,
        description=saved.description,
        conditions=list(saved.definition.get("conditions", [])),
        source=saved.source,
        updated_at=saved.updated_at,
        updated_by=saved.updated_by,
        problems=problems,
    )


def _parse(data: dict[str, Any]) -> SegmentDefinition:
    try:
        return segments_for().parse(data)
    except SegmentError as exc:
        raise ApiError(422, "invalid_segment", "; ".join(exc.problems)) from None


@router.get("", response_model=list[SegmentOut])
async def list_all(
    hub: Hub = Depends(get_hub), _: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE))
) -> list[SegmentOut]:
    async with hub.db.session() as session:
        return [_out(s) for s in await list_segments(session)]


@router.get("/catalog", response_model=CatalogOut)
async def catalog(
    hub: Hub = Depends(get_hub), _: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE))
) -> CatalogOut:
    """The fields, comparisons and known values the segment builder offers."""
    async with hub.db.session() as session:
        declared = (
            await session.execute(select(AttributeDefinition).order_by(AttributeDefinition.key))
        ).scalars()
        attributes = [
            AttributeFieldOut(
                key=a.key, type=a.type, label=a.label, operators=list(OPERATORS_BY_TYPE[a.type.value])
            )
            for a in declared
        ]
        tags = await _recent_tags(session)
        events = (
            (
                await session.execute(
                    select(CustomerEvent.kind).distinct().order_by(CustomerEvent.kind).limit(CATALOG_LIMIT)
                )
            )
            .scalars()
            .all()
        )
    return CatalogOut(
        attributes=attributes,
        operators_by_type={k: list(v) for k, v in OPERATORS_BY_TYPE.items()},
        comparisons=list(COMPARISONS),
        figures=list(ORDER_FIGURES),
        identity_kinds=list(IDENTITY_KINDS),
        consent_channels=list(CHANNEL_TYPES),
        purposes=list(PURPOSES),
        facts=sorted(segments_for(hub.config).facts),
        tags=tags,
        events=list(events),
        span_units=["minutes", "hours", "days", "weeks"],
    )


async def _recent_tags(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(Customer.tags)
        .where(Customer.merged_into_id.is_(None))  # type: ignore[union-attr]
        .order_by(Customer.id.desc())  # type: ignore[union-attr]
        .limit(TAG_SAMPLE)
    )
    used: Counter[str] = Counter()
    for (tags,) in rows:
        used.update(str(tag) for tag in tags or [])
    return [tag for tag, _ in sorted(used.items(), key=lambda item: (-item[1], item[0]))][:CATALOG_LIMIT]


@router.post("/preview", response_model=PreviewOut)
async def preview_definition(
    body: SegmentIn,
    sample: int = Query(10, ge=0, le=100),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
) -> PreviewOut:
    """Count and sample the customers a definition matches, without saving it (the segment
    builder calls this as conditions change)."""
    definition = _parse({**body.model_dump(exclude_none=True), "id": body.id or "preview"})
    return await _preview(hub, definition, sample)


@router.get("/{segment_id}", response_model=SegmentOut)
async def read(
    segment_id: str, hub: Hub = Depends(get_hub), _: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE))
) -> SegmentOut:
    async with hub.db.session() as session:
        return _out(await _existing(session, segment_id))


@router.get("/{segment_id}/preview", response_model=PreviewOut)
async def preview_saved(
    segment_id: str,
    sample: int = Query(10, ge=0, le=100),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
) -> PreviewOut:
    async with hub.db.session() as session:
        saved = await _existing(session, segment_id)
    return await _preview(hub, _parse(saved.definition), sample)


@router.put("/{segment_id}", response_model=SegmentOut)
async def put(
    segment_id: str,
    body: SegmentIn,
    hub: Hub = Depends(get_hub),
    who: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
) -> SegmentOut:
    """Create or replace a segment."""
    if segment_id in RESERVED_IDS:
        raise ApiError(
            422, "invalid_segment", f"{segment_id!r} is a reserved name; choose another segment id"
        )
    if body.id is not None and body.id != segment_id:
        raise ApiError(
            422, "invalid_segment", f"id {body.id!r} in the body differs from {segment_id!r} in the URL"
        )
    definition = _parse({**body.model_dump(exclude_none=True), "id": segment_id})
    async with hub.db.transaction() as session:
        current = await get_segment(session, segment_id)
        _refuse_file_owned(current)
        return _out(await save_segment(session, definition, by=who.label))


@router.delete("/{segment_id}", status_code=204)
async def delete(
    segment_id: str,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CAMPAIGNS_MANAGE)),
) -> Response:
    async with hub.db.transaction() as session:
        _refuse_file_owned(await _existing(session, segment_id))
        await delete_segment(session, segment_id)
    return Response(status_code=204)


async def _existing(session: Any, segment_id: str) -> SavedSegment:
    saved = await get_segment(session, segment_id)
    if saved is None:
        raise ApiError(404, "not_found", f"no segment {segment_id!r}")
    return saved


def _refuse_file_owned(saved: SavedSegment | None) -> None:
    if saved is not None and saved.source.startswith("file:"):
        where = saved.source.removeprefix("file:")
        raise ApiError(409, "defined_in_file", f"segment {saved.id!r} is defined in {where}; edit that file")


async def _preview(hub: Hub, definition: SegmentDefinition, sample: int) -> PreviewOut:
    segments = segments_for(hub.config)
    async with hub.db.session() as session:
        count = await segments.count(session, definition)
        customers = await segments.sample(session, definition, limit=sample) if sample else []
        return PreviewOut(count=count, sample=[CustomerOut.model_validate(c) for c in customers])
