"""A flow as Mermaid ``flowchart TD`` text (for Markdown, the admin UI, mermaid.live).

Node ids are generated (``s3``, ``t0``), never step names: a step called ``end`` or ``o-x`` would
otherwise be read as Mermaid syntax. Every label is quoted and its special characters are written
as Mermaid entity codes (``#quot;``), so no text in a flow can break the diagram.
"""

from __future__ import annotations

from bots.flows.diagram.graph import FlowGraph, Node, NodeKind

# Node shapes per kind: (opening, closing) around the quoted label.
_SHAPES = {
    NodeKind.ENTRY: (">", "]"),  # a flag: where the flow is entered
    NodeKind.STEP: ("[", "]"),
    NodeKind.WAITING: ("(", ")"),  # rounded: the flow pauses here
    NodeKind.TERMINAL: ("([", "])"),  # a stadium: the flow ends here
    NodeKind.OUTSIDE: ("[[", "]]"),  # a subroutine: somewhere else
}

CLASS_DEFS = {
    NodeKind.ENTRY: "fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20",
    NodeKind.WAITING: "fill:#fff8e1,stroke:#f9a825,stroke-width:2px",
    NodeKind.TERMINAL: "fill:#eceff1,stroke:#37474f,stroke-width:2px",
    NodeKind.OUTSIDE: "fill:#ffffff,stroke:#757575,stroke-dasharray:4 3",
}

# Characters that mean something to Mermaid inside a label, as its entity codes.
_ENTITIES = {
    "&": "#amp;",
    '"': "#quot;",
    "#": "#35;",
    "<": "#lt;",
    ">": "#gt;",
    "|": "#124;",
    "`": "#96;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
}


def escape(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label (line breaks become spaces)."""
    flat = " ".join(text.split())
    return "".join(_ENTITIES.get(char, char) for char in flat)


def _label(node: Node) -> str:
    title = escape(node.title)
    return f"<b>{title}</b><br/>{escape(node.detail)}" if node.detail else f"<b>{title}</b>"


def render(graph: FlowGraph) -> str:
    opening = f"flow {graph.flow_id}, version {graph.version} ({graph.file})"
    lines = ["flowchart TD", f"  %% {' '.join(opening.split())}"]
    for node in graph.nodes:
        left, right = _SHAPES[node.kind]
        lines.append(f'  {node.id}{left}"{_label(node)}"{right}')
    for edge in graph.edges:
        arrow = f'-->|"{escape(edge.label)}"|' if edge.label else "-->"
        lines.append(f"  {edge.source} {arrow} {edge.target}")
    for kind, style in CLASS_DEFS.items():
        members = [node.id for node in graph.nodes if node.kind is kind]
        if members:
            lines.append(f"  classDef {kind.value} {style}")
            lines.append(f"  class {','.join(members)} {kind.value}")
    return "\n".join(lines) + "\n"
