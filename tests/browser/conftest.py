"""Browser test fixtures: a real `hub serve` process on a free port, and the system Chromium.

The server runs as a subprocess, exactly as an operator starts it (migrate, create-agent, serve), in a
temporary directory with its own SQLite database. Chromium is the Debian package driven by Python
Playwright (its own browser download cannot reach the internet here). A missing Chromium skips these
tests on a laptop and fails them when CI=true, where they must run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "tests" / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"
STARTUP_SECONDS = 60.0
# The machines are shared and slow at times; live updates get this long to show up.
EXPECT_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class HubServer:
    url: str
    env: dict[str, str]
    workdir: Path
    password: str = PASSWORD  # every agent the tests create gets this one

    def cli(self, *args: str) -> None:
        """Run `hub <args>` against this server's database and configuration."""
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args[:1])} failed:\n{result.stdout}\n{result.stderr}")

    def create_agent(self, email: str, name: str, role: str) -> None:
        self.cli(
            "create-agent", "--email", email, "--name", name, "--role", role, "--password", self.password
        )

    @contextmanager
    def api_client(self, email: str) -> Iterator[httpx.Client]:
        """An HTTP client logged in as the agent with this email."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            client.post(
                "/api/v1/auth/login", json={"email": email, "password": self.password}
            ).raise_for_status()
            yield client

    def visitor_writes(self, text: str, name: str, message_id: str) -> dict[str, Any]:
        """Write on the website chat as a new visitor, the way the widget does; returns the session."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            session = client.post("/webchat/site/session", json={}).raise_for_status().json()
            client.post(
                "/webhooks/webchat/site",
                headers={"X-Webchat-Visitor": session["visitor_id"], "X-Webchat-Token": session["token"]},
                json={"type": "message", "id": message_id, "text": text, "name": name},
            ).raise_for_status()
        return session


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"hub serve was not ready within {STARTUP_SECONDS:.0f}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so the browser tests must run")
        pytest.skip(reason)
    return CHROMIUM


# Module scope, not session: Playwright's sync API runs an event loop on this thread while it is
# open, and the asyncio tests of other modules must not find it still running.
@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def running_hub(workdir: Path, channels_yaml: str = "") -> Iterator[HubServer]:
    """`hub serve` with the demo's website chat account (plus ``channels_yaml``, more accounts in
    hub.yaml's format), an agent (agent@example.com) and its data in ``workdir``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (workdir / "hub.yaml").write_text(
        f"public_url: {url}\n"
        f"flows_dir: {REPO / 'flows'}\n"
        "channels:\n"
        "  site:\n"
        "    type: webchat\n"
        "    title: Lumen Coffee support\n" + channels_yaml
    )
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("HUB_", "DATABASE_URL"))
    } | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'hub.db'}",
        "HUB_SECRET_KEY": "test",
        "HUB_CONFIG": str(workdir / "hub.yaml"),
        "HUB_DATA_DIR": str(workdir / "var"),
        "HUB_LOG_LEVEL": "WARNING",
        # The code under test is this checkout, whatever is installed.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    server = HubServer(url=url, env=env, workdir=workdir)
    server.cli("migrate")
    server.create_agent("agent@example.com", "Ana Agent", "agent")
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, url, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def hub_server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """`hub serve` with the demo's website chat account and an agent (agent@example.com). Depends on
    ``browser`` so it never starts when the browser tests skip."""
    with running_hub(tmp_path_factory.mktemp("hub")) as server:
        yield server


@pytest.fixture(scope="session")
def screenshots() -> Callable[[Page, str], None]:
    """Save a screenshot for reviewers under tests/artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return take


@contextmanager
def pages(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    """Open pages in fresh browser contexts (their own cookies and storage: one person each) on
    ``base_url``. Any uncaught script error on those pages fails the test."""
    contexts: list[BrowserContext] = []
    script_errors: list[str] = []

    def open_page(**options: Any) -> Page:
        context = browser.new_context(
            base_url=base_url, **{"viewport": {"width": 1280, "height": 800}, **options}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not script_errors, "uncaught script errors:\n" + "\n".join(script_errors)


@pytest.fixture
def new_page(browser: Browser, hub_server: HubServer) -> Iterator[Callable[..., Page]]:
    with pages(browser, hub_server.url) as open_page:
        yield open_page
