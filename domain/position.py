"""What a trade holds at one firm/program: its side, and whether contracts are still open."""
from __future__ import annotations

from enum import StrEnum


class PositionSide(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"


class PositionStatus(StrEnum):
    OPEN = "OPEN"          # reserved before the entry order, contracts still open
    CLOSED = "CLOSED"      # exits took every contract off
    RELEASED = "RELEASED"  # the entry order failed: nothing was opened, the row keeps the trade from re-opening
