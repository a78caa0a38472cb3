"""The account guard's vocabulary: what set it off and how far its flattening got."""
from __future__ import annotations

from enum import StrEnum


class GuardTrigger(StrEnum):
    PRICE = "PRICE"        # a mark from POST /api/realtime-price
    SNAPSHOT = "SNAPSHOT"  # the firm's own account numbers (live snapshot refresh)
    FILL = "FILL"          # an order of ours was booked (an entry opened, an exit realized P&L)


class GuardStatus(StrEnum):
    FLATTENING = "FLATTENING"  # tripped; its exits are being sent (a restart finishes them)
    DONE = "DONE"              # every open position of the account was sent its exit
