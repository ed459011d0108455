"""Checking flows before they are activated: everything in one pass, each problem with its place.

Per file, the parser (bots.flows.parse) reports YAML and structure problems. Here, per flow: the
start step and every target exist, every step is reachable from the start, no loop runs without
waiting for the customer, handoff teams exist (when the hub's teams are known). Across files: flow
ids are unique and no two flows claim the same button payload, start payload or keyword.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from bots.flows.matching import fold_accents, normalize
from bots.flows.model import Flow, TriggerKind
from bots.flows.parse import looks_like_flow, read_document, read_flow
from bots.flows.problems import Problem
from bots.flows.steps.handoff import HandoffStep
from bots.flows.steps.reader import suggestion


def flow_files(path: Path) -> list[Path]:
    """The flow files at ``path``: the file itself, or the YAML files directly inside a folder (not
    its subfolders, which hold knowledge bases and transcript tests)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    return [path]


def check_flow(
    flow: Flow,
    teams: Sequence[str] | None = None,
    *,
    declared: Collection[str] = (),
    partial: bool = False,
) -> list[Problem]:
    """Graph problems of one flow. ``declared`` names every step written in the file (including
    those that did not parse); a ``partial`` flow (its file has other problems) is checked for
    missing targets only, since reachability through a broken step cannot be known."""
    problems: list[Problem] = []

    def report(line: int | None, message: str) -> None:
        problems.append(Problem(flow.file, line, message))

    names = sorted(set(flow.steps) | set(declared))
    if flow.start not in names:
        report(flow.line, f"the start step {flow.start!r} does not exist{suggestion(flow.start, names)}")
    for step in flow.steps.values():
        for link in step.links():
            if link.target not in names:
                report(
                    link.line,
                    f"step {step.name!r}: {link.via} goes to {link.target!r}, which does not exist"
                    f"{suggestion(link.target, names)}",
                )
        if isinstance(step, HandoffStep) and teams is not None and step.team and step.team not in teams:
            known = ", ".join(teams) or "none are configured"
            report(
                step.team_line, f"step {step.name!r}: team {step.team!r} is not in hub.yaml's teams ({known})"
            )
    for trigger in flow.triggers:
        if trigger.step is not None and trigger.step not in names:
            report(
                trigger.line,
                f"the {trigger.kind.value} trigger starts at {trigger.step!r}, which does not exist"
                f"{suggestion(trigger.step, names)}",
            )
    if partial:
        return problems
    if flow.start in flow.steps:
        reached = _reachable(flow)
        for step in flow.steps.values():
            if step.name not in reached:
                report(step.line, f"step {step.name!r} is never reached from the start step {flow.start!r}")
    for loop in _loops_without_waiting(flow):
        first = flow.steps[loop[0]]
        path = " -> ".join([*loop, loop[0]])
        report(first.line, f"steps {path} go round in a loop without waiting for the customer")
    return problems


def _reachable(flow: Flow) -> set[str]:
    """Steps reachable from the start step or from a trigger's own start step."""
    entries = {flow.start} | {t.step for t in flow.triggers if t.step is not None and t.step in flow.steps}
    seen = set(entries)
    pending = list(entries)
    while pending:
        step = flow.steps.get(pending.pop())
        if step is None:
            continue
        for link in step.links():
            if link.target not in seen:
                seen.add(link.target)
                pending.append(link.target)
    return seen


def _loops_without_waiting(flow: Flow) -> list[list[str]]:
    """Cycles made only of steps that never wait (Tarjan's strongly connected components)."""
    graph = {
        name: [
            link.target
            for link in step.links()
            if link.target in flow.steps and not flow.steps[link.target].waits
        ]
        for name, step in flow.steps.items()
        if not step.waits
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        # Flows are small (tens of steps), so recursion depth is no concern.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                order = list(flow.steps)
                loops.append(sorted(component, key=order.index))

    for node in graph:
        if node not in index:
            visit(node)
    return loops


def check_set(flows: Iterable[Flow]) -> list[Problem]:
    """Problems between flows: a reused id, two flows claiming the same payload or keyword."""
    problems: list[Problem] = []
    ids: dict[str, Flow] = {}
    claims: dict[tuple[TriggerKind, str], Flow] = {}
    for flow in flows:
        if not flow.id:
            continue
        if flow.id in ids:
            problems.append(
                Problem(
                    flow.file, flow.line, f"the flow id {flow.id!r} is already used by {ids[flow.id].file}"
                )
            )
            continue
        ids[flow.id] = flow
        for trigger in flow.triggers:
            if trigger.kind not in (TriggerKind.BUTTON, TriggerKind.START, TriggerKind.KEYWORD):
                continue
            for pattern in trigger.patterns:
                key = fold_accents(normalize(pattern)) if trigger.kind is TriggerKind.KEYWORD else pattern
                other = claims.setdefault((trigger.kind, key), flow)
                if other is not flow:
                    problems.append(
                        Problem(
                            flow.file,
                            trigger.line,
                            f"{trigger.kind.value} {pattern!r} already starts the flow {other.id!r} "
                            f"({other.file})",
                        )
                    )
    return problems


def collect(path: Path, teams: Sequence[str] | None = None) -> tuple[list[Flow], list[Problem]]:
    """The valid flows at ``path``, and every problem in any of them."""
    if not path.exists():
        return [], [Problem(str(path), None, "no such file or folder")]
    flows: list[Flow] = []  # valid ones
    named: list[Flow] = []  # every flow read far enough to have an id (for cross-file checks)
    problems: list[Problem] = []
    from_folder = path.is_dir()
    for file in flow_files(path):
        data, reading = read_document(file)
        if from_folder and not reading and not looks_like_flow(data):
            continue
        if data is None and reading:
            problems.extend(reading)
            continue
        read = read_flow(file, data)
        problems.extend(reading + read.problems)
        if read.flow is None:
            continue
        graph = check_flow(read.flow, teams, declared=read.declared, partial=bool(reading or read.problems))
        problems.extend(graph)
        if read.valid and not reading and not graph:
            flows.append(read.flow)
        named.append(read.flow)
    problems.extend(check_set(named))
    return flows, sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))


def validate(path: Path | str, teams: Sequence[str] | None = None) -> list[Problem]:
    """Every problem of the flows at ``path`` (a file or a folder), sorted by file and line; empty
    when they can be activated. ``teams`` (from hub.yaml) also checks handoff teams."""
    return collect(Path(path), teams)[1]
