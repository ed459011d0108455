"""Diagrams of a flow: Mermaid text and a standalone SVG picture (`hub flows draw`, the flows API).

Both show the flow's triggers as entry nodes, one node per step with its name and kind, and the
links between steps labelled with how they are taken (``next``, ``goto``, ``on_timeout``...).
Steps that wait for the customer and steps where the flow ends (``handoff``, ``end``, or a step that
leads nowhere) are drawn differently from the others.
"""

from __future__ import annotations

from bots.flows.diagram import mermaid, svg
from bots.flows.diagram.graph import Edge, FlowGraph, Node, NodeKind, flow_graph
from bots.flows.model import Flow


def to_mermaid(flow: Flow) -> str:
    """A Mermaid ``flowchart TD`` of ``flow``."""
    return mermaid.render(flow_graph(flow))


def to_svg(flow: Flow) -> str:
    """An SVG picture of ``flow``, laid out here in Python (valid XML, the same bytes every time)."""
    return svg.render(flow_graph(flow))


__all__ = ["Edge", "FlowGraph", "Node", "NodeKind", "flow_graph", "to_mermaid", "to_svg"]
