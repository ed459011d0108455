"""/api/v1/flows: what the bot flows of this process are (for admins and the admin UI; settings:manage).

The list shows the active flows, the earlier versions still kept for customers paused in them, how
many customers wait in each, and the problems that kept the folder's current files from being
activated (hot reload, hub/flow_reload.py). Detail adds the steps and a Mermaid diagram; the SVG
picture is its own endpoint. Each process answers from its own engine, which every process reloads
by itself within a few seconds of an edit.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from bots.flows import Flow, FlowState, Problem
from bots.flows.diagram import to_mermaid, to_svg
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])

# The SVG is a picture, never a document: nothing in it may run or load anything.
_SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


# Flows are part of the hub's setup, like channel accounts and business hours.
require_settings = require(Permission.SETTINGS_MANAGE)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerOut(_Out):
    kind: str
    patterns: list[str]
    step: str | None
    channels: list[str]
    interrupt: bool
    line: int


class FlowOut(_Out):
    id: str
    version: str
    description: str
    file: str
    start: str
    triggers: list[TriggerOut]
    step_count: int
    # False: an earlier version, kept only so the customers paused in it can finish.
    active: bool
    # Customers whose paused flow is this version.
    waiting: int


class ProblemOut(_Out):
    file: str
    line: int | None
    message: str
    text: str  # "file:line: message", as `hub flows validate` prints it


class ReloadOut(_Out):
    folder: str
    interval_seconds: float
    checked_at: datetime | None
    loaded_at: datetime | None


class FlowListOut(_Out):
    flows: list[FlowOut]
    # Why the folder's current files are not active (empty when they are).
    problems: list[ProblemOut]
    # None when this process does not reload flows (no flows at start, or reloading turned off).
    reload: ReloadOut | None


class LinkOut(_Out):
    target: str
    via: str
    line: int


class StepOut(_Out):
    name: str
    kind: str
    line: int
    waits: bool
    links: list[LinkOut]


class FlowDetailOut(FlowOut):
    steps: list[StepOut]
    mermaid: str


def _versions(hub: Hub) -> list[tuple[Flow, bool]]:
    """Active flows in trigger order, then retired versions by id and version."""
    if hub.flows is None:
        return []
    active = [(flow, True) for flow in hub.flows.flows]
    retired = hub.flow_reloader.retired if hub.flow_reloader is not None else {}
    return active + [(retired[key], False) for key in sorted(retired)]


def _find(hub: Hub, flow_id: str, version: str | None) -> tuple[Flow, bool]:
    for flow, active in _versions(hub):
        if flow.id == flow_id and (version == flow.version if version is not None else active):
            return flow, active
    which = f"flow {flow_id!r} version {version!r}" if version is not None else f"active flow {flow_id!r}"
    raise ApiError(404, "flow_not_found", f"there is no {which}")


async def _waiting(hub: Hub) -> dict[tuple[str, str], int]:
    statement = select(FlowState.flow_id, FlowState.flow_version, func.count()).group_by(
        FlowState.flow_id,  # type: ignore[arg-type]
        FlowState.flow_version,  # type: ignore[arg-type]
    )
    async with hub.db.session() as session:
        rows = (await session.execute(statement)).all()
    return {(flow_id, version): count for flow_id, version, count in rows}


def _flow_out(flow: Flow, active: bool, waiting: dict[tuple[str, str], int]) -> FlowOut:
    return FlowOut(
        id=flow.id,
        version=flow.version,
        description=flow.description,
        file=flow.file,
        start=flow.start,
        triggers=[
            TriggerOut(
                kind=t.kind.value,
                patterns=list(t.patterns),
                step=t.step,
                channels=list(t.channels),
                interrupt=t.interrupt,
                line=t.line,
            )
            for t in flow.triggers
        ],
        step_count=len(flow.steps),
        active=active,
        waiting=waiting.get((flow.id, flow.version), 0),
    )


def _problem_out(problem: Problem) -> ProblemOut:
    return ProblemOut(file=problem.file, line=problem.line, message=problem.message, text=str(problem))


@router.get("", response_model=FlowListOut)
async def list_flows(hub: Hub = Depends(get_hub), _: Principal = Depends(require_settings)) -> FlowListOut:
    waiting = await _waiting(hub)
    reloader = hub.flow_reloader
    return FlowListOut(
        flows=[_flow_out(flow, active, waiting) for flow, active in _versions(hub)],
        problems=[_problem_out(p) for p in reloader.problems] if reloader is not None else [],
        reload=ReloadOut(
            folder=str(reloader.folder),
            interval_seconds=reloader.interval,
            checked_at=reloader.checked_at,
            loaded_at=reloader.loaded_at,
        )
        if reloader is not None
        else None,
    )


@router.get("/{flow_id}", response_model=FlowDetailOut)
async def get_flow(
    flow_id: str,
    version: str | None = Query(None, description="an earlier version still kept (default: the active one)"),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require_settings),
) -> FlowDetailOut:
    flow, active = _find(hub, flow_id, version)
    summary = _flow_out(flow, active, await _waiting(hub))
    steps = [
        StepOut(
            name=step.name,
            kind=step.kind,
            line=step.line,
            waits=step.waits,
            links=[LinkOut(target=link.target, via=link.via, line=link.line) for link in step.links()],
        )
        for step in flow.steps.values()
    ]
    return FlowDetailOut(**summary.model_dump(), steps=steps, mermaid=to_mermaid(flow))


@router.get(
    "/{flow_id}/diagram.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the flow as an SVG picture"}},
)
async def get_flow_diagram(
    flow_id: str,
    version: str | None = Query(None, description="an earlier version still kept (default: the active one)"),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require_settings),
) -> Response:
    flow, _active = _find(hub, flow_id, version)
    return Response(to_svg(flow), media_type="image/svg+xml", headers=_SVG_HEADERS)
