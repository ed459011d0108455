"""Flow diagrams: Mermaid text and the SVG drawn by our own layered layout, on the shipped flows and
on flows written to break them (cycles, odd characters, a step kind the diagram code never heard of)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pytest

from bots.flows import Flow, load_flows
from bots.flows.diagram import NodeKind, flow_graph, to_mermaid, to_svg
from bots.flows.diagram.layout import Box, layout
from bots.flows.diagram.svg import DETAIL_SIZE, TITLE_SIZE
from bots.flows.diagram.textwidth import text_width
from bots.flows.outcomes import Finish, Outcome
from bots.flows.steps.base import Link, Step
from tests.bots.conftest import write_flow
from tests.conftest import REPO

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

SVG = "{http://www.w3.org/2000/svg}"
SHIPPED = load_flows(REPO / "flows")
SUPPORT = SHIPPED.get("support")
assert SUPPORT is not None

LOOPS = """
id: loops
version: 3
triggers:
  - keyword: ['say "hi"', "<b>&amp;</b>", "a|b", "[x]", "{y}", "#1"]
  - event: order.*
    step: end
start: ask
steps:
  ask:
    ask: "Pick one"
    type: choice
    choices:
      - value: again
        goto: ask
      - value: other
        goto: end
      - value: b
        goto: o-x
    timeout: 1h30m
    on_timeout: end
    next: end
  o-x:
    ask: "Another?"
    type: yes_no
    next: ask
  end:
    say: "bye"
    next: loop-back
  loop-back:
    ask: "More?"
    next: ask
"""


def svg_root(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def boxes(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    """Node id -> (x, y, width, height) of its rectangle."""
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class", "").startswith("node "):
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            found[group.get("id", "")[len("node-") :]] = tuple(
                float(rect.get(k, "0")) for k in ("x", "y", "width", "height")
            )
    return found


def path_ends(d: str) -> tuple[tuple[float, float], tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


@dataclass(frozen=True, kw_only=True)
class TransferStep(Step):
    """A step kind the diagram code does not know: it links to a step and to another flow."""

    kind: ClassVar[str] = "transfer"

    def links(self) -> list[Link]:
        return [Link("done", self.line, "next"), Link("billing-flow", self.line, "calls")]

    async def run(self, ctx: TurnContext) -> Outcome:
        return Finish()


@dataclass(frozen=True, kw_only=True)
class DoneStep(Step):
    kind: ClassVar[str] = "done"

    async def run(self, ctx: TurnContext) -> Outcome:
        return Finish()


def loops_flow(tmp_path: Path) -> Flow:
    write_flow(tmp_path, LOOPS, "loops.yaml")
    flow = load_flows(tmp_path).get("loops")
    assert flow is not None
    return flow


class TestGraph:
    def test_triggers_enter_steps_are_nodes_and_links_are_labelled_edges(self) -> None:
        graph = flow_graph(SUPPORT)
        entries = [n for n in graph.nodes if n.kind is NodeKind.ENTRY]
        assert [n.title for n in entries] == [
            "conversation opened",
            "keyword",
            "intent",
            "start",
            "button",
            "keyword",
        ]
        assert entries[1].detail == "menu, menú · interrupts"
        assert entries[5].detail == "help, ayuda"
        steps = {n.step: n for n in graph.nodes if n.step is not None}
        assert list(steps) == list(SUPPORT.steps)
        assert steps["menu"].kind is NodeKind.WAITING and steps["menu"].detail == "ask · waits 24h"
        assert steps["handoff"].kind is NodeKind.TERMINAL
        assert steps["goodbye"].kind is NodeKind.TERMINAL and steps["goodbye"].detail == "say · ends"
        assert steps["order_lookup"].kind is NodeKind.STEP
        by_name = {n.id: n.step or n.title for n in graph.nodes}
        edges = {(by_name[e.source], by_name[e.target]): e.label for e in graph.edges}
        # Two links to the same step become one edge with both labels.
        assert edges[("anything_else", "goodbye")] == "on_fail, on_timeout"
        assert edges[("intent", "person")] == ""
        assert edges[("more", "menu")] == "then"

    def test_an_unknown_step_kind_draws_from_its_links_and_a_target_elsewhere_is_an_outside_node(
        self,
    ) -> None:
        flow = Flow(
            id="custom",
            version="1",
            file="custom.yaml",
            line=1,
            start="move",
            steps={"move": TransferStep(name="move", line=3), "done": DoneStep(name="done", line=5)},
        )
        graph = flow_graph(flow)
        kinds = {n.title: (n.kind, n.detail) for n in graph.nodes}
        assert kinds["start"] == (NodeKind.ENTRY, "no triggers: never starts")
        assert kinds["move"] == (NodeKind.STEP, "transfer")
        assert kinds["done"] == (NodeKind.TERMINAL, "done · ends")
        assert kinds["billing-flow"] == (NodeKind.OUTSIDE, "outside this flow")
        assert [e.label for e in graph.edges] == ["", "next", "calls"]
        assert 'x0[["<b>billing-flow</b><br/>outside this flow"]]' in to_mermaid(flow)
        root = svg_root(to_svg(flow))
        assert set(boxes(root)) == {"t0", "s0", "s1", "x0"}


class TestMermaid:
    def test_the_support_flow(self) -> None:
        text = to_mermaid(SUPPORT)
        lines = text.splitlines()
        assert lines[0] == "flowchart TD"
        assert '  s1("<b>menu</b><br/>ask · waits 24h")' in lines
        assert '  s14(["<b>handoff</b><br/>handoff"])' in lines
        assert '  t2>"<b>intent</b><br/>talk to a person, talk to a human, spea…"]' in lines
        assert '  s0 -->|"next"| s1' in lines
        assert "  t2 --> s12" in lines
        assert "  class s1,s2,s8,s10,s13,s16,s17 waiting" in lines
        assert "  class s14,s18,s19 terminal" in lines

    def test_labels_are_escaped_and_ids_are_never_step_names(self, tmp_path: Path) -> None:
        text = to_mermaid(loops_flow(tmp_path))
        entry = next(line for line in text.splitlines() if line.startswith("  t0>"))
        assert entry == (
            '  t0>"<b>keyword</b><br/>say #quot;hi#quot;, #lt;b#gt;#amp;amp;#lt;/b#gt;, a#124;b, #91;x#93;, '
            '#123;y#125;,…"]'
        )
        # Every node line is an id, a shape and one quoted label without a quote inside.
        node_line = re.compile(r'^  [stx]\d+(\[|\(|\(\[|>|\[\[)"[^"]*"(\]|\)|\]\)|\]\])$')
        edge_line = re.compile(r'^  [stx]\d+ -->(\|"[^"|]*"\|)? [stx]\d+$')
        body = [line for line in text.splitlines()[2:] if "classDef" not in line and "class " not in line]
        assert body and all(node_line.match(line) or edge_line.match(line) for line in body), body
        # The step called "end" is s2, not the Mermaid keyword.
        assert '  s2["<b>end</b><br/>say"]' in text
        assert '  s0 -->|"goto"| s0' in text


class TestSvg:
    def test_valid_xml_with_a_box_per_node_and_text_that_fits(self) -> None:
        text = to_svg(SUPPORT)
        root = svg_root(text)
        assert root.tag == f"{SVG}svg"
        graph = flow_graph(SUPPORT)
        placed = boxes(root)
        assert set(placed) == {n.id for n in graph.nodes}
        for node in graph.nodes:
            _, _, width, _ = placed[node.id]
            assert text_width(node.title, TITLE_SIZE, bold=True) <= width - 16, node
            assert text_width(node.detail, DETAIL_SIZE) <= width - 16, node
        steps = {g.get("data-step") for g in root.iter(f"{SVG}g") if g.get("data-step")}
        assert steps == set(SUPPORT.steps)

    def test_boxes_do_not_overlap_and_forward_edges_point_down(self) -> None:
        root = svg_root(to_svg(SUPPORT))
        placed = list(boxes(root).items())
        for i, (a, (ax, ay, aw, ah)) in enumerate(placed):
            for b, (bx, by, bw, bh) in placed[i + 1 :]:
                apart = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
                assert apart, (a, b)
        edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
        assert len(edges) == len(flow_graph(SUPPORT).edges)
        back = [(p.get("data-source"), p.get("data-target")) for p in edges if p.get("data-back") == "true"]
        # more -> menu ("ask again?" yes) is the support flow's one loop: drawn on the side.
        assert back == [("s11", "s1")]
        for path in edges:
            (sx, sy), (tx, ty) = path_ends(path.get("d", ""))
            source = dict(placed)[path.get("data-source", "")]
            target = dict(placed)[path.get("data-target", "")]
            assert sy == pytest.approx(source[1] + source[3])  # leaves from the source's bottom
            assert ty == pytest.approx(target[1])  # enters the target's top
            assert source[0] <= sx <= source[0] + source[2] and target[0] <= tx <= target[0] + target[2]
            if path.get("data-back") == "false":
                assert ty > sy

    def test_layers_follow_the_longest_path_and_entries_sit_above_their_step(self) -> None:
        placed = boxes(svg_root(to_svg(SUPPORT)))
        ids = {n.step or n.title: n.id for n in flow_graph(SUPPORT).nodes}

        def top(name: str) -> float:
            return placed[ids[name]][1]

        assert top("welcome") < top("menu") < top("question") < top("not_found") < top("person")
        # anything_else is reached by long and short paths: it sits below the longest.
        assert top("anything_else") > top("order_unknown") > top("order_failed") > top("order_lookup")
        # The intent trigger enters at "person": it is drawn just above it, not at the top.
        assert top("intent") == top("not_found") < top("person")

    def test_cycles_self_loops_and_odd_text(self, tmp_path: Path) -> None:
        flow = loops_flow(tmp_path)
        text = to_svg(flow)
        root = svg_root(text)
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert 'say "hi", <b>&amp;</b>, a|b, [x], {y},…' in texts
        assert "loops · version 3" in texts
        width, height = float(root.get("width", "0")), float(root.get("height", "0"))
        for path in root.iter(f"{SVG}path"):
            if path.get("class") != "edge":
                continue
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
            assert all(0 <= x <= width for x in numbers[0::2]) and all(
                0 <= y <= height for y in numbers[1::2]
            )
        back = {
            (p.get("data-source"), p.get("data-target"))
            for p in root.iter(f"{SVG}path")
            if p.get("data-back") == "true"
        }
        assert back == {("s0", "s0"), ("s1", "s0"), ("s3", "s0")}
        for label in root.iter(f"{SVG}g"):
            if label.get("class") == "label":
                rect = label.find(f"{SVG}rect")
                assert rect is not None and float(rect.get("x", "-1")) >= 0
                assert float(rect.get("x", "0")) + float(rect.get("width", "0")) <= width

    def test_the_same_flow_gives_the_same_bytes_whatever_the_hash_seed(self) -> None:
        script = "from bots.flows import load_flows; from bots.flows.diagram import to_svg; " + (
            f"import sys; sys.stdout.write(to_svg(load_flows({str(REPO / 'flows')!r}).get('support')))"
        )
        outputs = {
            subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                cwd=REPO,
                env={**os.environ, "PYTHONHASHSEED": seed},
                timeout=60,
                check=True,
            ).stdout
            for seed in ("1", "2")
        }
        assert outputs == {to_svg(SUPPORT).encode("utf-8")}


class TestLayout:
    def test_a_barycenter_pass_removes_a_crossing(self) -> None:
        # Depth-first order puts p before q under a; q only hangs from a, p from a and b, r from b.
        items = [Box(name, 40, 20) for name in ("a", "b", "p", "q", "r")]
        placed = layout(items, [("a", "p"), ("a", "q"), ("b", "p"), ("b", "r")]).boxes
        assert placed["q"].x < placed["p"].x < placed["r"].x
        assert placed["a"].x < placed["b"].x

    def test_long_edges_bend_around_boxes(self) -> None:
        items = [Box(name, 60, 30) for name in ("top", "middle", "bottom")]
        result = layout(items, [("top", "middle"), ("middle", "bottom"), ("top", "bottom")])
        middle = result.boxes["middle"]
        long_edge = result.routes[2]
        assert not long_edge.back and len(long_edge.points) == 4  # through a dummy in the middle layer
        for x, y in long_edge.points[1:3]:
            assert not (middle.x <= x <= middle.x + middle.width and middle.y < y < middle.y + middle.height)


class TestTextWidth:
    def test_wide_characters_and_bold_take_more_room(self) -> None:
        assert text_width("iiii", 13) < text_width("mmmm", 13)
        assert text_width("Menu", 13) < text_width("Menu", 13, bold=True)
        assert text_width("menú", 13) == text_width("menu", 13)
        assert text_width("你好", 13) > text_width("ab", 13)
        assert text_width("👋", 13) >= 13


class TestCommand:
    def run(self, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HUB_CONFIG": str(REPO / "hub.yaml")}
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", "flows", "draw", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=60,
        )

    def test_draw_by_id_to_stdout_and_by_file_to_an_svg_file(self, tmp_path: Path) -> None:
        done = self.run("feedback")
        assert done.returncode == 0, done.stderr
        expected = to_mermaid(SHIPPED.get("feedback")).splitlines()  # type: ignore[arg-type]
        lines = done.stdout.splitlines()
        # Only the comment differs: hub.yaml names the folder relative to where the hub runs.
        assert lines[1] == "  %% flow feedback, version 1 (flows/feedback.yaml)"
        assert lines[:1] + lines[2:] == expected[:1] + expected[2:]
        output = tmp_path / "support.svg"
        done = self.run(str(REPO / "flows" / "support.yaml"), "--output", str(output))
        assert done.returncode == 0, done.stderr
        svg_root(output.read_text(encoding="utf-8"))

    def test_png_unknown_flows_and_broken_files_are_explained(self, tmp_path: Path) -> None:
        png = self.run("support", "--format", "png")
        assert png.returncode == 2 and "PNG is not supported" in png.stderr and png.stdout == ""
        unknown = self.run("nope")
        assert unknown.returncode == 1
        assert (
            "has no valid flow 'nope' (valid flows: feedback, missed_call, registration, support)"
            in unknown.stderr
        )
        broken = write_flow(tmp_path, "id: broken\nversion: 1\nstart: a\nsteps:\n  a: {say: hi, next: b}\n")
        done = self.run(str(broken))
        assert done.returncode == 1
        assert f"{broken}:5: step 'a': next goes to 'b', which does not exist" in done.stderr
