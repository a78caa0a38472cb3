"""The settings' types: immutable pydantic models, built once by config/settings.py from the
environment and read everywhere else (the router, the engines' rule getters, the connectors)."""
from __future__ import annotations

from datetime import time
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from config.live_settings import LiveFirmSettings
from config.routes import RouteRule
from config.time_rules import DEFAULT_TRADING_DAYS, Blackout, TradingWindow

DEFAULT_ENTRY_EVENT_TYPES = ("SIGNAL_CREATED", "ENTRY")
DEFAULT_MAX_CONTRACTS_PER_ORDER = 20
MAX_ORDER_CEILING = 1000  # the same bound as a signal's own `contracts` field

# How long the database may keep a request waiting (database/engine.py DatabaseTimeouts): sized
# so the webhook answers well inside TradingView's 3 s whatever the database does.
DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS = 1500
DEFAULT_DATABASE_LOCK_TIMEOUT_MS = 1000
DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS = 5000
DEFAULT_DATABASE_POOL_TIMEOUT_MS = 1000
DEFAULT_MAX_SIGNAL_AGE_SECONDS = 5

class ConfigError(ValueError):
    """Invalid configuration; `problems` holds one `VARIABLE: what is wrong` line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid configuration:\n  " + "\n  ".join(problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class ProgramSettings(_Frozen):
    """One firm/program (an account): sizing inputs and breach limits. None = rule disabled."""

    firm_code: str
    program_id: int
    account_size: Decimal | None = None
    risk_per_trade: Decimal | None = None
    max_contracts: int | None = None
    max_daily_loss: Decimal | None = None
    max_total_loss: Decimal | None = None
    max_drawdown: Decimal | None = None
    max_consecutive_losses: int | None = None
    """Streak limit (safety/limits.py): entries pause until the next trading day once reached."""
    drawdown_mode: str = "TRAILING"
    """STATIC | TRAILING | TRAILING_UNTIL_START (`{FIRM}_{ID}_DRAWDOWN_MODE`, see account_engine.ledger)."""
    sizing_mode: str = "RISK"
    """RISK | FIXED | ALERT (`{FIRM}_{ID}_SIZING_MODE`, config/sizing_modes.py; the engine: program_engine)."""
    fixed_contracts: int | None = None
    quantity_multiplier: Decimal = Decimal(1)
    allow_no_stop: bool = False
    size_to_room: bool = False
    """`{FIRM}_{ID}_SIZE_TO_ROOM`: a stop-out at the signal's stop must fit the loss limits' room."""
    drawdown_trail: str = "INTRADAY"
    """INTRADAY | END_OF_DAY: where a trailing mode's high-water mark comes from (config/loss_rules.py)."""
    guard_buffer: Decimal | None = None
    """`{FIRM}_{ID}_GUARD_BUFFER`: dollars of loss room at which the account guard flattens the account
    and holds it REDUCING until the next trading day (safety/account_guard.py); None = off."""
    trading_windows: tuple[TradingWindow, ...] = ()
    """`{FIRM}_{ID}_TRADING_WINDOWS` in the firm's trading-day zone; empty = entries at any hour."""
    trading_days: frozenset[int] = DEFAULT_TRADING_DAYS
    """`{FIRM}_{ID}_TRADING_DAYS` (Monday = 0) the windows apply on (config/time_rules.py)."""
    flat_by: time | None = None
    """`{FIRM}_{ID}_FLAT_BY` in the firm's trading-day zone: no entries from it to the next trading day."""
    flatten_before_news: bool = False
    max_trades_per_day: int | None = None
    daily_profit_target: Decimal | None = None
    """`{FIRM}_{ID}_MAX_TRADES_PER_DAY` / `_DAILY_PROFIT_TARGET`: entries pause until the next trading day."""


class FirmSettings(_Frozen):
    """One routed firm: its programs, firm-wide risk rules, mode and trading-day boundary."""

    code: str
    program_ids: tuple[int, ...]
    programs: dict[int, ProgramSettings]
    max_position_size: int | None = None
    max_daily_loss: Decimal | None = None
    max_total_loss: Decimal | None = None
    max_orders_per_minute: int | None = None
    """Velocity limit on entry orders (safety/limits.py); None = off."""
    dry_run: bool = True
    dry_run_source: str = "EXECUTION_DRY_RUN"
    trading_day_start: time
    trading_day_timezone: str
    snapshot_policy: str = "BLOCK"
    """Live mode, stale/failed account snapshot: BLOCK entries or fall back to the LEDGER."""
    snapshot_max_age_seconds: int = 60
    news_blackouts: tuple[Blackout, ...] = ()
    """NEWS_BLACKOUTS / NEWS_BLACKOUTS_FILE, in time order: the same list at every firm."""
    require_stop_and_target: bool = False
    """Live entries without both a stop and a target are refused (`{FIRM}_REQUIRE_STOP_AND_TARGET`,
    default from the firm's compliance profile)."""
    live: LiveFirmSettings = Field(default_factory=LiveFirmSettings)
    """What the firm's live connector needs (config/live_settings.py); checked when routed live."""
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    """Every `{FIRM}_*` value named like a secret (SECRET_SUFFIXES): redacted from logs and from
    what a firm's answers echo, including variables no connector reads."""


class Settings(_Frozen):
    """Everything the service reads from its environment, validated once at start-up."""

    dry_run: bool = True
    route_to_firms: tuple[str, ...] = ()
    routes: tuple[RouteRule, ...] = ()
    """ROUTES: per-signal rules, first match wins; a signal none matches goes to route_to_firms."""
    firms: dict[str, FirmSettings] = Field(default_factory=dict)
    point_value_overrides: dict[str, Decimal] = Field(default_factory=dict)
    entry_event_types: frozenset[str] = frozenset(DEFAULT_ENTRY_EVENT_TYPES)
    database_url: SecretStr | None = None
    sqlite_path: str = "instance/execution_router.db"
    webhook_secret: SecretStr | None = None
    admin_token: SecretStr | None = None
    max_body_bytes: int = 65_536
    max_contracts_per_order: int = DEFAULT_MAX_CONTRACTS_PER_ORDER
    """MAX_CONTRACTS_PER_ORDER: the hard ceiling on every sized order, after every other cap."""
    webhook_allowed_networks: tuple[str, ...] = ()
    """WEBHOOK_ALLOWED_IPS expanded (presets resolved) to CIDR strings; empty = any source."""
    trusted_proxy_count: int = 0
    """TRUSTED_PROXY_COUNT: how many proxies' X-Forwarded-For entries to trust (0 = none)."""
    stuck_task_seconds: int = 120
    max_signal_age_seconds: int = DEFAULT_MAX_SIGNAL_AGE_SECONDS
    """MAX_SIGNAL_AGE_SECONDS: an entry processed later than this after its webhook arrived is
    refused (SKIPPED, SIGNAL_TOO_OLD), never sent late (safety/signal_age.py)."""
    price_max_age_seconds: int = 300
    """PRICE_MAX_AGE_SECONDS: older prices are ignored by /api/realtime-price (config/price_settings.py)."""
    database_statement_timeout_ms: int = DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS
    database_lock_timeout_ms: int = DEFAULT_DATABASE_LOCK_TIMEOUT_MS
    database_idle_in_transaction_timeout_ms: int = DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS
    database_pool_timeout_ms: int = DEFAULT_DATABASE_POOL_TIMEOUT_MS
    """DATABASE_*_TIMEOUT_MS: how long the database may keep a request waiting (database/engine.py)."""
    recovery_interval_seconds: int = 60
    timed_jobs_enabled: bool = True
    """TIMED_JOBS_ENABLED: false keeps this instance from running the flat-by and news jobs (another does)."""
    log_level: str = "INFO"
    log_format: str = "json"
    """`json` (one object per line, secrets redacted) or `text`; LOG_FORMAT."""
    notify_urls: dict[str, SecretStr] = Field(default_factory=dict)
    """Outbound notification webhooks by channel (NOTIFY_*_URL); secret because URLs embed tokens."""
    notify_telegram_chat_id: str | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    """Which variable each effective rule came from, for `check-config`."""

    def firm(self, code: str) -> FirmSettings | None:
        return self.firms.get(code.upper())


# Variables whose value is a secret: never logged, never echoed back (suffixes of `{FIRM}_...`).
SECRET_SUFFIXES = ("API_KEY", "API_SECRET", "PASSWORD", "TOKEN", "SECRET")
