"""Transcript tests for flows: ``run_transcripts(path)`` (``hub flows test``) and the pieces pytest
uses to run each transcript as its own test."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bots.flows.loader import load_flows
from bots.flows.model import FlowSet
from bots.flows.problems import FlowError, Problem
from bots.flows.transcripts.database import Transactions, scratch_database
from bots.flows.transcripts.model import Transcript, read_transcripts
from bots.flows.transcripts.runner import TranscriptResult, play


@dataclass
class TranscriptReport:
    """Every transcript's result, and the problems that kept files or flows from running."""

    results: list[TranscriptResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.results)

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems]
        for result in self.results:
            lines.append(f"{'PASS' if result.ok else 'FAIL'} {result.file}:{result.line} {result.name}")
            lines += [f"  - {failure}" for failure in result.failures]
        lines.append(
            f"{self.passed} passed, {self.failed} failed"
            + (f", {len(self.problems)} problem(s)" if self.problems else "")
        )
        return "\n".join(lines)


def transcript_files(path: Path) -> list[Path]:
    """A transcript file, or the YAML files directly inside a folder."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    return [path]


def collect_transcripts(path: Path | str) -> tuple[list[Transcript], list[Problem]]:
    transcripts: list[Transcript] = []
    problems: list[Problem] = []
    for file in transcript_files(Path(path)):
        found, trouble = read_transcripts(file)
        transcripts += found
        problems += trouble
    return transcripts, problems


class FlowCache:
    """Flows by folder, loaded once per run (many transcripts test the same folder)."""

    def __init__(self) -> None:
        self._loaded: dict[Path, FlowSet | FlowError] = {}

    def get(self, path: Path) -> FlowSet:
        """The flows at ``path``; raises FlowError when they are invalid."""
        if path not in self._loaded:
            try:
                self._loaded[path] = load_flows(path)
            except FlowError as exc:
                self._loaded[path] = exc
        loaded = self._loaded[path]
        if isinstance(loaded, FlowError):
            raise loaded
        return loaded


async def run_transcripts(path: Path | str, transactions: Transactions | None = None) -> TranscriptReport:
    """Run every transcript at ``path`` (a file, or a folder such as flows/tests) against the real
    engine. ``transactions`` opens a write transaction on a migrated database; without it a
    throwaway SQLite database is used."""
    transcripts, problems = collect_transcripts(path)
    report = TranscriptReport(problems=problems)
    if transactions is None:
        async with scratch_database() as scratch:
            await _run_all(transcripts, scratch, report)
    else:
        await _run_all(transcripts, transactions, report)
    return report


async def _run_all(
    transcripts: list[Transcript], transactions: Transactions, report: TranscriptReport
) -> None:
    flows = FlowCache()
    for transcript in transcripts:
        try:
            flow_set = flows.get(transcript.flows)
        except FlowError as exc:
            report.results.append(
                TranscriptResult(
                    transcript.file, transcript.name, transcript.line, [f"the flows are invalid:\n{exc}"]
                )
            )
            continue
        report.results.append(await play(transcript, flow_set, transactions))


__all__ = [
    "FlowCache",
    "Transactions",
    "Transcript",
    "TranscriptReport",
    "TranscriptResult",
    "collect_transcripts",
    "play",
    "run_transcripts",
    "scratch_database",
]
