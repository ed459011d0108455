"""The `hub` command line as a newcomer and scripts use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import REPO, HubProcesses


def test_every_command_has_help() -> None:
    for command in (
        "serve",
        "worker",
        "listen",
        "migrate",
        "demo",
        "create-agent",
        "create-token",
        "channels",
    ):
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", command, "--help"], capture_output=True, cwd=REPO, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert b"Usage" in done.stdout


def test_create_token_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    hub = HubProcesses(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    assert "up to date" in hub.run("migrate")
    token = (
        hub.run("create-token", "--role", "admin", "--name", "deploy script").rstrip("\n").splitlines()[-1]
    )
    assert token.startswith("oh_") and " " not in token
    hub.serve()
    try:
        me = httpx.get(f"{hub.base_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["role"] == "admin"
    finally:
        hub.stop()


def test_bad_configuration_is_explained(tmp_path: Path) -> None:
    hub = HubProcesses(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    (tmp_path / "hub.yaml").write_text("channels:\n  main: {type: telegram}\n")
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve"], env=hub.env, cwd=REPO, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"channels.main.token: required setting is missing" in done.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    hub = HubProcesses(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    process = hub.start("serve", "--port", str(hub.port), name="serve")
    process.wait(60)
    assert process.returncode != 0
    assert "run `hub migrate`" in (tmp_path / "serve.log").read_text()
