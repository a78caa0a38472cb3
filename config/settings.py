"""Typed, immutable settings parsed once from the environment (and an optional `.env` file).

Why a strict parser: the original guide silently parsed bad values to fallbacks, so a typo such as
`FTMO_1_RISK_PER_TRADE=1` (100% of the account per trade) or `ROUTE_TO_FIRMS=FTM0` would start a
service that sizes wrongly or routes nowhere. Here every problem is collected and start-up is
refused with one line per variable (docs/design.md, Decision 2).

Variable names are the guide's public contract: `EXECUTION_DRY_RUN`, `ROUTE_TO_FIRMS`,
`{FIRM}_PROGRAM_IDS`, `{FIRM}_MAX_POSITION_SIZE|MAX_DAILY_LOSS|MAX_TOTAL_LOSS`,
`{FIRM}_{ID}_ACCOUNT_SIZE|RISK_PER_TRADE|MAX_CONTRACTS|MAX_DAILY_LOSS|MAX_TOTAL_LOSS|MAX_DRAWDOWN`,
`{SYMBOL}_POINT_VALUE`. What the live connectors read (API URLs, credentials, account ids, symbol
maps) is typed in config/live_settings.py.
"""
from __future__ import annotations

import os
from datetime import time
from decimal import Decimal
from typing import Annotated, Any, Callable, Mapping, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, TypeAdapter, ValidationError

from config.live_settings import read_live_settings
from config.networks import IP_PRESETS, read_allowed_networks  # noqa: F401 (IP_PRESETS importable from here)
from config.routes import parse_routes
from config.loss_rules import read_drawdown_rules
from config.sizing_modes import read_sizing_mode
from config.price_settings import read_price_settings
from config.time_rules import Blackout, read_blackouts, read_program_time_rules
from config.models import (  # noqa: F401 - the settings' names, importable from here as before
    DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    DEFAULT_DATABASE_LOCK_TIMEOUT_MS,
    DEFAULT_DATABASE_POOL_TIMEOUT_MS,
    DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS,
    DEFAULT_ENTRY_EVENT_TYPES,
    DEFAULT_MAX_CONTRACTS_PER_ORDER,
    DEFAULT_MAX_SIGNAL_AGE_SECONDS,
    MAX_ORDER_CEILING,
    SECRET_SUFFIXES,
    ConfigError,
    FirmSettings,
    ProgramSettings,
    Settings,
)
from instruments import CONTRACT_SPECS
from prop_firm_registry import get_compliance_profile, get_firm_by_code, get_firm_registry

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
SNAPSHOT_POLICIES = ("BLOCK", "LEDGER")  # account_engine.snapshots

PositiveMoney = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
RiskFraction = Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)]
NonNegativeInt = Annotated[int, Field(ge=0, le=100_000)]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

class _Reader:
    """Reads typed values from a string mapping, collecting one problem per bad variable."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def typed(self, name: str, adapter: TypeAdapter[T], what: str) -> T | None:
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return adapter.validate_python(raw)
        except ValidationError as exc:
            detail = exc.errors()[0].get("msg", "invalid value")
            self.problems.append(f"{name}={raw!r}: must be {what} ({detail})")
            return None

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.raw(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self.problems.append(f"{name}={raw!r}: must be true or false")
        return default

    def csv(self, name: str) -> list[str]:
        raw = self.raw(name)
        return [part.strip() for part in raw.split(",") if part.strip()] if raw else []


_MONEY = TypeAdapter(PositiveMoney)
_BUFFER = TypeAdapter(Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), allow_inf_nan=False)])
_FRACTION = TypeAdapter(RiskFraction)
_COUNT = TypeAdapter(NonNegativeInt)
_AGE = TypeAdapter(Annotated[int, Field(ge=1, le=3600)])
_BYTES = TypeAdapter(Annotated[int, Field(ge=1024, le=10_000_000)])
_POS_COUNT = TypeAdapter(Annotated[int, Field(ge=1, le=100_000)])
_ORDER_CEILING = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_ORDER_CEILING)])
_PROXIES = TypeAdapter(Annotated[int, Field(ge=0, le=10)])
_SECONDS = TypeAdapter(Annotated[int, Field(ge=1, le=86_400)])
_INTERVAL = TypeAdapter(Annotated[int, Field(ge=0, le=86_400)])
_MILLIS = TypeAdapter(Annotated[int, Field(ge=100, le=60_000)])
_IDLE_MILLIS = TypeAdapter(Annotated[int, Field(ge=1_000, le=3_600_000)])

def _read_program(r: _Reader, firm: str, pid: int, sources: dict[str, str], day: tuple[time, str],
                  has_blackouts: bool) -> ProgramSettings:
    prefix = f"{firm}_{pid}_"
    fields, sizing_sources = read_sizing_mode(r, prefix)
    sources.update({f"{firm}.{pid}.{name}": variable for name, variable in sizing_sources.items()})
    specs: list[tuple[str, TypeAdapter[Any], str]] = [
        ("ACCOUNT_SIZE", _MONEY, "a positive dollar amount"),
        ("RISK_PER_TRADE", _FRACTION, "a fraction between 0 and 1, e.g. 0.01 for 1%"),
        ("MAX_CONTRACTS", _COUNT, "a whole number of contracts >= 0"),
        ("MAX_DAILY_LOSS", _MONEY, "a positive dollar amount"),
        ("MAX_TOTAL_LOSS", _MONEY, "a positive dollar amount"),
        ("MAX_DRAWDOWN", _MONEY, "a positive dollar amount"),
        ("MAX_CONSECUTIVE_LOSSES", _POS_COUNT, "a whole number of losing trades >= 1"),
    ]
    for suffix, adapter, what in specs:
        value = r.typed(prefix + suffix, adapter, what)
        if value is not None:
            fields[suffix.lower()] = value
            sources[f"{firm}.{pid}.{suffix.lower()}"] = prefix + suffix
    fields.update(read_drawdown_rules(r, firm, pid, sources))
    _read_guard_buffer(r, prefix, fields, sources, f"{firm}.{pid}.guard_buffer")
    fields.update(read_program_time_rules(r, firm, pid, day, has_blackouts, sources))
    if r.raw(prefix + "ACCOUNT_SIZE") is None:
        r.problems.append(f"{prefix}ACCOUNT_SIZE: required, because program {pid} is listed in {firm}_PROGRAM_IDS")
    if r.raw(prefix + "RISK_PER_TRADE") is None and fields["sizing_mode"] == "RISK":
        r.problems.append(f"{prefix}RISK_PER_TRADE: required, because program {pid} is listed in {firm}_PROGRAM_IDS")
    return ProgramSettings(firm_code=firm, program_id=pid, **fields)


def _read_guard_buffer(r: _Reader, prefix: str, fields: dict[str, Any], sources: dict[str, str], key: str) -> None:
    """`{FIRM}_{ID}_GUARD_BUFFER`: it needs a loss limit to measure from, and must be below the
    smallest one (else the guard would flatten an account that has lost nothing)."""
    buffer = r.typed(prefix + "GUARD_BUFFER", _BUFFER, "a dollar amount >= 0")
    if buffer is None:
        return
    limits = {name: fields[name] for name in ("max_daily_loss", "max_total_loss", "max_drawdown") if name in fields}
    if not limits:
        r.problems.append(f"{prefix}GUARD_BUFFER: needs a loss limit to guard ({prefix}MAX_DAILY_LOSS, "
                          f"{prefix}MAX_TOTAL_LOSS or {prefix}MAX_DRAWDOWN)")
        return
    name, smallest = min(limits.items(), key=lambda item: item[1])
    if buffer >= smallest:
        r.problems.append(f"{prefix}GUARD_BUFFER={buffer}: must be below {prefix}{name.upper()}={smallest}, "
                          "or the guard would flatten an account that has lost nothing")
        return
    fields["guard_buffer"], sources[key] = buffer, prefix + "GUARD_BUFFER"


def _read_trading_day(r: _Reader, firm: str) -> tuple[time, str]:
    info = get_firm_by_code(firm)
    assert info is not None
    start, zone = info.trading_day_start, info.trading_day_timezone
    raw_start = r.raw(f"{firm}_TRADING_DAY_START")
    if raw_start is not None:
        try:
            start = time.fromisoformat(raw_start)
        except ValueError:
            r.problems.append(f"{firm}_TRADING_DAY_START={raw_start!r}: must be HH:MM")
    raw_zone = r.raw(f"{firm}_TRADING_DAY_TIMEZONE")
    if raw_zone is not None:
        try:
            ZoneInfo(raw_zone)
            zone = raw_zone
        except (ZoneInfoNotFoundError, ValueError):
            r.problems.append(f"{firm}_TRADING_DAY_TIMEZONE={raw_zone!r}: must be an IANA zone such as America/Chicago")
    return start, zone


def _read_firm(r: _Reader, firm: str, global_dry_run: bool, sources: dict[str, str],
               blackouts: tuple[Blackout, ...]) -> FirmSettings:
    program_ids: list[int] = []
    for raw in r.csv(f"{firm}_PROGRAM_IDS"):
        pid = int(raw) if raw.isdigit() and 0 < int(raw) <= 1_000_000 else None
        if pid is None:
            r.problems.append(f"{firm}_PROGRAM_IDS: {raw!r} is not a positive whole number")
        elif pid in program_ids:
            r.problems.append(f"{firm}_PROGRAM_IDS: program {pid} is listed twice")
        else:
            program_ids.append(pid)
    if not program_ids and r.raw(f"{firm}_PROGRAM_IDS") is None:
        r.problems.append(f"{firm}_PROGRAM_IDS: required, because {firm} is in ROUTE_TO_FIRMS (e.g. {firm}_PROGRAM_IDS=1)")
    firm_fields: dict[str, Any] = {}
    for suffix, adapter, what in (
        ("MAX_POSITION_SIZE", _COUNT, "a whole number of contracts >= 0"),
        ("MAX_DAILY_LOSS", _MONEY, "a positive dollar amount"),
        ("MAX_TOTAL_LOSS", _MONEY, "a positive dollar amount"),
        ("MAX_ORDERS_PER_MINUTE", _POS_COUNT, "a whole number of orders >= 1"),
    ):
        value = r.typed(f"{firm}_{suffix}", adapter, what)
        if value is not None:
            firm_fields[suffix.lower()] = value
            sources[f"{firm}.{suffix.lower()}"] = f"{firm}_{suffix}"
    policy = r.raw(f"{firm}_SNAPSHOT_POLICY")
    if policy is not None:
        if policy.upper() in SNAPSHOT_POLICIES:
            firm_fields["snapshot_policy"] = policy.upper()
        else:
            r.problems.append(f"{firm}_SNAPSHOT_POLICY={policy!r}: must be BLOCK or LEDGER")
    max_age = r.typed(f"{firm}_SNAPSHOT_MAX_AGE_SECONDS", _AGE, "a number of seconds between 1 and 3600")
    if max_age is not None:
        firm_fields["snapshot_max_age_seconds"] = max_age
    dry_run_var = f"{firm}_DRY_RUN"
    has_override = r.raw(dry_run_var) is not None
    start, zone = _read_trading_day(r, firm)
    profile = get_compliance_profile(firm)
    required = profile is not None and profile.stop_and_target_required
    firm_fields["require_stop_and_target"] = r.boolean(f"{firm}_REQUIRE_STOP_AND_TARGET", required)
    if r.raw(f"{firm}_REQUIRE_STOP_AND_TARGET") is not None:
        sources[f"{firm}.require_stop_and_target"] = f"{firm}_REQUIRE_STOP_AND_TARGET"
    prefix = f"{firm}_"
    env = {k[len(prefix):]: v for k, v in r.env.items() if k.startswith(prefix) and v}
    return FirmSettings(
        code=firm,
        program_ids=tuple(program_ids),
        programs={pid: _read_program(r, firm, pid, sources, (start, zone), bool(blackouts)) for pid in program_ids},
        news_blackouts=blackouts,
        dry_run=r.boolean(dry_run_var, global_dry_run),
        dry_run_source=dry_run_var if has_override else "EXECUTION_DRY_RUN",
        trading_day_start=start,
        trading_day_timezone=zone,
        live=read_live_settings(env, tuple(program_ids)),
        secrets={k: SecretStr(v) for k, v in env.items() if k.endswith(SECRET_SUFFIXES)},
        **firm_fields,
    )


def _read_point_values(r: _Reader) -> dict[str, Decimal]:
    overrides: dict[str, Decimal] = {}
    for name in sorted(r.env):
        if not name.endswith("_POINT_VALUE"):
            continue
        root = name[: -len("_POINT_VALUE")]
        spec = CONTRACT_SPECS.get(root)
        if spec is None:
            r.problems.append(f"{name}: unknown symbol {root!r}; known roots: {', '.join(CONTRACT_SPECS)}")
            continue
        value = r.typed(name, _MONEY, "a positive dollar amount per 1.00 point")
        if value is None:
            continue
        if value == spec.tick_value and spec.tick_value != spec.point_value:
            r.problems.append(
                f"{name}={value}: that is {root}'s value per tick ({spec.tick_size} points); the point value "
                f"is dollars per 1.00 point ({spec.point_value}). Remove the variable to use the exchange spec."
            )
            continue
        overrides[root] = value
    return overrides


def _networks(r: _Reader) -> tuple[str, ...]:
    networks, problems = read_allowed_networks(r.csv("WEBHOOK_ALLOWED_IPS"))
    r.problems.extend(problems)
    return networks


def _or_default(value: T | None, default: T) -> T:
    return default if value is None else value


def _read_database_timeouts(r: _Reader) -> dict[str, int]:
    """DATABASE_*_TIMEOUT_MS as Settings fields; a lock wait is part of its statement, so the
    lock timeout may not exceed the statement timeout."""
    what = "a number of milliseconds between 100 and 60000"
    values = {
        "database_statement_timeout_ms": _or_default(
            r.typed("DATABASE_STATEMENT_TIMEOUT_MS", _MILLIS, what), DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS),
        "database_lock_timeout_ms": _or_default(
            r.typed("DATABASE_LOCK_TIMEOUT_MS", _MILLIS, what), DEFAULT_DATABASE_LOCK_TIMEOUT_MS),
        "database_idle_in_transaction_timeout_ms": _or_default(
            r.typed("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", _IDLE_MILLIS,
                    "a number of milliseconds between 1000 and 3600000"),
            DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS),
        "database_pool_timeout_ms": _or_default(
            r.typed("DATABASE_POOL_TIMEOUT_MS", _MILLIS, what), DEFAULT_DATABASE_POOL_TIMEOUT_MS),
    }
    if values["database_lock_timeout_ms"] > values["database_statement_timeout_ms"]:
        r.problems.append(
            f"DATABASE_LOCK_TIMEOUT_MS={values['database_lock_timeout_ms']}: must not exceed DATABASE_STATEMENT_TIMEOUT_MS "
            f"({values['database_statement_timeout_ms']}); a lock wait is part of its statement")
    return values


NOTIFY_CHANNELS = ("WEBHOOK", "DISCORD", "SLACK", "TELEGRAM")
"""`NOTIFY_{CHANNEL}_URL`; the channel decides the body shape (see observability/notifications.py)."""


def _read_notifications(r: _Reader) -> tuple[dict[str, SecretStr], str | None]:
    urls: dict[str, SecretStr] = {}
    for channel in NOTIFY_CHANNELS:
        name = f"NOTIFY_{channel}_URL"
        raw = r.raw(name)
        if raw is None:
            continue
        if not raw.lower().startswith(("http://", "https://")) or len(raw) > 2000:
            r.problems.append(f"{name}: must be an http:// or https:// URL")  # value not echoed: it holds a token
            continue
        urls[channel.lower()] = SecretStr(raw)
    chat_id = r.raw("NOTIFY_TELEGRAM_CHAT_ID")
    if "telegram" in urls and chat_id is None:
        r.problems.append("NOTIFY_TELEGRAM_CHAT_ID: required when NOTIFY_TELEGRAM_URL is set")
    return urls, chat_id


def load_environment(env_file: str | None = ".env") -> dict[str, str]:
    """os.environ over the values of `env_file` (if it exists): the real environment wins."""
    merged: dict[str, str] = {}
    if env_file and os.path.isfile(env_file):
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def parse_settings(env: Mapping[str, str]) -> Settings:
    """Validate a whole environment into Settings, or raise ConfigError naming every bad variable."""
    r = _Reader(env)
    sources: dict[str, str] = {}
    dry_run = r.boolean("EXECUTION_DRY_RUN", True)
    routed: list[str] = []
    for code in (c.upper() for c in r.csv("ROUTE_TO_FIRMS")):
        if code not in get_firm_registry():
            r.problems.append(f"ROUTE_TO_FIRMS: unknown firm {code!r}; known firms: {', '.join(get_firm_registry())}")
        elif code not in routed:
            routed.append(code)
    blackouts = read_blackouts(r)
    firms = {code: _read_firm(r, code, dry_run, sources, blackouts) for code in routed}
    routes, route_problems = parse_routes(r.raw("ROUTES"), {c: f.program_ids for c, f in firms.items()},
                                          tuple(get_firm_registry()))
    r.problems.extend(route_problems)
    entry_types = [t.upper() for t in r.csv("ENTRY_EVENT_TYPES")] or list(DEFAULT_ENTRY_EVENT_TYPES)
    bad_entry = [t for t in entry_types if t not in DEFAULT_ENTRY_EVENT_TYPES]
    if bad_entry:
        r.problems.append(f"ENTRY_EVENT_TYPES: {', '.join(bad_entry)} cannot open trades; allowed: SIGNAL_CREATED, ENTRY")
    log_format = (r.raw("LOG_FORMAT") or "json").lower()
    if log_format not in ("json", "text"):
        r.problems.append(f"LOG_FORMAT={log_format!r}: must be json or text")
    log_level = (r.raw("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:  # logging.setLevel would raise at start-up, naming nothing
        r.problems.append(f"LOG_LEVEL={log_level!r}: must be one of {', '.join(LOG_LEVELS)}")
    notify_urls, telegram_chat_id = _read_notifications(r)
    max_body = r.typed("WEBHOOK_MAX_BODY_BYTES", _BYTES, "a byte count between 1024 and 10000000")
    settings = Settings(
        dry_run=dry_run,
        route_to_firms=tuple(routed),
        routes=routes,
        firms=firms,
        point_value_overrides=_read_point_values(r),
        entry_event_types=frozenset(entry_types),
        database_url=SecretStr(r.raw("DATABASE_URL")) if r.raw("DATABASE_URL") else None,
        sqlite_path=r.raw("SQLITE_PATH") or "instance/execution_router.db",
        webhook_secret=SecretStr(r.raw("WEBHOOK_SECRET")) if r.raw("WEBHOOK_SECRET") else None,
        admin_token=SecretStr(r.raw("ADMIN_TOKEN")) if r.raw("ADMIN_TOKEN") else None,
        max_body_bytes=max_body or 65_536,
        max_contracts_per_order=_or_default(
            r.typed("MAX_CONTRACTS_PER_ORDER", _ORDER_CEILING, f"a whole number of contracts between 1 and {MAX_ORDER_CEILING}"),
            DEFAULT_MAX_CONTRACTS_PER_ORDER),
        webhook_allowed_networks=_networks(r),
        trusted_proxy_count=r.typed("TRUSTED_PROXY_COUNT", _PROXIES, "a whole number of proxies between 0 and 10") or 0,
        stuck_task_seconds=r.typed("STUCK_TASK_SECONDS", _SECONDS, "a number of seconds between 1 and 86400") or 120,
        max_signal_age_seconds=_or_default(
            r.typed("MAX_SIGNAL_AGE_SECONDS", _AGE, "a number of seconds between 1 and 3600"),
            DEFAULT_MAX_SIGNAL_AGE_SECONDS),
        **_read_database_timeouts(r),
        **read_price_settings(r),
        recovery_interval_seconds=_or_default(
            r.typed("RECOVERY_INTERVAL_SECONDS", _INTERVAL, "a number of seconds between 0 (off) and 86400"), 60),
        timed_jobs_enabled=r.boolean("TIMED_JOBS_ENABLED", True),
        log_level=log_level,
        log_format=log_format,
        notify_urls=notify_urls,
        notify_telegram_chat_id=telegram_chat_id,
        sources=sources,
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def load_settings(env: Mapping[str, str] | None = None, env_file: str | None = ".env") -> Settings:
    """Settings from `env` if given (tests), else from os.environ over `.env`."""
    return parse_settings(env if env is not None else load_environment(env_file))


_cached: Settings | None = None


def get_settings(loader: Callable[[], Settings] = load_settings) -> Settings:
    """The process-wide settings, parsed on first use and never re-parsed per signal."""
    global _cached
    if _cached is None:
        _cached = loader()
    return _cached


def set_settings(settings: Settings | None) -> None:
    """Install (or, with None, forget) the process-wide settings; used by create_app and tests."""
    global _cached
    _cached = settings
