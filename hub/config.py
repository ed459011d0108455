"""The hub's YAML configuration (HUB_CONFIG, default ./hub.yaml): public URL, channel accounts, teams,
business hours, the flows folder.

Secrets are written as ``${ENV_VAR}`` references (``${VAR:-default}`` gives a default) and
substituted from the environment at load time, so the file itself can be committed. Every problem is
reported with its place in the file (``channels.main.token: ...``), all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dotenv import dotenv_values
from pydantic import ValidationError

from channels.registry import UnknownChannelType, spec_for
from channels.spec import ChannelSettings
from hub.campaigns.rules import FrequencyCap, MarketingRules, parse_window

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class ConfigError(ValueError):
    """Everything wrong with a configuration file, one problem a line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class BusinessHours:
    timezone: str = "UTC"
    # day -> list of (start minute, end minute)
    weekly: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class HubConfig:
    public_url: str
    flows_dir: Path
    channels: Mapping[str, ChannelSettings]
    teams: tuple[str, ...] = ()
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    default_region: str | None = None
    marketing: MarketingRules = field(default_factory=MarketingRules)
    # Without bot flows, new conversations go straight to this team (hub/routing.py).
    default_team: str | None = None
    source: str = "<memory>"


def _substitute(value: Any, where: str, env: Mapping[str, str], problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _substitute(v, f"{where}.{k}" if where else str(k), env, problems) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]", env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append(f"{where}: environment variable {name} is not set (see .env.example)")
        return ""

    return _ENV_REF.sub(replace, value)


def _format_validation(where: str, error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        place = f"{where}.{loc}" if loc else where
        if item["type"] == "missing":
            out.append(f"{place}: required setting is missing")
        elif item["type"] == "extra_forbidden":
            out.append(f"{place}: unknown setting")
        else:
            out.append(f"{place}: {item['msg']}")
    return out


def _parse_hours(raw: Any, problems: list[str]) -> BusinessHours:
    if raw is None:
        return BusinessHours()
    if not isinstance(raw, dict):
        problems.append("business_hours: expected a mapping with timezone and weekly")
        return BusinessHours()
    tz = str(raw.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"business_hours.timezone: unknown time zone {tz!r}")
    weekly: dict[str, tuple[tuple[int, int], ...]] = {}
    for day, spans in (raw.get("weekly") or {}).items():
        if day not in _DAYS:
            problems.append(f"business_hours.weekly.{day}: unknown day; use {', '.join(_DAYS)}")
            continue
        parsed = []
        for span in [spans] if isinstance(spans, str) else list(spans or []):
            match = _HOURS.match(str(span).strip())
            if not match:
                problems.append(f"business_hours.weekly.{day}: {span!r} is not of the form HH:MM-HH:MM")
                continue
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if end <= start:
                problems.append(f"business_hours.weekly.{day}: {span!r} ends before it starts")
                continue
            parsed.append((start, end))
        weekly[day] = tuple(parsed)
    return BusinessHours(timezone=tz, weekly=weekly)


def parse_config(data: Any, source: str = "<memory>", env: Mapping[str, str] | None = None) -> HubConfig:
    """Validate a loaded YAML document; ConfigError lists every problem."""
    env = os.environ if env is None else env
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a mapping of settings (public_url, channels, ...)"])
    known = {
        "public_url",
        "flows_dir",
        "channels",
        "teams",
        "business_hours",
        "default_region",
        "marketing",
        "default_team",
    }
    problems.extend(f"{key}: unknown setting" for key in data if key not in known)
    data = _substitute(data, "", env, problems)

    public_url = str(data.get("public_url") or "http://127.0.0.1:8000").rstrip("/")
    if not re.match(r"^https?://[^\s/]+", public_url):
        problems.append(f"public_url: {public_url!r} is not an http(s) URL")

    channels: dict[str, ChannelSettings] = {}
    raw_channels = data.get("channels") or {}
    if not isinstance(raw_channels, dict):
        problems.append("channels: expected a mapping of account name -> settings")
        raw_channels = {}
    for name, settings in raw_channels.items():
        where = f"channels.{name}"
        if not _ACCOUNT_NAME.match(str(name)):
            problems.append(f"{where}: account names are lowercase letters, digits, - and _ (max 64)")
            continue
        if not isinstance(settings, dict) or "type" not in settings:
            problems.append(f"{where}: needs a type (e.g. {{type: webchat}})")
            continue
        if any(p.startswith(f"{where}.") for p in problems):
            # A missing ${VAR} is the problem to report, not what validating the blank says.
            continue
        try:
            spec = spec_for(str(settings["type"]))
        except UnknownChannelType as exc:
            problems.append(f"{where}.type: {exc}")
            continue
        try:
            channels[str(name)] = spec.settings.model_validate(settings)
        except ValidationError as exc:
            problems.extend(_format_validation(where, exc))

    teams_raw = data.get("teams") or []
    if isinstance(teams_raw, dict):
        teams_raw = list(teams_raw)
    teams = tuple(str(t) for t in teams_raw)

    default_team = data.get("default_team")
    if default_team is not None and (not isinstance(default_team, str) or not default_team.strip()):
        problems.append("default_team: expected a team name, e.g. support")
        default_team = None
    elif default_team is not None and teams and default_team not in teams:
        problems.append(f"default_team: {default_team!r} is not one of teams ({', '.join(teams)})")
    hours = _parse_hours(data.get("business_hours"), problems)
    marketing = _parse_marketing(data.get("marketing"), hours.timezone, problems)
    if problems:
        raise ConfigError(source, problems)
    return HubConfig(
        public_url=public_url,
        flows_dir=Path(str(data.get("flows_dir") or "flows")),
        channels=channels,
        teams=teams,
        business_hours=hours,
        default_region=data.get("default_region"),
        marketing=marketing,
        default_team=default_team.strip() if default_team else None,
        source=source,
    )


def _parse_marketing(raw: Any, timezone: str, problems: list[str]) -> MarketingRules:
    """``marketing: {quiet_hours: "21:00-09:00", frequency_cap: {per_day: 2, per_week: 5}}``;
    quiet hours may be ``off``. Customers without a timezone count in business_hours.timezone."""
    if raw is None:
        return MarketingRules(default_timezone=timezone)
    if not isinstance(raw, dict):
        problems.append("marketing: expected {quiet_hours: ..., frequency_cap: ...}")
        return MarketingRules(default_timezone=timezone)
    problems.extend(
        f"marketing.{k}: unknown setting" for k in raw if k not in {"quiet_hours", "frequency_cap"}
    )
    defaults = MarketingRules()
    quiet = defaults.quiet_hours
    if "quiet_hours" in raw:
        if raw["quiet_hours"] in (False, "off", None):
            quiet = None
        else:
            quiet = parse_window(raw["quiet_hours"])
            if quiet is None:
                problems.append(
                    f"marketing.quiet_hours: {raw['quiet_hours']!r} is not a window such as 21:00-09:00"
                )
    cap = defaults.frequency_cap
    if "frequency_cap" in raw:
        value = raw["frequency_cap"]
        if value in (False, "off", None):
            cap = FrequencyCap()
        elif (
            isinstance(value, dict)
            and set(value) <= {"per_day", "per_week"}
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values())
        ):
            cap = FrequencyCap(value.get("per_day"), value.get("per_week"))
        else:
            problems.append(
                "marketing.frequency_cap: {per_day: N, per_week: N} with positive whole numbers, or off"
            )
    return MarketingRules(quiet_hours=quiet, frequency_cap=cap, default_timezone=timezone)


def environment(dotenv: Path = Path(".env")) -> dict[str, str]:
    """The variables ${...} references may use: the .env file's, overridden by the process's."""
    values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} if dotenv.exists() else {}
    return {**values, **os.environ}


def load_config(path: Path, env: Mapping[str, str] | None = None) -> HubConfig:
    """Load and check hub.yaml; ``env`` defaults to .env plus the process environment."""
    env = environment() if env is None else env
    if not path.exists():
        raise ConfigError(str(path), [f"file not found (set HUB_CONFIG or create {path})"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["the file is not UTF-8 text"]) from None
    return parse_config(data, str(path), env)
