"""Running the real `hub` commands as child processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
GREETING_ONLY = REPO / "tests" / "fixtures" / "greeting-only"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HubProcesses:
    """A hub deployment in a temp dir: its hub.yaml, environment, and the processes started."""

    def __init__(self, tmp_path: Path, database_url: str, channels: dict[str, Any] | None = None) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        (tmp_path / "hub.yaml").write_text(
            yaml.safe_dump(
                {
                    "public_url": self.base_url,
                    "flows_dir": str(GREETING_ONLY),
                    "channels": channels or {"site": {"type": "webchat"}},
                }
            )
        )
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HUB_CONFIG": str(tmp_path / "hub.yaml"),
            "HUB_DATA_DIR": str(tmp_path / "var"),
            "HUB_SECRET_KEY": "test-secret-key",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args], env=self.env, cwd=REPO, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self, *args: str, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``hub <args>``, its output in ``<name>.log``; ``env`` adds to the environment."""
        log = (self.tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args],
            env={**self.env, **(env or {})},
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
        self.processes.append(process)
        return process

    def serve(self, *extra: str) -> None:
        self.start("serve", "--host", "127.0.0.1", "--port", str(self.port), *extra, name="serve")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.processes[-1].poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"hub serve did not start:\n{(self.tmp_path / 'serve.log').read_text()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
