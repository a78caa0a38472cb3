"""What keeps a program from trading right now, or soon, for its account card: the account guard's
hold (and its buffer), the trading window, the next flat-by cutoff and the next news blackout.
Read from the same functions the entry checks and the timed jobs use (safety/hours.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from config.models import FirmSettings, ProgramSettings
from database.guard_repository import GuardRepository
from safety.hours import current_window, next_blackout, next_flat_by, next_window_start


def program_rules(guards: GuardRepository, firm: FirmSettings, program: ProgramSettings, at: datetime,
                  live_book: bool) -> dict[str, Any]:
    """The card's rule lines; instants are datetimes (the template shows them in the firm's zone)."""
    latest = guards.latest(firm.code, program.program_id, simulated=None if not live_book else False)
    holding = latest is not None and latest.holds(at)
    window = current_window(firm, program, at) if program.trading_windows else None
    blackout = next_blackout(firm, at)
    return {
        "guard_buffer": float(program.guard_buffer) if program.guard_buffer is not None else None,
        "guard_holding": holding,
        "guard_until": latest.until if holding else None,
        "guard_rule": latest.rule if holding else None,
        "guard_last_trip": latest.tripped_at if latest is not None else None,
        "windows": ",".join(str(w) for w in program.trading_windows) or None,
        "window_open_until": window[1] if window else None,
        "window_next_opens": (next_window_start(firm, program, at) if program.trading_windows and not window
                              else None),
        "next_flat_by": next_flat_by(firm, program, at) if program.flat_by is not None else None,
        "next_blackout": str(blackout) if blackout else None,
        "blackout_start": blackout.start if blackout else None,
        "flattens_before_news": program.flatten_before_news,
    }
