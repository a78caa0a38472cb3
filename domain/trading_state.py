"""The operator's switch over what may be sent (NautilusTrader-style trading states)."""
from __future__ import annotations

from enum import StrEnum


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"      # everything is sent
    REDUCING = "REDUCING"  # exits only
    HALTED = "HALTED"      # nothing is sent; signals are still recorded
