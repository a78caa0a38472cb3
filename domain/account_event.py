"""The kinds of row in the account ledger (``account_events``); the account state is recomputed
from them, so each kind says what happened to the balance."""
from __future__ import annotations

from enum import StrEnum


class AccountEventKind(StrEnum):
    CLOSE = "CLOSE"                    # realized P&L of contracts an exit closed (amount NULL: price unknown)
    CLOSE_REVERSED = "CLOSE_REVERSED"  # the exit order failed, so that close did not happen
    ADJUSTMENT = "ADJUSTMENT"          # an operator's P&L correction (fees, manual trades)
    SET_BALANCE = "SET_BALANCE"        # a corrected starting balance
    NEW_DAY = "NEW_DAY"                # an operator-started trading day
