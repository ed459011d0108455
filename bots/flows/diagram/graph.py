"""A flow as a graph to draw: entry nodes for its triggers, one node per step, and the links between
steps as labelled edges.

Only the generic Step interface is used (``kind``, ``waits``, ``links()``), so a new step kind draws
without changes here. A link whose target is not a step of the flow (another flow, for a step kind
that calls one) becomes an "outside" node labelled with the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bots.flows.model import Flow, Trigger, TriggerKind

# Step kinds after which the flow is over whatever the graph says.
TERMINAL_KINDS = ("handoff", "end")
# Trigger texts longer than this are cut (the full list is in the file).
_MAX_DETAIL = 40
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class NodeKind(StrEnum):
    ENTRY = "entry"  # a trigger (or the start, for a flow without triggers)
    STEP = "step"
    WAITING = "waiting"  # waits for the customer (ask, faq, ...)
    TERMINAL = "terminal"  # the flow ends here (handoff, end, or a step that leads nowhere)
    OUTSIDE = "outside"  # a link target that is not a step of this flow


@dataclass(frozen=True)
class Node:
    id: str  # safe in Mermaid and as an XML id: a letter and digits
    title: str
    detail: str
    kind: NodeKind
    step: str | None = None  # the step's name, for step nodes


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class FlowGraph:
    flow_id: str
    version: str
    file: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        return next(node for node in self.nodes if node.id == node_id)


def shorten(text: str, limit: int = _MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _duration(delta: timedelta) -> str:
    """``24h``, ``3d``, ``1h30m``: days only from two days on, as people write timeouts."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in _UNITS if seconds >= 2 * 86400 else _UNITS[1:]:
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _trigger_texts(trigger: Trigger) -> tuple[str, str]:
    """Title and detail of a trigger's entry node: ``keyword`` / ``menu, help · interrupts``."""
    if trigger.kind is TriggerKind.CONVERSATION_OPENED:
        title, detail = "conversation opened", ""
    elif trigger.kind is TriggerKind.START and not trigger.patterns:
        title, detail = "start", "any"
    else:
        title, detail = trigger.kind.value, ", ".join(trigger.patterns)
    extras = []
    if trigger.channels:
        extras.append("on " + ", ".join(trigger.channels))
    if trigger.interrupt:
        extras.append("interrupts")
    return title, shorten(" · ".join(part for part in (detail, *extras) if part))


def flow_graph(flow: Flow) -> FlowGraph:
    """The flow's nodes (entries first, then steps in file order, then outside targets) and edges
    (links to the same target from one step are merged into one edge, labels joined)."""
    step_ids = {name: f"s{index}" for index, name in enumerate(flow.steps)}
    outside: dict[str, str] = {}

    def target_id(target: str) -> str:
        if target in step_ids:
            return step_ids[target]
        return outside.setdefault(target, f"x{len(outside)}")

    nodes: list[Node] = []
    edges: dict[tuple[str, str], list[str]] = {}
    entries = flow.triggers or ()
    for index, trigger in enumerate(entries):
        title, detail = _trigger_texts(trigger)
        nodes.append(Node(f"t{index}", title, detail, NodeKind.ENTRY))
        edges.setdefault((f"t{index}", target_id(trigger.step or flow.start)), [])
    if not entries:
        nodes.append(Node("t0", "start", "no triggers: never starts", NodeKind.ENTRY))
        edges.setdefault(("t0", target_id(flow.start)), [])
    for name, step in flow.steps.items():
        links = step.links()
        details = [step.kind]
        if step.kind in TERMINAL_KINDS or not links:
            kind = NodeKind.TERMINAL
        elif step.waits:
            kind = NodeKind.WAITING
        else:
            kind = NodeKind.STEP
        if step.waits:
            timeout = getattr(step, "timeout", None)
            details.append(f"waits {_duration(timeout)}" if isinstance(timeout, timedelta) else "waits")
        if not links and step.kind not in TERMINAL_KINDS:
            details.append("ends")
        nodes.append(Node(step_ids[name], name, " · ".join(details), kind, step=name))
        for link in links:
            labels = edges.setdefault((step_ids[name], target_id(link.target)), [])
            if link.via not in labels:
                labels.append(link.via)
    for target, node_id in outside.items():
        nodes.append(Node(node_id, shorten(target), "outside this flow", NodeKind.OUTSIDE))
    return FlowGraph(
        flow.id,
        flow.version,
        flow.file,
        tuple(nodes),
        tuple(Edge(source, target, ", ".join(labels)) for (source, target), labels in edges.items()),
    )
