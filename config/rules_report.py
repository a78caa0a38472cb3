"""check-config's and the start-up log's lines for the firm rules over time and the firms'
compliance profiles: what each program's windows, flat-by, locks and next blackout are, and what
each firm publishes, with its source and the date it was read."""
from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from config.models import FirmSettings, ProgramSettings, Settings
from config.time_rules import days_text
from prop_firm_registry import get_compliance_profile
from safety.hours import current_window, next_blackout, next_flat_by, next_window_start


def _instant(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ") if at else "-"


def compliance_lines(code: str) -> list[str]:
    """The firm's published rules, one line each: fact, source, checked date, confirmed or not."""
    profile = get_compliance_profile(code)
    if profile is None:
        return []
    lines = [f"  compliance (docs/firm-rules.md; stop and target required: "
             f"{'yes' if profile.stop_and_target_required else 'no'})"]
    for name, fact in profile.facts().items():
        status = "" if fact.confirmed else f" [NOT CONFIRMED: {fact.note}]"
        lines.append(f"    {name:<16} {fact.summary}{status} ({fact.source}, checked {fact.checked.isoformat()})")
    return lines


def program_time_lines(settings: Settings, firm: FirmSettings, program: ProgramSettings, now: datetime) -> list[str]:
    """A program's windows, flat-by, news flattening, daily locks, account guard buffer and the next blackout."""
    src = settings.sources
    key = f"{firm.code}.{program.program_id}"
    lines = []
    if program.trading_windows:
        inside = current_window(firm, program, now)
        state = (f"open until {_instant(inside[1])}" if inside
                 else f"closed, next opens {_instant(next_window_start(firm, program, now))}")
        lines.append(f"    {'trading_windows':<22} {','.join(str(w) for w in program.trading_windows)} "
                     f"{days_text(program.trading_days)} {firm.trading_day_timezone} ({state})  "
                     f"{src.get(key + '.trading_windows')}")
    else:
        lines.append(f"    {'trading_windows':<22} {'off':>12}  (not set: entries at any hour)")
    if program.flat_by is not None:
        lines.append(f"    {'flat_by':<22} {program.flat_by.strftime('%H:%M')} {firm.trading_day_timezone} "
                     f"(next {_instant(next_flat_by(firm, program, now))})  {src.get(key + '.flat_by')}")
    else:
        lines.append(f"    {'flat_by':<22} {'off':>12}  {src.get(key + '.flat_by', '(not set: disabled)')}")
    for rule in ("flatten_before_news", "max_trades_per_day", "daily_profit_target", "guard_buffer"):
        value = getattr(program, rule)
        shown = ("off" if value in (None, False) else "true" if value is True
                 else f"{value:,.2f}" if isinstance(value, Decimal) else str(value))
        lines.append(f"    {rule:<22} {shown:>12}  {src.get(f'{key}.{rule}', '(not set: disabled)')}")
    blackout = next_blackout(firm, now)
    lines.append(f"    {'next_blackout':<22} {str(blackout) if blackout else 'none'}"
                 f"{' (flattens before it)' if blackout and program.flatten_before_news else ''}")
    return lines


def firm_warnings(settings: Settings) -> list[str]:
    """What a trader should know before trading: a firm's published flat-by not applied, and
    live entries the firm's stop-and-target rule will refuse."""
    out: list[str] = []
    for code in settings.route_to_firms:
        firm = settings.firms[code]
        profile = get_compliance_profile(code)
        if profile is None:
            continue
        if profile.flat_by is not None:
            unset = [pid for pid, p in firm.programs.items()
                     if p.flat_by is None and f"{code}.{pid}.flat_by" not in settings.sources]
            if unset:
                out.append(f"{code}: the firm requires flat positions by {profile.flat_by.summary} "
                           f"({profile.flat_by.fact.source}); program(s) {', '.join(map(str, unset))} have no "
                           f"{code}_{{ID}}_FLAT_BY: set it to default (or HH:MM), or off to silence this")
        if firm.require_stop_and_target:
            out.append(f"{code}: live entries without both a stop and a target are refused "
                       f"(STOP_AND_TARGET_REQUIRED; {code}_REQUIRE_STOP_AND_TARGET=false turns it off)")
    return out


def log_firm_rules(settings: Settings, log: logging.Logger) -> None:
    """At start-up: each routed firm's compliance profile, then the warnings above."""
    for code in settings.route_to_firms:
        profile = get_compliance_profile(code)
        if profile is None:
            continue
        facts = "; ".join(f"{name}: {fact.summary}{'' if fact.confirmed else ' (not confirmed)'}"
                          for name, fact in profile.facts().items())
        log.info("%s compliance profile (docs/firm-rules.md): %s", code, facts)
    for warning in firm_warnings(settings):
        log.warning("%s", warning)
