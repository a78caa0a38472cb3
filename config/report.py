"""`check-config`: the effective routing table in plain text, every rule with its source."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from config.prop_firm_config import route_of
from config.rules_report import compliance_lines, firm_warnings, program_time_lines
from config.settings import Settings
from instruments import CONTRACT_SPECS


def _fmt(value: object) -> str:
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value >= 1 else str(value)
    return str(value)


def _sizing_rules(mode: str) -> tuple[str, ...]:
    """The sizing variables the program's mode reads."""
    return {"FIXED": ("sizing_mode", "fixed_contracts", "allow_no_stop"),
            "ALERT": ("sizing_mode", "quantity_multiplier", "allow_no_stop")}.get(mode, ("sizing_mode",))


def _routes_table(settings: Settings) -> list[str]:
    """ROUTES in the order they are tried, then where a signal no rule matches goes."""
    default = ", ".join(str(t) for t in route_of(settings, None).targets) or "nowhere"
    if not settings.routes:
        return [f"Routes: every signal -> {default} (ROUTE_TO_FIRMS; ROUTES not set)"]
    width = max(len(rule.label) for rule in settings.routes)
    lines = ["Routes (ROUTES; the first matching rule wins):"]
    lines.extend(f"  {rule.label:<{width}}  -> {', '.join(str(t) for t in rule.targets)}" for rule in settings.routes)
    lines.append(f"  {'(no rule matches)':<{width}}  -> {default} (ROUTE_TO_FIRMS)")
    return lines


def routing_table(settings: Settings, now: datetime | None = None) -> str:
    """The table as of `now` (default the current time: the next cutoff and blackout depend on it)."""
    now = now or datetime.now(timezone.utc)
    src = settings.sources
    lines = [
        f"Global mode: {'DRY-RUN' if settings.dry_run else 'LIVE'} (EXECUTION_DRY_RUN)",
        f"Database: {'PostgreSQL (DATABASE_URL)' if settings.database_url else f'SQLite {settings.sqlite_path}'}",
        f"Webhook secret: {'set' if settings.webhook_secret else 'NOT SET'} (WEBHOOK_SECRET)",
        f"Webhook sources: {', '.join(settings.webhook_allowed_networks) or 'any'} (WEBHOOK_ALLOWED_IPS); "
        f"trusted proxies: {settings.trusted_proxy_count} (TRUSTED_PROXY_COUNT)",
        f"Entry event types: {', '.join(sorted(settings.entry_event_types))}",
        f"Routed firms: {', '.join(settings.route_to_firms) or 'none (ROUTE_TO_FIRMS is empty)'}",
    ]
    for code in settings.route_to_firms:
        firm = settings.firms[code]
        lines.append("")
        lines.append(
            f"{code}  mode={'DRY-RUN' if firm.dry_run else 'LIVE'} ({firm.dry_run_source})  "
            f"trading day starts {firm.trading_day_start.strftime('%H:%M')} {firm.trading_day_timezone}"
        )
        for rule in ("max_position_size", "max_daily_loss", "max_total_loss", "max_orders_per_minute"):
            value = getattr(firm, rule)
            lines.append(f"  {rule:<22} {_fmt(value):>12}  {src.get(f'{code}.{rule}', '(not set: disabled)')}")
        lines.append(f"  {'snapshot_policy':<22} {firm.snapshot_policy:>12}  live snapshot stale after "
                     f"{firm.snapshot_max_age_seconds}s ({code}_SNAPSHOT_POLICY / _SNAPSHOT_MAX_AGE_SECONDS)")
        lines.append(f"  {'require_stop_and_target':<22} {_fmt(firm.require_stop_and_target):>12}  "
                     f"{src.get(f'{code}.require_stop_and_target', '(the firm profile)')}")
        lines.extend(compliance_lines(code))
        for pid, program in firm.programs.items():
            lines.append(f"  program {pid}")
            for rule in ("account_size", "risk_per_trade", "max_contracts", "max_daily_loss", "max_total_loss", "max_drawdown",
                         "max_consecutive_losses"):
                value = getattr(program, rule)
                lines.append(f"    {rule:<22} {_fmt(value):>12}  {src.get(f'{code}.{pid}.{rule}', '(not set: disabled)')}")
            for rule in ("drawdown_mode", "drawdown_trail"):
                lines.append(f"    {rule:<22} {getattr(program, rule):>12}  {src.get(f'{code}.{pid}.{rule}', '(default)')}")
            lines.extend(program_time_lines(settings, firm, program, now))
            for rule in _sizing_rules(program.sizing_mode):
                value = getattr(program, rule)
                lines.append(f"    {rule:<22} {_fmt(value):>12}  {src.get(f'{code}.{pid}.{rule}', '(default)')}")
    lines.append("")
    lines.extend(_routes_table(settings))
    blackouts = next(iter(settings.firms.values())).news_blackouts if settings.firms else ()
    lines.append("")
    lines.append(f"News blackouts: {len(blackouts)} (NEWS_BLACKOUTS / NEWS_BLACKOUTS_FILE)")
    warnings = firm_warnings(settings)
    if warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"  {warning}" for warning in warnings)
    lines.append("")
    lines.append("Point values ($ per 1.00 point):")
    for root, spec in CONTRACT_SPECS.items():
        override = settings.point_value_overrides.get(root)
        lines.append(f"  {root:<4} {override if override is not None else spec.point_value:>8}  "
                     f"{f'{root}_POINT_VALUE' if override is not None else 'exchange spec'}")
    return "\n".join(lines)
