"""The `hub` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from pathlib import Path

import typer
import uvicorn

from hub.config import ConfigError, load_config
from hub.logs import configure_logging
from hub.settings import Settings
from inbox.models import Role

app = typer.Typer(help="omnihub: one customer record, one inbox, every channel.", no_args_is_help=True)
log = logging.getLogger("hub")

DEMO_ADMIN_EMAIL = "admin@demo.local"
# The order system URL written in flows/support.yaml (see there).
DEMO_ORDER_SYSTEM = "https://orders.invalid"


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.hub_log_level)
    return settings


def _config(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return load_config(settings.hub_config)
    except ConfigError as exc:
        typer.echo(f"configuration error in {exc}", err=True)
        raise typer.Exit(2) from None


def _migrate(settings: Settings) -> None:
    from hub.migrate import upgrade

    upgrade(settings.database_url)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (SQLite or PostgreSQL, from DATABASE_URL)."""
    settings = _settings()
    _migrate(settings)
    typer.echo("database schema is up to date")


@app.command("make-migration")
def make_migration(message: str = typer.Argument(..., help="what the schema change does")) -> None:
    """(Developers) Write a new Alembic migration from the difference between the models and the
    schema of DATABASE_URL, after bringing that database up to date."""
    from alembic import command

    from hub.migrate import alembic_config

    settings = _settings()
    _migrate(settings)
    command.revision(alembic_config(settings.database_url), message=message, autogenerate=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: bool | None = typer.Option(
        None,
        help="also process inbound events and send the outbox here (default: on SQLite yes, PostgreSQL no)",
    ),
) -> None:
    """Run the web server: webhooks, API, agent inbox, website chat."""
    from hub.app import create_app

    settings = _settings()
    config = _config(settings)
    application = create_app(settings, config, workers=workers)
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # Live streams stay open; don't let them hold a restart for long.
        timeout_graceful_shutdown=5,
    )


@app.command()
def worker() -> None:
    """Process inbound events and send the outbox (run several on PostgreSQL)."""
    from hub.runtime import Hub

    settings = _settings()
    config = _config(settings)

    async def main() -> None:
        hub = Hub.build(settings, config)
        await hub.start(workers=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker %s running", hub.dispatcher.worker_id)
        await stop.wait()
        await hub.stop()

    asyncio.run(main())


@app.command()
def listen() -> None:
    """Receive email (SMTP server, IMAP polling) without serving the web; for PostgreSQL deployments,
    where `hub serve` does not run listeners. Run it in one process only."""
    from hub.runtime import Hub

    settings = _settings()
    config = _config(settings)

    async def main() -> None:
        hub = Hub.build(settings, config)
        await hub.start(workers=False, listeners=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await hub.stop()

    asyncio.run(main())


async def _upsert_agent(
    settings: Settings, email: str, name: str, role: Role, password: str, reset: bool
) -> str:
    from sqlalchemy import select

    from hub.auth.credentials import create_agent
    from hub.auth.passwords import hash_password
    from hub.db import Database
    from inbox.models import Agent

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            existing = (
                (await session.execute(select(Agent).where(Agent.email == email.lower()))).scalars().first()
            )
            if existing is None:
                await create_agent(session, email=email, name=name, role=role, password=password)
                return "created"
            if not reset:
                return "exists"
            existing.password_hash = hash_password(password)
            existing.role = role
            existing.active = True
            session.add(existing)
            return "password reset"
    finally:
        await db.dispose()


@app.command("create-agent")
def create_agent_command(
    email: str = typer.Option(..., help="login email"),
    name: str = typer.Option(..., help="name shown to colleagues"),
    role: Role = typer.Option(Role.AGENT, help="admin, agent or marketer"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="at least 10 characters"
    ),
) -> None:
    """Create a person who logs in to the inbox."""
    from hub.auth.passwords import WeakPassword

    settings = _settings()
    try:
        outcome = asyncio.run(_upsert_agent(settings, email, name, role, password, reset=False))
    except WeakPassword as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if outcome == "exists":
        typer.echo(f"error: an agent with email {email} already exists", err=True)
        raise typer.Exit(1)
    typer.echo(f"created {role.value} {email}")


@app.command("create-token")
def create_token_command(
    role: Role = typer.Option(..., help="admin, agent or marketer"),
    name: str = typer.Option("cli", help="what the token is for"),
) -> None:
    """Create an API token. The token is printed alone on the last line."""
    from hub.auth.credentials import create_token
    from hub.db import Database

    settings = _settings()

    async def main() -> str:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                _, secret = await create_token(session, name=name, role=role, created_by="cli")
                return secret
        finally:
            await db.dispose()

    secret = asyncio.run(main())
    typer.echo(f"API token for {role.value} ({name}); it is shown only once:")
    typer.echo(secret)


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Set up the embedded demo (SQLite under ./var) and run it: website chat and agent inbox."""
    from bots.flows.steps.http import HttpOptions
    from bots.flows.steps.http import configure as configure_http
    from hub.app import create_app

    settings = _settings()
    config = _config(settings)
    _migrate(settings)
    password = secrets.token_urlsafe(9)
    asyncio.run(_upsert_agent(settings, DEMO_ADMIN_EMAIL, "Demo Admin", Role.ADMIN, password, reset=True))
    base = f"http://{host}:{port}"
    typer.echo(
        "\n".join(
            [
                "",
                "omnihub demo",
                f"  website chat (as a customer): {base}/chat",
                f"  agent inbox:                  {base}/inbox",
                f"  log in as {DEMO_ADMIN_EMAIL} with password {password}",
                f"  API docs:                     {base}/docs",
                "",
            ]
        )
    )
    sys.stdout.flush()
    # The support flow's order lookup goes to the demo's stand-in order system on this server.
    configure_http(HttpOptions(rewrites={DEMO_ORDER_SYSTEM: f"{base}/demo"}))
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            create_app(settings, config, workers=True, demo=True),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )


channels_app = typer.Typer(help="Check and connect the channel accounts of hub.yaml.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")


@channels_app.command("check")
def channels_check() -> None:
    """Say in plain words what is misconfigured in each channel account of hub.yaml: missing secrets,
    webhooks not set or set elsewhere, rejected tokens, mail servers that refuse the login."""
    from hub.channel_health import check_channels, render

    settings = _settings()
    configure_logging("WARNING")  # the providers' SDKs log every request at INFO
    report = asyncio.run(check_channels(settings))
    typer.echo(render(report))
    raise typer.Exit(report.exit_code)  # 0 clean, 1 problems, 2 hub.yaml cannot be loaded


@channels_app.command("connect")
def channels_connect(account: str = typer.Argument(..., help="the account's name in hub.yaml")) -> None:
    """Register the account's webhook URL with its provider (Telegram, Viber, a Twilio number)."""
    from hub.channel_health import ConnectFailed, connect_channel

    settings = _settings()
    configure_logging("WARNING")
    try:
        typer.echo(asyncio.run(connect_channel(settings, account)))
    except ConnectFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


flows_app = typer.Typer(help="Validate and test the YAML bot flows.", no_args_is_help=True)
app.add_typer(flows_app, name="flows")


def _flows_path(path: Path | None) -> Path:
    if path is not None:
        return path
    return _config(_settings()).flows_dir


@flows_app.command("validate")
def flows_validate(
    path: Path | None = typer.Argument(None, help="a flow file or folder (default: flows_dir of hub.yaml)"),
) -> None:
    """Report every problem of the flows, with file and line; exit 1 when there is any."""
    from bots.flows import validate

    folder = _flows_path(path)
    teams = None
    with contextlib.suppress(typer.Exit):
        teams = _config(_settings()).teams or None
    problems = validate(folder, teams=teams)
    for problem in problems:
        typer.echo(str(problem))
    typer.echo(f"{len(problems)} problem(s)" if problems else f"{folder}: the flows are valid")
    raise typer.Exit(1 if problems else 0)


@flows_app.command("test")
def flows_test(
    path: Path | None = typer.Argument(None, help="a transcript file or folder (default: <flows_dir>/tests)"),
) -> None:
    """Run the transcript tests against the real engine on a throwaway database; exit 1 on failure."""
    from bots.flows import run_transcripts

    target = path if path is not None else _flows_path(None) / "tests"
    report = asyncio.run(run_transcripts(target))
    typer.echo(str(report))
    raise typer.Exit(0 if report.ok else 1)


if __name__ == "__main__":
    app()
