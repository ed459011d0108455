"""hub.yaml loading: ${ENV} secrets, and every problem reported with its place, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_config, parse_config


def test_env_references_are_substituted_and_secrets_stay_secret() -> None:
    config = parse_config(
        {
            "public_url": "${PUBLIC:-https://hub.example.com}/",
            "channels": {
                "site": {"type": "webchat"},
                "main": {"type": "telegram", "token": "${TELEGRAM_TOKEN}", "webhook_secret": "${TG_SECRET}"},
            },
        },
        env={"TELEGRAM_TOKEN": "123456:ABCdef", "TG_SECRET": "s3cr3t-value"},
    )
    assert config.public_url == "https://hub.example.com"
    telegram = config.channels["main"]
    assert telegram.token.get_secret_value() == "123456:ABCdef"  # type: ignore[attr-defined]
    assert "123456:ABCdef" not in repr(telegram) and "s3cr3t-value" not in repr(telegram)


def test_every_problem_is_named_with_its_place() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "public_url": "ftp://nope",
                "colour": "blue",
                "channels": {
                    "main": {"type": "telegram", "token": "${MISSING_TOKEN}", "webhook_secret": "ok"},
                    "sms-main": {"type": "fax"},
                    "Bad Name": {"type": "webchat"},
                    "site": {"type": "webchat", "flavour": "mint"},
                    "notype": {"token": "x"},
                },
                "business_hours": {
                    "timezone": "Mars/Olympus",
                    "weekly": {"mon": "18:00-09:00", "funday": "10:00-12:00"},
                },
            },
            env={},
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "public_url: 'ftp://nope' is not an http(s) URL",
        "colour: unknown setting",
        "channels.main.token: environment variable MISSING_TOKEN is not set (see .env.example)",
        "channels.sms-main.type: unknown channel type 'fax'; known types:",
        "channels.Bad Name: account names are lowercase",
        "channels.site.flavour: unknown setting",
        "channels.notype: needs a type",
        "business_hours.timezone: unknown time zone 'Mars/Olympus'",
        "business_hours.weekly.mon: '18:00-09:00' ends before it starts",
        "business_hours.weekly.funday: unknown day",
    ):
        assert expected in problems, f"missing {expected!r} in:\n{problems}"


def test_missing_secret_of_a_provider_channel_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": {"viber-main": {"type": "viber"}}}, env={})
    assert "channels.viber-main.auth_token: required setting is missing" in caught.value.problems


def test_yaml_syntax_errors_give_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("channels:\n  site: {type: webchat\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "line 3" in str(caught.value) or "line 2" in str(caught.value)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


def test_the_shipped_hub_yaml_loads() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "hub.yaml", env={})
    assert config.channels["site"].type == "webchat"
    assert config.business_hours.weekly["mon"] == ((9 * 60, 18 * 60),)


def test_secrets_may_come_from_a_dotenv_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.config import environment

    (tmp_path / ".env").write_text("VIBER_AUTH_TOKEN=from-dotenv\nOTHER=dotenv\n")
    monkeypatch.setenv("OTHER", "from-process")
    env = environment(tmp_path / ".env")
    assert env["VIBER_AUTH_TOKEN"] == "from-dotenv" and env["OTHER"] == "from-process"
    config = parse_config(
        {"channels": {"v": {"type": "viber", "auth_token": "${VIBER_AUTH_TOKEN}"}}}, env=env
    )
    assert config.channels["v"].auth_token.get_secret_value() == "from-dotenv"  # type: ignore[attr-defined]


def test_a_missing_secret_is_reported_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"channels": {"main": {"type": "telegram", "token": "${NOPE}", "webhook_secret": "ok"}}}, env={}
        )
    assert [p for p in caught.value.problems if p.startswith("channels.main")] == [
        "channels.main.token: environment variable NOPE is not set (see .env.example)"
    ]
