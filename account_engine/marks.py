"""Open positions marked to market: plain data in, the open P&L and where it came from out.

The ledger knows only closed trades; the firms measure loss on equity (realized + open). A mark
is the latest price the price webhook stored for a futures root (web/realtime_price.py); an open
position of that root is worth (mark - entry) x contracts x point value, negated for SHORT
(the same formula as a close, account_engine.ledger.realized_pl). A position without a mark,
an entry price or a known point value adds nothing and is counted as unmarked, so the result
says the figure is partial instead of silently calling it flat.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from account_engine.ledger import realized_pl

MARK = "MARK"
"""Open P&L from the stored marks."""
SNAPSHOT = "SNAPSHOT"
"""Open P&L from the firm's live snapshot."""
NONE = "NONE"
"""No open P&L figure: nothing open, or nothing open could be marked (valued at entry)."""


@dataclass(frozen=True)
class Mark:
    """The latest price of one futures root, at the sender's time."""

    root: str
    price: Decimal
    at: datetime


@dataclass(frozen=True)
class OpenPosition:
    """What marking needs of an open position (one trade at one account)."""

    symbol: str
    side: str
    entry_price: Decimal | None
    contracts: int
    dry_run: bool = False


@dataclass(frozen=True)
class MarkedOpenPL:
    open_pl: Decimal
    source: str  # MARK or NONE
    marked: int  # positions valued at a mark
    unmarked: int  # open positions that could not be (no mark, entry price or point value)
    oldest_mark: datetime | None  # the oldest mark used


def mark_open_positions(positions: Iterable[OpenPosition], marks: Mapping[str, Mark],
                        root_of: Callable[[str], str | None],
                        point_value_of: Callable[[str], Decimal | None]) -> MarkedOpenPL:
    """The open P&L of `positions` at `marks` (by root); `root_of`/`point_value_of` per symbol."""
    total = Decimal(0)
    marked = unmarked = 0
    oldest: datetime | None = None
    for position in positions:
        if position.contracts <= 0:
            continue
        root = root_of(position.symbol)
        mark = marks.get(root) if root is not None else None
        point_value = point_value_of(position.symbol)
        if mark is None or position.entry_price is None or point_value is None:
            unmarked += 1
            continue
        total += realized_pl(position.side, position.entry_price, mark.price, position.contracts, point_value)
        marked += 1
        oldest = mark.at if oldest is None or mark.at < oldest else oldest
    return MarkedOpenPL(total, MARK if marked else NONE, marked, unmarked, oldest)
