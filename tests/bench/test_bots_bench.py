"""bench/bots.py in its quick mode, end to end on each backend: it runs, its own database checks pass
(every turn processed, the bot's replies queued, flows paused where planned) and the report carries
every figure. No timing assertions: the numbers belong to the machine."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import PG_ADMIN_DSN, REPO, require_postgres

FIGURE = r"\d+\.\d+"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "bots.py"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


class TestQuickRun:
    @pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
    def test_reports_both_runs_and_the_ratios(self, backend: str) -> None:
        if backend == "postgres":
            require_postgres()
        result = run_bench("--quick", "--backend", backend, "--pg-url", PG_ADMIN_DSN)
        assert result.returncode == 0, result.stderr[-4000:]
        report = result.stdout
        latencies = rf"{FIGURE}\s+{FIGURE}\s+{FIGURE}\s+{FIGURE}\s+{FIGURE}"  # turns/s, p50, p90, p99, max
        paced_turns: set[int] = set()
        for run in ("bare", "bot"):
            assert re.search(rf"^{run}\s+peak c=8\s+300\s+{latencies}\s", report, re.M), report
            paced = re.search(rf"^{run}\s+paced {FIGURE}/s\s+(\d+)\s+{latencies}\s", report, re.M)
            assert paced is not None, report
            paced_turns.add(int(paced.group(1)))
        assert len(paced_turns) == 1  # the same turns at the same rate in both runs
        turns = 300 + paced_turns.pop()
        assert re.search(rf"^bot / bare, peak: turns/s {FIGURE} x", report, re.M), report
        assert re.search(
            rf"^bot / bare, paced at {FIGURE} turns/s: p50 latency {FIGURE} x .*p99 latency {FIGURE} x",
            report,
            re.M,
        ), report
        bare = re.search(rf"^check bare: {turns} turns stored, (\d+) bot replies.*as planned$", report, re.M)
        bot = re.search(rf"^check bot: {turns} turns stored, (\d+) bot replies.*as planned$", report, re.M)
        assert bare is not None and bot is not None, report
        assert int(bare.group(1)) == 0
        assert int(bot.group(1)) >= turns  # every turn got at least one reply

    def test_bad_option_is_refused_by_name(self) -> None:
        result = run_bench("--quick", "--concurrency", "0")
        assert result.returncode == 2
        assert "--concurrency must be at least 1" in result.stderr
