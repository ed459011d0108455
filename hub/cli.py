"""The `hub` command line."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
import sys
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import uvicorn

from hub.config import ConfigError, HubConfig, load_config
from hub.logs import configure_logging
from hub.settings import Settings
from inbox.models import Role

if TYPE_CHECKING:
    from bots.flows.model import Flow, FlowSet

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


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (it comes with uvicorn[standard], and `hub serve` runs on
    it too): a worker's outbox sends spend a good part of their time in the event loop's sockets."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


@app.command()
def worker() -> None:
    """Process inbound events and send the outbox (run several on PostgreSQL)."""
    from hub.runtime import Hub

    settings = _settings()
    config = _config(settings)

    async def main() -> None:
        hub = Hub.build(settings, config)
        await hub.start(workers=True)
        # Everything built so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise stop the event loop for a tenth of a second or more (a
        # send due then leaves late).
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker %s running", hub.dispatcher.worker_id)
        await stop.wait()
        await hub.stop()

    _run_fast(main())


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
    role: Role = typer.Option(Role.AGENT, help="admin, agent, supervisor or marketer"),
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
    role: Role = typer.Option(..., help="admin, agent, supervisor or marketer"),
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


@app.command()
def seed(
    customers: int = typer.Option(..., min=1, help="how many customers to add"),
    messages: int = typer.Option(..., min=1, help="how many messages, spread over their conversations"),
    agents: int = typer.Option(12, min=1, help="agents to assign conversations to (they cannot log in)"),
    random_seed: int = typer.Option(7, "--random-seed", help="same number, same data"),
) -> None:
    """(Load tests) Add synthetic customers, conversations and messages to the database, in the
    shapes the pipeline writes, on the channel accounts of hub.yaml. Adds to what is there."""
    from hub.auth.passwords import hash_password
    from hub.db import Database
    from inbox.seed import SeedPlan
    from inbox.seed import seed as run_seed

    settings = _settings()
    config = _config(settings)
    try:
        plan = SeedPlan(
            customers=customers,
            messages=messages,
            channels=[(name, account.type) for name, account in config.channels.items()],
            agents=agents,
            seed=random_seed,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def main() -> None:
        db = Database(settings.database_url)
        try:
            # Seed agents get a password nobody knows: they exist to be assigned, not to log in.
            unusable = hash_password(secrets.token_urlsafe(24))
            with typer.progressbar(length=messages, label="seeding messages") as bar:
                report = await run_seed(db.transaction, plan, unusable, progress=bar.update)
        finally:
            await db.dispose()
        typer.echo(
            f"added {report.customers} customers, {report.conversations} conversations "
            f"({report.open_conversations} open), {report.messages} messages, {report.agents} agents "
            f"({report.rows} rows)"
        )

    _migrate(settings)
    asyncio.run(main())


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


flows_app = typer.Typer(help="Validate, test, draw and try out the YAML bot flows.", no_args_is_help=True)
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


class DiagramFormat(StrEnum):
    MERMAID = "mermaid"
    SVG = "svg"
    PNG = "png"


def _flow_and_set(flow: str) -> tuple[FlowSet, Flow, HubConfig | None]:
    """FLOW as a flow file (that file alone) or as a flow id of the configured folder (with the
    folder's other valid flows). Problems of the flow itself stop here (exit 1); problems of other
    files in the folder are only mentioned, and those flows are left out."""
    from bots.flows.model import FlowSet
    from bots.flows.validate import collect

    path = Path(flow)
    settings = _settings()
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        # A file stands alone; hub.yaml, when there is one, adds teams and business hours.
        config: HubConfig | None = None
        with contextlib.suppress(ConfigError):
            config = load_config(settings.hub_config)
        if not path.is_file():
            typer.echo(f"error: no flow file {path}", err=True)
            raise typer.Exit(2)
        valid, problems = collect(path, teams=(config.teams or None) if config else None)
        if problems or not valid:
            for problem in problems:
                typer.echo(str(problem), err=True)
            typer.echo(f"error: {path} cannot be loaded; fix the problems above", err=True)
            raise typer.Exit(1)
        return FlowSet(tuple(valid)), valid[0], config
    config = _config(settings)
    valid, problems = collect(config.flows_dir, teams=config.teams or None)
    chosen = next((f for f in valid if f.id == flow), None)
    if chosen is None:
        for problem in problems:
            typer.echo(str(problem), err=True)
        known = ", ".join(f.id for f in valid) or "none"
        typer.echo(
            f"error: {config.flows_dir} has no valid flow {flow!r} (valid flows: {known}); "
            "give a flow id or a flow file",
            err=True,
        )
        raise typer.Exit(1)
    if problems:
        typer.echo(
            f"note: {len(problems)} problem(s) in other flows of {config.flows_dir} "
            "(see `hub flows validate`); those flows are left out",
            err=True,
        )
    return FlowSet(tuple(valid)), chosen, config


@flows_app.command("draw")
def flows_draw(
    flow: str = typer.Argument(..., help="a flow id of flows_dir, or a path to a flow file"),
    diagram_format: DiagramFormat | None = typer.Option(
        None, "--format", help="mermaid (text), svg or png (default: from --output's suffix, else mermaid)"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of standard output"),
) -> None:
    """Draw one flow: Mermaid text, or an SVG picture laid out by omnihub itself."""
    from bots.flows.diagram import to_mermaid, to_svg

    if diagram_format is None:
        suffix = output.suffix.lower() if output is not None else ""
        diagram_format = {".svg": DiagramFormat.SVG, ".png": DiagramFormat.PNG}.get(
            suffix, DiagramFormat.MERMAID
        )
    if diagram_format is DiagramFormat.PNG:
        # An honest no: rasterising needs a renderer (cairo, a browser) omnihub does not depend on.
        typer.echo(
            "error: PNG is not supported; draw an SVG and convert it, e.g. "
            "`hub flows draw FLOW --format svg | rsvg-convert -o flow.png`",
            err=True,
        )
        raise typer.Exit(2)
    _, chosen, _ = _flow_and_set(flow)
    text = to_svg(chosen) if diagram_format is DiagramFormat.SVG else to_mermaid(chosen)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


@flows_app.command("chat")
def flows_chat(
    flow: str = typer.Argument(..., help="a flow id of flows_dir, or a path to a flow file"),
    channel: str = typer.Option("webchat", help="the channel type you write on"),
    locale: str = typer.Option("en", help="your language (en, es, pt-BR...)"),
    name: str = typer.Option("Ana", help="your name as the customer"),
) -> None:
    """Talk to a flow in the terminal as a customer (the real engine, a throwaway database).

    In the chat, /help lists the commands: move the clock, send business events, see the variables.
    """
    from bots.flows import weekly_hours
    from bots.flows.console import chat, terminal
    from bots.flows.templating import is_locale_key
    from channels.registry import known_types

    if channel not in known_types():
        typer.echo(
            f"error: unknown channel type {channel!r}; use one of {', '.join(known_types())}", err=True
        )
        raise typer.Exit(2)
    if not is_locale_key(locale):
        typer.echo(f"error: {locale!r} is not a language code such as en, es or pt-BR", err=True)
        raise typer.Exit(2)
    flows, chosen, config = _flow_and_set(flow)
    configure_logging("WARNING")  # the engine's INFO lines would interleave with the conversation
    hours = None
    if config is not None:
        hours = weekly_hours(config.business_hours.timezone, config.business_hours.weekly)
    asyncio.run(
        chat(
            flows,
            chosen.id,
            terminal(),
            channel=channel,
            locale=locale,
            name=name,
            business_hours=hours,
            default_region=config.default_region if config is not None else None,
            timezone=config.business_hours.timezone if config is not None else None,
        )
    )


if __name__ == "__main__":
    app()


campaigns_app = typer.Typer(
    help="List, launch and follow campaigns (docs/campaigns.md).", no_args_is_help=True
)
app.add_typer(campaigns_app, name="campaigns")


def _with_hub(work):  # type: ignore[no-untyped-def]
    """Run ``work(hub)`` on a hub built from the environment (no workers, no web server)."""
    from hub.runtime import Hub

    settings = _settings()
    config = _config(settings)

    async def main():  # type: ignore[no-untyped-def]
        hub = Hub.build(settings, config)
        await hub.start(workers=False)
        try:
            await hub.sync_definition_files()
            return await work(hub)
        finally:
            await hub.stop()

    return asyncio.run(main())


@campaigns_app.command("list")
def campaigns_list() -> None:
    """Every campaign with its status."""
    from sqlalchemy import select

    from hub.campaigns.models import Campaign

    async def work(hub):  # type: ignore[no-untyped-def]
        async with hub.db.session() as session:
            return list((await session.execute(select(Campaign).order_by(Campaign.id))).scalars())

    for campaign in _with_hub(work):
        typer.echo(f"{campaign.id:<24} {campaign.status.value:<10} {campaign.name}  ({campaign.source})")


@campaigns_app.command("launch")
def campaigns_launch(
    campaign_id: str = typer.Argument(..., help="the campaign's id"),
    plan: bool = typer.Option(
        True, help="plan a `now` campaign here, with a progress bar (else the workers do)"
    ),
) -> None:
    """Launch a draft campaign. A `now` campaign is planned right away: one send row and one outbox
    row per customer, written in batches; the workers send them."""
    import time

    from sqlalchemy import select

    from hub.campaigns.models import CampaignRun
    from hub.campaigns.service import CampaignStateError

    async def work(hub):  # type: ignore[no-untyped-def]
        service = hub.campaigns
        try:
            async with hub.db.transaction() as session:
                campaign = await service.launch(session, campaign_id)
                status = campaign.status.value
        except (CampaignStateError, LookupError, ValueError) as exc:
            typer.echo(f"cannot launch {campaign_id!r}: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"campaign {campaign_id} is {status}")
        if not plan or status != "running":
            return
        async with hub.db.session() as session:
            run_id = (
                await session.execute(select(CampaignRun.id).where(CampaignRun.campaign_id == campaign_id))
            ).scalar_one()
            definition = await service.definition(session, campaign_id)
        # planned/total, percent, rate and ETA, redrawn after every committed batch.
        with typer.progressbar(
            length=1, label="planning", show_pos=True, item_show_func=lambda rate: rate
        ) as bar:
            seen = {"done": 0}
            started = time.monotonic()

            def progress(done: int, total: int) -> None:
                bar.length = max(total, done, 1)
                rate = done / max(time.monotonic() - started, 1e-6)
                bar.current_item = f"{rate:,.0f} customers/s"  # shown by item_show_func
                bar.update(done - seen["done"])
                seen["done"] = done

            run = await service.plan_run(run_id, definition, progress=progress)
        typer.echo(f"planned {run.planned} customers; the workers send them")

    _with_hub(work)


@campaigns_app.command("results")
def campaigns_results(campaign_id: str = typer.Argument(..., help="the campaign's id")) -> None:
    """The funnel per variant: planned, skipped by reason, sent, delivered, read, failed, fell back,
    replied, converted, revenue."""
    import json

    async def work(hub):  # type: ignore[no-untyped-def]
        async with hub.db.session() as session:
            return await hub.campaigns.results(session, campaign_id)

    typer.echo(json.dumps(_with_hub(work), indent=2, ensure_ascii=False))
