"""Hot reload of the flows folder: edited flow files become active without a restart.

Every process (``hub serve``, ``hub worker``) runs its own FlowReloader. Every ``interval`` seconds
it compares the folder's files (path, modification time and size, subfolders included, since
knowledge bases live there) with what it saw last. When something changed it loads the whole folder
again, with the same checks as at start:

- **Valid**: the new set is activated (FlowEngine.activate). Flows paused on an earlier version keep
  running on it; the earlier versions are listed in ``retired`` for the flows API.
- **Invalid**: nothing is activated, the flows that were running stay, and every problem is logged
  with file and line and kept in ``problems`` (the flows API shows them) until a load succeeds.

A flow's version is the ``version:`` written in its file, not a hash of it. So an edited file that
keeps its version replaces that version in place, and customers paused in it continue on the edited
steps; the reloader warns about it, since the author most likely forgot to raise the version.

Polling rather than file-system events: it needs nothing installed, works on every platform and on
network and container mounts, and a flows folder has a handful of files.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from bots.flows import Flow, FlowEngine, FlowError, FlowSet, Problem, load_flows
from crm_core.columns import utcnow

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 2.0

# Relative path, modification time (ns) and size of every file under the folder, sorted.
Fingerprint = tuple[tuple[str, int, int], ...]


class ReloadOutcome(StrEnum):
    UNCHANGED = "unchanged"  # no file changed since the last look
    RELOADED = "reloaded"  # a valid set was activated
    REJECTED = "rejected"  # the folder has problems; the previous flows stay active
    SETTLING = "settling"  # files changed while loading them; looked at again next time


def fingerprint(folder: Path) -> Fingerprint:
    """What changes when any file under ``folder`` is written, added, removed or renamed."""
    entries: list[tuple[str, int, int]] = []
    for directory, subfolders, files in os.walk(folder):
        subfolders.sort()
        for name in sorted(files):
            path = Path(directory) / name
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while we looked; the next look sees it gone
            entries.append((str(path.relative_to(folder)), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def _digest(file: str) -> str | None:
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest()
    except OSError:
        return None


class FlowReloader:
    """Watches ``folder`` and activates its flows in ``engine`` when they change and are valid.
    ``teams`` (hub.yaml's) are checked in handoff steps, as at start."""

    def __init__(
        self,
        folder: Path,
        engine: FlowEngine,
        *,
        teams: Sequence[str] | None = None,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        on_reload: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the reload interval must be more than 0 seconds, got {interval}")
        self.folder = folder
        self.engine = engine
        self.teams = teams
        self.interval = interval
        # Called after a new set is activated (the hub re-syncs the flows' scheduled triggers).
        self.on_reload = on_reload
        # The problems that kept the folder's current files from being activated (empty: none).
        self.problems: list[Problem] = []
        # Earlier versions replaced by a reload, by (id, version): still run for paused customers.
        self.retired: dict[tuple[str, str], Flow] = {}
        self.checked_at: datetime | None = None
        self.loaded_at: datetime | None = utcnow()
        self._seen = fingerprint(folder)
        self._digests = {flow.file: _digest(flow.file) for flow in engine.flows}

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled; a failing check is logged and retried."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:
                log.exception(
                    "checking the flows in %s failed; trying again in %s s", self.folder, self.interval
                )

    async def check(self) -> ReloadOutcome:
        """Look once; reload when a file changed."""
        self.checked_at = utcnow()
        before = fingerprint(self.folder)
        if before == self._seen:
            return ReloadOutcome.UNCHANGED
        # Loading parses YAML and knowledge bases: off the event loop, which keeps serving.
        try:
            flows: FlowSet | None = await asyncio.to_thread(load_flows, self.folder, self.teams)
            problems: list[Problem] = []
        except FlowError as exc:
            flows, problems = None, list(exc.problems)
        if fingerprint(self.folder) != before:
            # An editor was still writing: what was read may be half a file. Next time.
            return ReloadOutcome.SETTLING
        self._seen = before
        if flows is None:
            self.problems = problems
            log.warning(
                "the flows in %s were not reloaded: %d problem(s); the previous flows stay active",
                self.folder,
                len(problems),
            )
            for problem in problems:
                log.warning("flow problem: %s", problem)
            return ReloadOutcome.REJECTED
        self._activate(flows)
        if self.on_reload is not None:
            await self.on_reload()
        return ReloadOutcome.RELOADED

    def _activate(self, flows: FlowSet) -> None:
        previous = {flow.id: flow for flow in self.engine.flows}
        digests = {flow.file: _digest(flow.file) for flow in flows}
        for flow in flows:
            old = previous.pop(flow.id, None)
            self.retired.pop((flow.id, flow.version), None)
            if old is None:
                log.info("flow %s version %s (%s) is new", flow.id, flow.version, flow.file)
            elif old.version != flow.version:
                self.retired[(old.id, old.version)] = old
                log.info("flow %s: version %s replaces %s", flow.id, flow.version, old.version)
            elif digests[flow.file] != self._digests.get(old.file):
                log.warning(
                    "flow %s (%s) changed but its version is still %s: customers paused in it continue "
                    "on the edited steps; raise 'version' when you change a flow",
                    flow.id,
                    flow.file,
                    flow.version,
                )
        for gone in previous.values():
            self.retired[(gone.id, gone.version)] = gone
            log.info(
                "flow %s version %s was removed; customers paused in it can finish", gone.id, gone.version
            )
        self.engine.activate(flows)
        self._digests = digests
        self.problems = []
        self.loaded_at = utcnow()
        log.info("flows reloaded from %s: %s", self.folder, ", ".join(flows.ids) or "none")
