"""A flow as a standalone SVG picture, laid out by bots.flows.diagram.layout (no external tools).

Boxes are sized from an estimate of their text's width, so labels fit; edge labels sit on a white
patch and are nudged apart when they would overlap each other or a box. The output depends only on
the flow: the same flow always gives the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from xml.sax.saxutils import escape, quoteattr

from bots.flows.diagram.graph import Edge, FlowGraph, Node, NodeKind
from bots.flows.diagram.layout import MARGIN, Box, Layout, Point, Route, layout
from bots.flows.diagram.textwidth import text_width

TITLE_SIZE = 13.0
DETAIL_SIZE = 11.0
LABEL_SIZE = 11.0
HEADER_SIZE = 15.0
PADDING = 12.0  # text to box side
MIN_WIDTH = 72.0
HEADER_HEIGHT = 44.0
FONT = "Helvetica, Arial, sans-serif"

# fill, stroke, stroke width, corner radius (None: half the height, a stadium), dashes
_STYLES: dict[NodeKind, tuple[str, str, float, float | None, str | None]] = {
    NodeKind.ENTRY: ("#e8f5e9", "#2e7d32", 1.5, 3.0, None),
    NodeKind.STEP: ("#ffffff", "#455a64", 1.5, 6.0, None),
    NodeKind.WAITING: ("#fff8e1", "#f9a825", 2.5, 6.0, None),
    NodeKind.TERMINAL: ("#eceff1", "#37474f", 2.0, None, None),
    NodeKind.OUTSIDE: ("#ffffff", "#757575", 1.5, 6.0, "5 3"),
}
_EDGE_COLOR = "#546e7a"
# Characters XML 1.0 does not allow at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", " ".join(value.split())))


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", value))


def _box(node: Node) -> Box:
    width = max(
        text_width(node.title, TITLE_SIZE, bold=True),
        text_width(node.detail, DETAIL_SIZE) if node.detail else 0,
    )
    height = 42.0 if node.detail else 28.0
    return Box(node.id, max(MIN_WIDTH, width + 2 * PADDING), height)


@dataclass
class _Rect:
    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: _Rect) -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )


def _bezier(points: tuple[Point, ...]) -> str:
    """A smooth path through ``points``: each stretch leaves and arrives vertically."""
    parts = [f"M{_num(points[0][0])},{_num(points[0][1])}"]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x0 == x1:
            parts.append(f"L{_num(x1)},{_num(y1)}")
            continue
        middle = (y0 + y1) / 2
        parts.append(f"C{_num(x0)},{_num(middle)} {_num(x1)},{_num(middle)} {_num(x1)},{_num(y1)}")
    return " ".join(parts)


def _orthogonal(points: tuple[Point, ...]) -> str:
    return "M" + " L".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _label_anchor(route: Route) -> Point:
    """Where an edge's label goes: halfway down its first stretch, or halfway up its side lane."""
    if route.back:
        (lane, below), (_, above) = route.points[2], route.points[3]
        return lane, (below + above) / 2
    (x0, y0), (x1, y1) = route.points[0], route.points[1]
    return (x0 + x1) / 2, (y0 + y1) / 2


def _place_label(anchor: Point, width: float, height: float, taken: list[_Rect]) -> _Rect:
    """A rectangle for a label near ``anchor`` that overlaps no other label or box, if one of a few
    nearby places is free (else at the anchor: overlapping beats disappearing)."""
    x, y = anchor
    step = height + 2
    for dx, dy in ((0, 0), (0, step), (0, -step), (width / 2 + 4, 0), (-width / 2 - 4, 0), (0, 2 * step)):
        rect = _Rect(x - width / 2 + dx, y - height / 2 + dy, width, height)
        if rect.x >= 0 and not any(rect.overlaps(other) for other in taken):
            return rect
    return _Rect(max(0.0, x - width / 2), y - height / 2, width, height)


def render(graph: FlowGraph) -> str:
    boxes = [_box(node) for node in graph.nodes]
    placed = layout(boxes, [(edge.source, edge.target) for edge in graph.edges])
    labels = _place_labels(graph, placed)
    header = f"{graph.flow_id} · version {graph.version}"
    width = max(
        placed.width,
        max((rect.x + rect.width + MARGIN for _, rect in labels), default=0.0),
        text_width(header, HEADER_SIZE, bold=True) + 2 * MARGIN,
        text_width(graph.file, 11) + 2 * MARGIN,
    )
    height = max(placed.height, max((rect.y + rect.height + MARGIN for _, rect in labels), default=0.0))
    height += HEADER_HEIGHT
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" font-family="{FONT}" role="img">',
        f"<title>{_text(f'flow {header} ({graph.file})')}</title>",
        "<defs>",
        f'<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_EDGE_COLOR}"/></marker>',
        "</defs>",
        f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>',
        f'<text x="20" y="24" font-size="{_num(HEADER_SIZE)}" font-weight="bold" fill="#263238">'
        f"{_text(header)}</text>",
        f'<text x="20" y="38" font-size="11" fill="#78909c">{_text(graph.file)}</text>',
        f'<g transform="translate(0,{_num(HEADER_HEIGHT)})">',
    ]
    out += _edges(graph, placed)
    out += _nodes(graph, placed)
    out += _labels(labels)
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


def _edges(graph: FlowGraph, placed: Layout) -> list[str]:
    out = ['<g class="edges" fill="none">']
    for edge, route in zip(graph.edges, placed.routes, strict=True):
        path = _orthogonal(route.points) if route.back else _bezier(route.points)
        dashes = ' stroke-dasharray="6 3"' if route.back else ""
        out.append(
            f'<path class="edge" data-source="{edge.source}" data-target="{edge.target}" '
            f'data-back="{str(route.back).lower()}" d="{path}" stroke="{_EDGE_COLOR}" '
            f'stroke-width="1.5"{dashes} marker-end="url(#arrow)"/>'
        )
    out.append("</g>")
    return out


def _nodes(graph: FlowGraph, placed: Layout) -> list[str]:
    out = ['<g class="nodes">']
    for node in graph.nodes:
        box = placed.boxes[node.id]
        fill, stroke, stroke_width, radius, dashes = _STYLES[node.kind]
        corner = box.height / 2 if radius is None else radius
        step = f" data-step={_attr(node.step)}" if node.step is not None else ""
        out.append(f'<g class="node {node.kind.value}" id="node-{node.id}"{step}>')
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        out.append(
            f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.width)}" '
            f'height="{_num(box.height)}" rx="{_num(corner)}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{_num(stroke_width)}"{dash}/>'
        )
        center = box.x + box.width / 2
        title_y = box.y + (17 if node.detail else 18.5)
        out.append(
            f'<text x="{_num(center)}" y="{_num(title_y)}" text-anchor="middle" '
            f'font-size="{_num(TITLE_SIZE)}" font-weight="bold" fill="#263238">{_text(node.title)}</text>'
        )
        if node.detail:
            out.append(
                f'<text x="{_num(center)}" y="{_num(box.y + 33)}" text-anchor="middle" '
                f'font-size="{_num(DETAIL_SIZE)}" fill="#546e7a">{_text(node.detail)}</text>'
            )
        out.append("</g>")
    out.append("</g>")
    return out


def _place_labels(graph: FlowGraph, placed: Layout) -> list[tuple[Edge, _Rect]]:
    taken = [_Rect(b.x, b.y, b.width, b.height) for b in placed.boxes.values()]
    labels = []
    for edge, route in zip(graph.edges, placed.routes, strict=True):
        if not edge.label:
            continue
        width = text_width(edge.label, LABEL_SIZE) + 8
        rect = _place_label(_label_anchor(route), width, LABEL_SIZE + 5, taken)
        taken.append(rect)
        labels.append((edge, rect))
    return labels


def _labels(labels: list[tuple[Edge, _Rect]]) -> list[str]:
    out = ['<g class="labels">']
    for edge, rect in labels:
        out.append(
            f'<g class="label" data-source="{edge.source}" data-target="{edge.target}">'
            f'<rect x="{_num(rect.x)}" y="{_num(rect.y)}" width="{_num(rect.width)}" '
            f'height="{_num(rect.height)}" rx="3" fill="#ffffff" fill-opacity="0.9"/>'
            f'<text x="{_num(rect.x + rect.width / 2)}" y="{_num(rect.y + rect.height - 4.5)}" '
            f'text-anchor="middle" font-size="{_num(LABEL_SIZE)}" fill="#37474f">{_text(edge.label)}</text>'
            "</g>"
        )
    out.append("</g>")
    return out
