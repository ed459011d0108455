"""Flow folders that change under a running hub: a small flow to edit, an editor-like write, and
hubs started on such a folder (used by the hot-reload and flows API tests)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from hub.runtime import Hub
from tests.conftest import hub_config, settings_for

SIGNUP = """
id: signup
version: {version}
description: Asks the name
triggers:
  - keyword: [signup]
start: ask_name
steps:
  ask_name:
    ask: "{tag}: what is your name?"
    timeout: 1h
    on_timeout: thanks
    next: thanks
  thanks:
    say: "{tag}: thanks {{{{ var.ask_name }}}}"
"""

FlowsHub = Callable[..., Awaitable[Hub]]


def edit(path: Path, text: str) -> Path:
    """Write ``text`` as an editor would, a moment after the previous write: the modification time
    moves on by at least a second even where the file system's clock is coarse."""
    previous = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    written = max(path.stat().st_mtime_ns, previous + 1_000_000_000)
    os.utime(path, ns=(written, written))
    return path


def signup(folder: Path, version: int, tag: str | None = None) -> Path:
    return edit(folder / "signup.yaml", SIGNUP.format(version=version, tag=tag or f"v{version}"))


@asynccontextmanager
async def hubs_with_flows(database_url: str, data_dir: Path) -> AsyncIterator[FlowsHub]:
    """Start hubs on the test database whose flows folder is ``folder``; their background reloader
    waits ``interval`` seconds (by default far longer than a test, so tests check by hand)."""
    hubs: list[Hub] = []

    async def factory(folder: Path, interval: float = 3600.0) -> Hub:
        settings = settings_for(database_url, data_dir).model_copy(
            update={"hub_flows_reload_seconds": interval}
        )
        hub = Hub.build(settings, hub_config(flows_dir=str(folder)))
        await hub.start(workers=False)
        hubs.append(hub)
        return hub

    try:
        yield factory
    finally:
        for hub in hubs:
            await hub.stop()
