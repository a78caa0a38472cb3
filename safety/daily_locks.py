"""Daily locks and the firm's order requirements: pure rules (counts, P&L and `now` in, a verdict
with a reason out), off unless configured.

- `{FIRM}_{ID}_MAX_TRADES_PER_DAY`: entries opened at the program in the firm's trading day. What
  counts is a reservation that was not given back: an order the firm refused or that failed
  before reaching it released its reservation and does not count; a refused signal never made
  one. A live account counts live entries only, a paper account every entry (the ledger's books).
- `{FIRM}_{ID}_DAILY_PROFIT_TARGET`: today's P&L (realized + open, the account view the breach
  checks read) at or above the target. Traders use both for the firms' consistency rules.
Both pause entries until the firm's next trading day starts.
- The firm's stop-and-target requirement (compliance profile, `{FIRM}_REQUIRE_STOP_AND_TARGET`):
  a live entry without both a stop and a target is refused; in dry-run it is only warned about,
  so a trader rehearsing can see what live would refuse.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from domain.entry_rule import EntryRule
from safety.limits import LimitVerdict

# Where an alert's target arrives (the signal's take-profit fields; any one is enough).
TARGET_FIELDS = ("take_profit", "take_profit_points", "take_profit_percent")


def has_target(signal: Any) -> bool:
    """Whether the signal carries a take-profit target in any of its forms."""
    return any(getattr(signal, name, None) not in (None, "", 0) for name in TARGET_FIELDS)


def check_trades_per_day(opened_today: int, limit: int | None, next_day: dt.datetime) -> LimitVerdict | None:
    if limit is None or opened_today < limit:
        return None
    return LimitVerdict(
        EntryRule.MAX_TRADES_PER_DAY, EntryRule.MAX_TRADES_PER_DAY,
        f"{opened_today} trade(s) opened today reaches the limit of {limit}; entries resume at the next "
        f"trading day ({next_day.isoformat()}).",
        until=next_day,
    )


def check_profit_target(day_pl: Decimal | None, target: Decimal | None, next_day: dt.datetime) -> LimitVerdict | None:
    if target is None or day_pl is None or day_pl < target:
        return None
    return LimitVerdict(
        EntryRule.DAILY_PROFIT_TARGET, EntryRule.DAILY_PROFIT_TARGET,
        f"Day P&L {float(day_pl):.2f} (realized + open) reaches the daily profit target {float(target):.2f}; "
        f"entries resume at the next trading day ({next_day.isoformat()}).",
        until=next_day,
    )


def missing_legs(has_stop: bool, target: bool) -> str | None:
    """'stop', 'target', 'stop and target' (what an entry lacks), or None."""
    lacks = [name for name, present in (("stop", has_stop), ("target", target)) if not present]
    return " and ".join(lacks) or None


def check_stop_and_target(firm_code: str, required: bool, live: bool, has_stop: bool,
                          target: bool) -> tuple[LimitVerdict | None, str | None]:
    """(the refusal of a live entry, the warning of a dry-run one) when the firm requires both
    legs and the entry lacks one; (None, None) otherwise."""
    lacks = missing_legs(has_stop, target)
    if not required or lacks is None:
        return None, None
    why = (f"{firm_code} requires every order to carry a stop and a target (docs/firm-rules.md; "
           f"{firm_code}_REQUIRE_STOP_AND_TARGET) and this entry has no {lacks}")
    if not live:
        return None, f"{why}: live, it would be refused."
    return LimitVerdict(EntryRule.STOP_AND_TARGET_REQUIRED, EntryRule.STOP_AND_TARGET_REQUIRED, f"{why}."), None
