"""Loading flows for the engine: all valid, or none activated."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bots.flows.model import FlowSet
from bots.flows.problems import FlowError
from bots.flows.validate import collect


def load_flows(path: Path | str, teams: Sequence[str] | None = None) -> FlowSet:
    """The flows at ``path`` (a flow file, or a folder of them), in file-name order.

    Raises FlowError listing every problem when any flow is invalid: a folder is activated whole or
    not at all, so a mistake in one file never leaves the others half-updated.
    """
    flows, problems = collect(Path(path), teams)
    if problems:
        raise FlowError(problems)
    return FlowSet(tuple(flows))
