"""The firm rules over time and the daily locks that refuse an entry: each is the `rule` and
`reason` of its SKIPPED connector result and of its `safety_checks` entry."""
from __future__ import annotations

from enum import StrEnum


class EntryRule(StrEnum):
    OUTSIDE_TRADING_WINDOW = "OUTSIDE_TRADING_WINDOW"      # {FIRM}_{ID}_TRADING_WINDOWS / _TRADING_DAYS
    FLAT_BY_CUTOFF = "FLAT_BY_CUTOFF"                      # {FIRM}_{ID}_FLAT_BY until the next trading day
    NEWS_BLACKOUT = "NEWS_BLACKOUT"                        # NEWS_BLACKOUTS / NEWS_BLACKOUTS_FILE
    MAX_TRADES_PER_DAY = "MAX_TRADES_PER_DAY"              # {FIRM}_{ID}_MAX_TRADES_PER_DAY
    DAILY_PROFIT_TARGET = "DAILY_PROFIT_TARGET"            # {FIRM}_{ID}_DAILY_PROFIT_TARGET
    STOP_AND_TARGET_REQUIRED = "STOP_AND_TARGET_REQUIRED"  # the firm's profile / {FIRM}_REQUIRE_STOP_AND_TARGET
