"""A small layered ("Sugiyama") layout for directed graphs of boxes, top to bottom, in pure Python.

1. **Back edges**: a depth-first search from the roots, in the order the nodes are given, marks the
   edges that close a cycle. They are left out of the layering and drawn on the side.
2. **Layers** by the longest path from the roots over the remaining edges (a DAG), so every forward
   edge points down. A root (a trigger) then moves down to just above the first node it enters.
3. **Dummy nodes** split edges spanning several layers, so long edges bend around boxes instead of
   crossing them.
4. **Order** within layers: a few barycenter sweeps, down and up, keeping the order with the fewest
   crossings.
5. **Coordinates**: each node moves towards the average of its neighbours' centres, then layers are
   packed again keeping their order and a minimum gap.
6. **Routes**: forward edges leave from the bottom of their box and enter the top of the target,
   through their dummies; back edges run down into the gap below their source, out to a lane of
   their own right of everything, up to the gap above their target, and into its top.

Everything depends only on the input order, never on hashing, so the same graph always comes out the
same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

LAYER_GAP = 64.0  # vertical space between layers (edge labels sit in it)
NODE_GAP = 28.0  # minimum horizontal space between two boxes
DUMMY_WIDTH = 12.0  # the room a long edge takes where it passes a layer
LANE_GAP = 16.0  # between the side lanes of back edges
MARGIN = 20.0
_SWEEPS = 6
_PLACEMENT_ROUNDS = 8

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    id: str
    width: float
    height: float


@dataclass(frozen=True)
class Placed:
    id: str
    x: float  # left
    y: float  # top
    width: float
    height: float
    layer: int

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Route:
    """An edge's path. ``back`` edges are routed orthogonally on the side; forward ones pass through
    ``points`` from the source's bottom to the target's top."""

    source: str
    target: str
    points: tuple[Point, ...]
    back: bool


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Placed]
    routes: tuple[Route, ...]
    width: float
    height: float


@dataclass
class _Node:
    id: str
    width: float
    height: float
    dummy: bool = False
    layer: int = 0
    x: float = 0.0  # centre
    ups: list[int] = field(default_factory=list)  # indexes of neighbours one layer up
    downs: list[int] = field(default_factory=list)


def _back_edges(count: int, edges: Sequence[tuple[int, int]]) -> set[int]:
    """Indexes of the edges that close a cycle, found by an iterative depth-first search from the
    nodes without incoming edges (in input order), then from any node not yet visited."""
    outgoing: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    has_incoming = [False] * count
    for index, (source, target) in enumerate(edges):
        outgoing[source].append((index, target))
        if source != target:
            has_incoming[target] = True
    state = [0] * count  # 0 new, 1 on the stack, 2 done
    back: set[int] = set()
    starts = [n for n in range(count) if not has_incoming[n]] + list(range(count))
    for start in starts:
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, 0)]
        while stack:
            node, position = stack[-1]
            if position == len(outgoing[node]):
                state[node] = 2
                stack.pop()
                continue
            stack[-1] = (node, position + 1)
            index, target = outgoing[node][position]
            if state[target] == 1:
                back.add(index)
            elif state[target] == 0:
                state[target] = 1
                stack.append((target, 0))
    return back


def _layers(count: int, forward: Sequence[tuple[int, int]]) -> list[int]:
    """Longest-path layers over the forward edges (Kahn's order, smallest index first), then each
    node without predecessors moved down to just above its highest successor."""
    successors: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for source, target in forward:
        successors[source].append(target)
        indegree[target] += 1
    layer = [0] * count
    ready = [n for n in range(count) if indegree[n] == 0]
    order: list[int] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for target in successors[node]:
            layer[target] = max(layer[target], layer[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    has_predecessor = [False] * count
    for _, target in forward:
        has_predecessor[target] = True
    for node in range(count):
        if not has_predecessor[node] and successors[node]:
            layer[node] = max(0, min(layer[t] for t in successors[node]) - 1)
    return layer


def _crossings(upper: list[int], lower: list[int], nodes: list[_Node]) -> int:
    position = {node: index for index, node in enumerate(lower)}
    pairs = [(i, position[d]) for i, node in enumerate(upper) for d in nodes[node].downs]
    return sum(1 for a in range(len(pairs)) for b in range(a + 1, len(pairs)) if _cross(pairs[a], pairs[b]))


def _cross(first: tuple[int, int], second: tuple[int, int]) -> bool:
    return (first[0] - second[0]) * (first[1] - second[1]) < 0


def _total_crossings(rows: list[list[int]], nodes: list[_Node]) -> int:
    return sum(_crossings(rows[i], rows[i + 1], nodes) for i in range(len(rows) - 1))


def _sweep(rows: list[list[int]], nodes: list[_Node], downward: bool) -> None:
    """Reorder every layer by the mean position of its neighbours in the layer before it (in the
    sweep's direction); a node without such neighbours keeps its place."""
    indexes = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
    for row_index in indexes:
        reference = rows[row_index - 1] if downward else rows[row_index + 1]
        position = {node: index for index, node in enumerate(reference)}
        row = rows[row_index]
        keys = []
        for index, node in enumerate(row):
            neighbours = nodes[node].ups if downward else nodes[node].downs
            if neighbours:
                keys.append((sum(position[n] for n in neighbours) / len(neighbours), index, node))
            else:
                keys.append((float(index), index, node))
        rows[row_index] = [node for _, _, node in sorted(keys)]


def _order(rows: list[list[int]], nodes: list[_Node]) -> list[list[int]]:
    best = [list(row) for row in rows]
    fewest = _total_crossings(best, nodes)
    current = [list(row) for row in rows]
    for round_number in range(_SWEEPS):
        _sweep(current, nodes, downward=round_number % 2 == 0)
        crossings = _total_crossings(current, nodes)
        if crossings < fewest:
            best, fewest = [list(row) for row in current], crossings
    return best


def _pack(row: list[int], nodes: list[_Node], wanted: list[float]) -> list[float]:
    """Centres as close to ``wanted`` as the order and the minimum gaps allow: the mean of a packing
    pushed from the left and one pushed from the right (both keep the gaps, so the mean does too)."""

    def gap(a: int, b: int) -> float:
        return (nodes[a].width + nodes[b].width) / 2 + (
            NODE_GAP if not (nodes[a].dummy and nodes[b].dummy) else 4
        )

    left = list(wanted)
    for i in range(1, len(row)):
        left[i] = max(left[i], left[i - 1] + gap(row[i - 1], row[i]))
    right = list(wanted)
    for i in range(len(row) - 2, -1, -1):
        right[i] = min(right[i], right[i + 1] - gap(row[i], row[i + 1]))
    return [(a + b) / 2 for a, b in zip(left, right, strict=True)]


def _place(rows: list[list[int]], nodes: list[_Node]) -> None:
    for row in rows:
        x = 0.0
        for node in row:
            nodes[node].x = x + nodes[node].width / 2
            x += nodes[node].width + NODE_GAP
    for round_number in range(_PLACEMENT_ROUNDS):
        final = round_number == _PLACEMENT_ROUNDS - 1
        downward = round_number % 2 == 0
        for row in rows if downward else list(reversed(rows)):
            wanted = []
            for node in row:
                item = nodes[node]
                neighbours = item.ups + item.downs if final else (item.ups if downward else item.downs)
                if neighbours:
                    # Dummies pull harder: a long edge should run straight.
                    weights = [2.0 if nodes[n].dummy else 1.0 for n in neighbours]
                    total = sum(nodes[n].x * w for n, w in zip(neighbours, weights, strict=True))
                    wanted.append(total / sum(weights))
                else:
                    wanted.append(item.x)
            for node, x in zip(row, _pack(row, nodes, wanted), strict=True):
                nodes[node].x = x


def layout(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> Layout:
    """Place ``boxes`` in layers and route ``edges`` (source id, target id) between them. Boxes are
    taken in the given order (roots first reads best); ``routes`` follow the order of ``edges``."""
    index = {box.id: i for i, box in enumerate(boxes)}
    pairs = [(index[source], index[target]) for source, target in edges]
    back = _back_edges(len(boxes), pairs)
    forward = [pair for i, pair in enumerate(pairs) if i not in back and pair[0] != pair[1]]
    layer = _layers(len(boxes), forward)
    nodes = [_Node(box.id, box.width, box.height, layer=layer[i]) for i, box in enumerate(boxes)]

    # Forward edges as chains of node indexes through dummies, one per layer crossed.
    chains: dict[int, list[int]] = {}
    for edge_index, (source, target) in enumerate(pairs):
        if edge_index in back or source == target:
            continue
        chain = [source]
        for level in range(layer[source] + 1, layer[target]):
            nodes.append(_Node(f"~{edge_index}.{level}", DUMMY_WIDTH, 0.0, dummy=True, layer=level))
            chain.append(len(nodes) - 1)
        chain.append(target)
        for upper, lower in pairwise(chain):
            nodes[upper].downs.append(lower)
            nodes[lower].ups.append(upper)
        chains[edge_index] = chain

    rows: list[list[int]] = [[] for _ in range(max((n.layer for n in nodes), default=0) + 1)]
    for node_index in _discovery_order(nodes, len(boxes)):
        rows[nodes[node_index].layer].append(node_index)
    rows = _order(rows, nodes)
    _place(rows, nodes)

    heights = [max((nodes[n].height for n in row), default=0.0) for row in rows]
    tops = []
    # Back edges enter from the gap above their target: make room for one above the first layer.
    sideways = [i for i, pair in enumerate(pairs) if i in back or pair[0] == pair[1]]
    y = MARGIN + (LAYER_GAP / 2 if any(layer[pairs[i][1]] == 0 for i in sideways) else 0.0)
    for height in heights:
        tops.append(y)
        y += height + LAYER_GAP
    left = min((nodes[n].x - nodes[n].width / 2 for row in rows for n in row), default=0.0)
    shift = MARGIN - left
    placed: dict[str, Placed] = {}
    for row_index, row in enumerate(rows):
        for n in row:
            node = nodes[n]
            node.x += shift
            if not node.dummy:
                top = tops[row_index] + (heights[row_index] - node.height) / 2
                placed[node.id] = Placed(
                    node.id, node.x - node.width / 2, top, node.width, node.height, row_index
                )
    right = max((p.x + p.width for p in placed.values()), default=MARGIN)
    right = max([right, *(nodes[n].x for row in rows for n in row)])

    routes = _routes(pairs, back, chains, nodes, placed, boxes, tops, heights, right)
    points = [point for route in routes for point in route.points]
    width = max([right, *(x for x, _ in points)]) + MARGIN
    bottom = max([tops[-1] + heights[-1] if tops else MARGIN, *(y for _, y in points)])
    return Layout(placed, tuple(routes), width, bottom + MARGIN)


def _discovery_order(nodes: list[_Node], real: int) -> list[int]:
    """Nodes in depth-first order from the first ones (a tree reads top-down, left to right), then
    the rest: the starting order of each layer before the sweeps."""
    seen: list[bool] = [False] * len(nodes)
    order: list[int] = []
    for start in range(real):
        if seen[start] or nodes[start].ups:
            continue
        stack = [start]
        while stack:
            node = stack.pop()
            if seen[node]:
                continue
            seen[node] = True
            order.append(node)
            stack.extend(reversed(nodes[node].downs))
    order += [n for n in range(len(nodes)) if not seen[n]]
    return order


def _routes(
    pairs: list[tuple[int, int]],
    back: set[int],
    chains: dict[int, list[int]],
    nodes: list[_Node],
    placed: dict[str, Placed],
    boxes: Sequence[Box],
    tops: list[float],
    heights: list[float],
    right: float,
) -> list[Route]:
    # Where each edge leaves and enters its boxes: spread along the bottom (out) and top (in)
    # edges, in the left-to-right order of where the edge goes next (or comes from).
    exits: dict[int, list[tuple[float, int]]] = {}
    entries: dict[int, list[tuple[float, int]]] = {}
    lane_of: dict[int, float] = {}
    for edge_index, (source, target) in enumerate(pairs):
        if edge_index in chains:
            chain = chains[edge_index]
            exits.setdefault(source, []).append((nodes[chain[1]].x, edge_index))
            entries.setdefault(target, []).append((nodes[chain[-2]].x, edge_index))
        else:
            lane_of[edge_index] = right + MARGIN + LANE_GAP * len(lane_of)
            exits.setdefault(source, []).append((lane_of[edge_index], edge_index))
            entries.setdefault(target, []).append((lane_of[edge_index], edge_index))
    exit_x = _ports(exits, boxes, placed)
    entry_x = _ports(entries, boxes, placed)

    routes: list[Route] = []
    for edge_index, (source, target) in enumerate(pairs):
        start = placed[boxes[source].id]
        end = placed[boxes[target].id]
        begin = (exit_x[edge_index], start.y + start.height)
        finish = (entry_x[edge_index], end.y)
        if edge_index in chains:
            points = [begin]
            for dummy in chains[edge_index][1:-1]:
                row = nodes[dummy].layer
                points += [(nodes[dummy].x, tops[row]), (nodes[dummy].x, tops[row] + heights[row])]
            points.append(finish)
            routes.append(Route(boxes[source].id, boxes[target].id, tuple(points), back=False))
            continue
        lane = lane_of[edge_index]
        # Each back edge runs in its own height in the gaps, so parallel ones stay apart.
        offset = 10.0 + (len([i for i in lane_of if i < edge_index]) % 4) * 6.0
        below = tops[start.layer] + heights[start.layer] + min(offset, LAYER_GAP / 2)
        above = tops[end.layer] - min(offset, LAYER_GAP / 2)
        points = [begin, (begin[0], below), (lane, below), (lane, above), (finish[0], above), finish]
        routes.append(Route(boxes[source].id, boxes[target].id, tuple(points), back=True))
    return routes


def _ports(
    sides: dict[int, list[tuple[float, int]]], boxes: Sequence[Box], placed: dict[str, Placed]
) -> dict[int, float]:
    ports: dict[int, float] = {}
    for node, items in sides.items():
        box = placed[boxes[node].id]
        ordered = sorted(items)
        for position, (_, edge_index) in enumerate(ordered, start=1):
            ports[edge_index] = box.x + box.width * position / (len(ordered) + 1)
    return ports
