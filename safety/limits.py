"""Velocity and streak limits: pure rules (counts and `now` in, a verdict with a reason out).

Both are off unless configured:
- ``{FIRM}_MAX_ORDERS_PER_MINUTE``: entry orders reserved at the firm in the last 60 s. Exits are
  never limited (blocking an exit leaves risk on).
- ``{FIRM}_{ID}_MAX_CONSECUTIVE_LOSSES``: losing trades in a row at the program within the firm's
  current trading day; once reached, entries pause until the next trading day starts.

What counts as a loss: until the P&L ledger exists, the outcome comes from the event type of the
exit that closed the trade: EXIT_STOP_LOSS = loss, EXIT_TAKE_PROFIT = win (resets the streak),
EXIT_BREAK_EVEN, CANCELLED and EXIT_PARTIAL = neutral (skipped, neither extends nor resets).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

LOSS, WIN, NEUTRAL = "LOSS", "WIN", "NEUTRAL"
VELOCITY_RULE = "MAX_ORDERS_PER_MINUTE"
VELOCITY_WINDOW = dt.timedelta(minutes=1)
"""The span MAX_ORDERS_PER_MINUTE counts entries over (the guard's count and the reservation's)."""
STREAK_RULE = "MAX_CONSECUTIVE_LOSSES"


@dataclass(frozen=True)
class LimitVerdict:
    rule: str
    reason: str
    message: str
    until: dt.datetime | None = None

    def to_dict(self, firm_code: str, program_id: int | None) -> dict[str, Any]:
        return {
            "firm_code": firm_code, "program_id": program_id, "status": "REJECTED", "rule": self.rule,
            "reason": self.reason, "details": self.message,
            "until": self.until.isoformat() if self.until else None,
        }


def exit_outcome(event_type: str) -> str:
    if event_type == "EXIT_STOP_LOSS":
        return LOSS
    if event_type == "EXIT_TAKE_PROFIT":
        return WIN
    return NEUTRAL


def check_velocity(orders_last_minute: int, max_per_minute: int | None) -> LimitVerdict | None:
    if max_per_minute is None or orders_last_minute < max_per_minute:
        return None
    return LimitVerdict(
        VELOCITY_RULE, VELOCITY_RULE,
        f"{orders_last_minute} entry order(s) in the last minute reaches the limit of {max_per_minute}.",
    )


def losing_streak(closing_events_newest_first: Iterable[str]) -> int:
    streak = 0
    for event_type in closing_events_newest_first:
        outcome = exit_outcome(event_type)
        if outcome == WIN:
            break
        if outcome == LOSS:
            streak += 1
    return streak


def check_streak(
    closing_events_newest_first: Iterable[str], max_losses: int | None, next_day_start: dt.datetime
) -> LimitVerdict | None:
    if max_losses is None:
        return None
    streak = losing_streak(closing_events_newest_first)
    if streak < max_losses:
        return None
    return LimitVerdict(
        STREAK_RULE, STREAK_RULE,
        f"{streak} losing trade(s) in a row today reaches the limit of {max_losses}; "
        f"entries resume at the next trading day ({next_day_start.isoformat()}).",
        until=next_day_start,
    )
