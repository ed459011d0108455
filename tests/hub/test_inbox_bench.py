"""bench/inbox.py in its quick mode on each backend: it seeds, signs in, times every request of the
list and of opening a conversation next to the bare indexed queries, and says whether the target
holds. No timing assertions: the numbers belong to the machine."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import PG_ADMIN_DSN, REPO, require_postgres

FIGURES = r"\s+\d+\.\d\s+\d+\.\d"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "inbox.py"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_quick_run_reports_every_request(backend: str) -> None:
    if backend == "postgres":
        require_postgres()
    result = run_bench("--quick", "--backends", backend, "--pg-url", PG_ADMIN_DSN)
    assert result.returncode == 0, result.stderr[-4000:]
    report = result.stdout
    assert re.search(rf"^{backend}: seeded 2,000 customers, .* 20,000 messages", report, re.M), report
    for line in ("bare   newest 50 open conversations", "bare   200 messages"):
        assert re.search(rf"^{line}{FIGURES}\s*$", report, re.M), report
    for name in (
        "all open",
        "mine",
        "team",
        "label refund",
        "SLA at risk",
        "search recent text",
        "view counts",
    ):
        assert re.search(rf"^list\s+{name}{FIGURES}\s+(ok|OVER)$", report, re.M), report
    assert re.search(rf"^open\s+all of the above, one after another{FIGURES}\s+(ok|OVER)$", report, re.M)
    assert re.search(rf"^{backend}: list and open (within|OVER) 100 ms \(p95\)$", report, re.M), report


def test_bad_options_are_refused_by_name() -> None:
    result = run_bench("--backends", "oracle")
    assert result.returncode == 2 and "unknown backend 'oracle'" in result.stderr
    result = run_bench("--customers", "10", "--messages", "5", "--backends", "sqlite")
    assert result.returncode == 2 and "--messages must be at least --customers" in result.stderr
