"""Process settings from the environment (and a .env file). Every variable is listed in .env.example."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # Empty values in .env (as in .env.example) mean "use the default".
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    hub_config: Path = Field(default=Path("hub.yaml"), description="the hub's YAML configuration")
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/omnihub.db",
        description="sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    hub_data_dir: Path = Field(default=Path("var"), description="SQLite file, media, generated secret key")
    hub_secret_key: SecretStr | None = Field(
        default=None,
        description="signs web chat visitor tokens and agent sessions; generated into var/ if unset",
    )
    hub_log_level: str = "INFO"
    hub_max_body_bytes: int = Field(
        default=1_048_576, description="largest webhook/API request body accepted"
    )
    # None: run the outbox dispatcher and inbound processor inside `hub serve` on SQLite only.
    hub_worker_in_process: bool | None = None
    hub_worker_id: str | None = None
    hub_outbox_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how long a dispatcher owns a claimed outbox row before others may take it",
    )
    hub_flows_reload_seconds: float = Field(
        default=2.0,
        ge=0,
        description="how often each process looks for edited flow files and activates valid ones (0: never)",
    )
    hub_scheduler: bool = Field(
        default=True,
        description="take part in electing the one process that runs scheduled jobs (off: never here)",
    )
    hub_scheduler_misfire_grace_seconds: int = Field(
        default=3600,
        gt=0,
        description="a scheduled job missed while no process ran it still runs if at most this late",
    )
    hub_session_days: int = 14
    hub_cookie_secure: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def run_worker_in_process(self) -> bool:
        if self.hub_worker_in_process is not None:
            return self.hub_worker_in_process
        return self.is_sqlite

    @cached_property
    def secret_key(self) -> bytes:
        """The configured key, or one generated once into the data dir (so a demo restart keeps
        visitor tokens valid). Production deployments with several hosts must set HUB_SECRET_KEY."""
        if self.hub_secret_key is not None:
            return self.hub_secret_key.get_secret_value().encode()
        path = self.hub_data_dir / "secret_key"
        if not path.exists():
            self.hub_data_dir.mkdir(parents=True, exist_ok=True)
            # Created owner-only from the start, never briefly readable by others.
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process of this hub created it a moment ago
            else:
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()
