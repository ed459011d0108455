"""Checking flows before they are activated: everything in one pass, each problem with its place.

Per file, the parser (bots.flows.parse) reports YAML and structure problems. Here, per flow: the
start step and every target exist, every step is reachable from the start, no loop runs without
waiting for the customer, handoff teams exist (when the hub's teams are known). Across files: flow
ids are unique, no two flows claim the same button payload, start payload or keyword, and every
``call`` names an existing flow (and step) without making a flow call itself, directly or through
others, and every ``campaign`` step names a campaign defined in the ``campaigns/`` folder next to
the flows. A single file is checked against the other flows of its folder for its calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from bots.flows.matching import fold_accents, normalize
from bots.flows.model import Flow, TriggerKind
from bots.flows.parse import ReadFlow, looks_like_flow, read_document, read_flow
from bots.flows.problems import Problem
from bots.flows.steps.call import CallStep
from bots.flows.steps.campaign import CAMPAIGNS_FOLDER, CampaignStep, campaign_ids
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
    entries: Collection[str] = (),
) -> list[Problem]:
    """Graph problems of one flow. ``declared`` names every step written in the file (including
    those that did not parse); a ``partial`` flow (its file has other problems) is checked for
    missing targets only, since reachability through a broken step cannot be known. ``entries``
    are steps other flows' ``call ... step:`` start it at (reachable too)."""
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
        reached = _reachable(flow, entries)
        for step in flow.steps.values():
            if step.name not in reached:
                report(step.line, f"step {step.name!r} is never reached from the start step {flow.start!r}")
    for loop in _loops_without_waiting(flow):
        first = flow.steps[loop[0]]
        path = " -> ".join([*loop, loop[0]])
        report(first.line, f"steps {path} go round in a loop without waiting for the customer")
    return problems


def _reachable(flow: Flow, called_at: Collection[str] = ()) -> set[str]:
    """Steps reachable from the start step, from a trigger's own start step, or from a step other
    flows call this one at."""
    starts = {flow.start, *called_at} | {t.step for t in flow.triggers if t.step is not None}
    entries = {name for name in starts if name in flow.steps}
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
            if link.target in flow.steps and not flow.steps[link.target].may_wait
        ]
        for name, step in flow.steps.items()
        if not step.may_wait
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


def check_calls(flows: Iterable[Flow], known: Iterable[Flow]) -> list[Problem]:
    """Problems of the ``call`` steps of ``flows``: a called flow (or step) that ``known`` lacks, and
    calls that lead back to the calling flow."""
    by_id: dict[str, Flow] = {}
    for flow in known:
        if flow.id:
            by_id.setdefault(flow.id, flow)
    graph = {flow_id: {step.flow_id for step in _calls(flow)} for flow_id, flow in by_id.items()}
    problems: list[Problem] = []
    for flow in flows:
        for step in _calls(flow):
            callee = by_id.get(step.flow_id)
            where = f"step {step.name!r}:"
            if callee is None:
                problems.append(
                    Problem(
                        flow.file,
                        step.flow_line,
                        f"{where} calls the flow {step.flow_id!r}, which does not exist"
                        f"{suggestion(step.flow_id, by_id)}",
                    )
                )
                continue
            if step.step is not None and step.step not in callee.steps:
                problems.append(
                    Problem(
                        flow.file,
                        step.step_line,
                        f"{where} the flow {callee.id!r} has no step {step.step!r}"
                        f"{suggestion(step.step, callee.steps)}",
                    )
                )
            back = _path(graph, step.flow_id, flow.id) if flow.id else None
            if back is not None:
                circle = " -> ".join([flow.id, *back])
                problems.append(
                    Problem(
                        flow.file,
                        step.flow_line,
                        f"{where} calling {step.flow_id!r} goes round in a circle ({circle}); a flow "
                        "cannot call itself, directly or through other flows",
                    )
                )
    return problems


def check_campaigns(flows: Iterable[Flow], known: Collection[str]) -> list[Problem]:
    """A ``campaign`` step naming a campaign that ``known`` (the campaigns folder's ids) lacks."""
    problems = []
    for flow in flows:
        for step in flow.steps.values():
            if isinstance(step, CampaignStep) and step.campaign not in known:
                listed = ", ".join(sorted(known)) or "none are defined"
                problems.append(
                    Problem(
                        flow.file,
                        step.campaign_line,
                        f"step {step.name!r}: there is no campaign {step.campaign!r} in "
                        f"{CAMPAIGNS_FOLDER}/ next to the flows{suggestion(step.campaign, known)} "
                        f"(campaigns: {listed})",
                    )
                )
    return problems


def _calls(flow: Flow) -> list[CallStep]:
    return [step for step in flow.steps.values() if isinstance(step, CallStep)]


def _path(graph: Mapping[str, Collection[str]], start: str, goal: str) -> list[str] | None:
    """The shortest chain of calls from ``start`` to ``goal`` (both included), or None."""
    came_from: dict[str, str | None] = {start: None}
    pending = deque([start])
    while pending:
        node = pending.popleft()
        if node == goal:
            chain = [node]
            while (previous := came_from[chain[-1]]) is not None:
                chain.append(previous)
            return chain[::-1]
        for target in sorted(graph.get(node, ())):
            if target not in came_from:
                came_from[target] = node
                pending.append(target)
    return None


def _called_at(flows: Iterable[Flow]) -> dict[str, set[str]]:
    """Flow id -> the steps other flows' ``call ... step:`` start it at."""
    entries: dict[str, set[str]] = {}
    for flow in flows:
        for step in _calls(flow):
            if step.step is not None:
                entries.setdefault(step.flow_id, set()).add(step.step)
    return entries


def _siblings(file: Path) -> list[Flow]:
    """The other flows in a single file's folder, read for reference only (what its calls reach);
    their own problems are theirs to report when the folder is validated."""
    flows = []
    for other in flow_files(file.parent):
        if other.resolve() == file.resolve():
            continue
        data, reading = read_document(other)
        if not reading and looks_like_flow(data):
            read = read_flow(other, data)
            if read.flow is not None:
                flows.append(read.flow)
    return flows


def collect(path: Path, teams: Sequence[str] | None = None) -> tuple[list[Flow], list[Problem]]:
    """The valid flows at ``path``, and every problem in any of them."""
    if not path.exists():
        return [], [Problem(str(path), None, "no such file or folder")]
    problems: list[Problem] = []
    from_folder = path.is_dir()
    reads: list[tuple[ReadFlow, bool]] = []  # each flow read, and whether its file read cleanly
    for file in flow_files(path):
        data, reading = read_document(file)
        if from_folder and not reading and not looks_like_flow(data):
            continue
        if data is None and reading:
            problems.extend(reading)
            continue
        read = read_flow(file, data)
        problems.extend(reading + read.problems)
        if read.flow is not None:
            reads.append((read, not reading))
    # Every flow read far enough to have steps (for cross-file checks).
    named = [read.flow for read, _ in reads if read.flow is not None]
    known = named + ([] if from_folder else _siblings(path))
    entries = _called_at(known)
    flows: list[Flow] = []  # valid ones
    for read, clean in reads:
        assert read.flow is not None
        graph = check_flow(
            read.flow,
            teams,
            declared=read.declared,
            partial=not clean or bool(read.problems),
            entries=entries.get(read.flow.id, ()),
        )
        problems.extend(graph)
        if read.valid and clean and not graph:
            flows.append(read.flow)
    problems.extend(check_set(named))
    calls = check_calls(named, known)
    calls += check_campaigns(named, campaign_ids(path if from_folder else path.parent))
    problems.extend(calls)
    if calls:
        # A call going nowhere (or in a circle), or an unknown campaign, makes its flow invalid.
        broken = {p.file for p in calls}
        flows = [flow for flow in flows if flow.file not in broken]
    return flows, sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))


def validate(path: Path | str, teams: Sequence[str] | None = None) -> list[Problem]:
    """Every problem of the flows at ``path`` (a file or a folder), sorted by file and line; empty
    when they can be activated. ``teams`` (from hub.yaml) also checks handoff teams."""
    return collect(Path(path), teams)[1]
