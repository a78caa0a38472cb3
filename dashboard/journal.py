"""The trade journal: one row per trade and firm/program, folded from its position and ledger rows.

Pure: rows from database/journal_repository.py and a point value per symbol in, frozen TradeRows
out. The realized P&L is the ledger's own (the router booked each close as (exit - entry) x
contracts x point value when it happened); a reversed close (the firm refused the exit) cancels
its close, and an operator adjustment naming the trade counts for it and settles a close whose
exit price was unknown, exactly as the account ledger reads them (account_engine/ledger.py).
While a close's P&L is unknown the trade's P&L is None ("unknown"), never a partial sum.

R multiple: realized P&L over the risk the entry took, |entry - stop| x contracts x point value,
once the trade is closed. An open trade's realized P&L is what its partial exits booked (None
before any).
Paper (dry-run) and live trades never share a total (`totals`): paper is not money.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Callable, Iterable, Mapping

from domain.account_event import AccountEventKind
from domain.position import PositionStatus


class Outcome(StrEnum):
    WIN = "WIN"
    LOSS = "LOSS"
    BREAKEVEN = "BREAKEVEN"
    OPEN = "OPEN"  # contracts still held (partial exits possible)
    UNKNOWN = "UNKNOWN"  # closed, but a close's P&L is not known yet
    NOT_OPENED = "NOT_OPENED"  # the entry order failed: nothing was opened


class Mode(StrEnum):
    PAPER = "PAPER"  # dry-run: recorded, never sent, not money
    LIVE = "LIVE"


PRICE_STEP = Decimal("0.000001")
"""An average exit is kept to the stored prices' scale (NUMERIC(18,6))."""

CSV_COLUMNS = ("trade_id", "firm_code", "program_id", "symbol", "side", "contracts", "entry_price", "exit_price",
               "realized_pl", "mode")
"""The journal CSV's columns, in order (a public contract)."""


@dataclass(frozen=True)
class Exit:
    """One ledger row against the trade: a close, a reversed close or an adjustment."""

    at: datetime
    kind: str
    contracts: int | None
    price: Decimal | None
    amount: Decimal | None
    reversed: bool  # a close the firm refused (its CLOSE_REVERSED follows)
    task_id: int | None


@dataclass(frozen=True)
class TradeRow:
    position_id: int
    trade_id: str
    firm_code: str
    program_id: int
    symbol: str
    side: str
    strategy: str | None
    mode: Mode
    entered_at: datetime
    entry_price: Decimal | None
    stop_price: Decimal | None
    contracts: int  # opened
    contracts_open: int
    exits: tuple[Exit, ...]
    exit_price: Decimal | None  # contract-weighted over the closes that stand
    realized_pl: Decimal | None
    risk: Decimal | None
    r_multiple: Decimal | None
    outcome: Outcome

    @property
    def closed_at(self) -> datetime | None:
        standing = [x.at for x in self.exits if x.kind == AccountEventKind.CLOSE and not x.reversed]
        return max(standing) if standing else None

    def csv_row(self) -> list[Any]:
        values = {"trade_id": self.trade_id, "firm_code": self.firm_code, "program_id": self.program_id,
                  "symbol": self.symbol, "side": self.side, "contracts": self.contracts,
                  "entry_price": self.entry_price, "exit_price": self.exit_price,
                  "realized_pl": self.realized_pl, "mode": self.mode}
        return [_cell(values[name]) for name in CSV_COLUMNS]


def _cell(value: Any) -> Any:
    """A CSV cell: numbers plain, text safe to open in a spreadsheet (OWASP CSV injection: a cell
    starting with = + - @ or a control character is a formula; prefixed with ' it is text)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _exits(rows: list[Mapping[str, Any]]) -> tuple[Exit, ...]:
    cancelled = {(r["position_id"], r["task_id"]) for r in rows if r["kind"] == AccountEventKind.CLOSE_REVERSED}
    return tuple(Exit(r["occurred_at"], r["kind"], r["contracts"], r["exit_price"], r["amount"],
                      r["kind"] == AccountEventKind.CLOSE and (r["position_id"], r["task_id"]) in cancelled,
                      r["task_id"])
                 for r in rows)


def _realized(exits: tuple[Exit, ...]) -> Decimal | None:
    settled = any(x.kind == AccountEventKind.ADJUSTMENT for x in exits)
    if any(x.kind == AccountEventKind.CLOSE and x.amount is None and not x.reversed for x in exits) and not settled:
        return None
    return sum((x.amount for x in exits if x.amount is not None and not x.reversed
                and x.kind != AccountEventKind.CLOSE_REVERSED), Decimal(0))


def _average_exit(exits: tuple[Exit, ...]) -> Decimal | None:
    priced = [x for x in exits if x.kind == AccountEventKind.CLOSE and not x.reversed and x.price is not None
              and x.contracts]
    total = sum(x.contracts for x in priced)
    return (sum(Decimal(x.price) * x.contracts for x in priced) / total).quantize(PRICE_STEP) if total else None


def _outcome(status: str, contracts_open: int, realized: Decimal | None) -> Outcome:
    if status == PositionStatus.RELEASED:
        return Outcome.NOT_OPENED
    if contracts_open > 0:
        return Outcome.OPEN
    if realized is None:
        return Outcome.UNKNOWN
    return Outcome.WIN if realized > 0 else Outcome.LOSS if realized < 0 else Outcome.BREAKEVEN


def journal_rows(positions: Iterable[Mapping[str, Any]], ledger: Iterable[Mapping[str, Any]],
                 point_value: Callable[[str], Decimal | None]) -> list[TradeRow]:
    """One TradeRow per position (in the order given), with its ledger rows folded in."""
    by_position: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    adjustments: dict[tuple[str, str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for row in ledger:
        if row["kind"] == AccountEventKind.ADJUSTMENT:
            adjustments[(row["trade_id"], row["firm_code"], row["program_id"])].append(row)
        elif row["position_id"] is not None:
            by_position[row["position_id"]].append(row)
    out = []
    for p in positions:
        own = sorted(by_position[p["id"]] + adjustments[(p["trade_id"], p["firm_code"], p["program_id"])],
                     key=lambda r: (r["occurred_at"], r["id"]))
        exits = _exits(own)
        realized = _realized(exits)
        value = point_value(p["symbol"])
        risk = (abs(Decimal(p["entry_price"]) - Decimal(p["stop_price"])) * p["contracts_opened"] * value
                if value is not None and p["entry_price"] is not None and p["stop_price"] is not None else None)
        opened = p["status"] != PositionStatus.RELEASED
        outcome = _outcome(p["status"], p["contracts_open"], realized)
        booked = any(x.kind == AccountEventKind.ADJUSTMENT or (x.kind == AccountEventKind.CLOSE and not x.reversed)
                     for x in exits)
        if not opened or (outcome == Outcome.OPEN and not booked):
            realized = None  # nothing realized yet (or nothing opened)
        out.append(TradeRow(
            position_id=p["id"], trade_id=p["trade_id"], firm_code=p["firm_code"], program_id=p["program_id"],
            symbol=p["symbol"], side=p["side"], strategy=p.get("strategy"),
            mode=Mode.PAPER if p["dry_run"] else Mode.LIVE, entered_at=p["created_at"],
            entry_price=p["entry_price"], stop_price=p["stop_price"],
            contracts=p["contracts_opened"] if opened else 0, contracts_open=p["contracts_open"] if opened else 0,
            exits=exits, exit_price=_average_exit(exits), realized_pl=realized, risk=risk,
            r_multiple=(realized / risk).quantize(Decimal("0.01"))
            if realized is not None and risk and outcome != Outcome.OPEN else None,
            outcome=outcome,
        ))
    return out


def totals(rows: Iterable[TradeRow]) -> dict[str, dict[str, Any]]:
    """Per mode (never mixed): trades, wins, losses, realized P&L (open trades' partial exits too), win rate."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.outcome == Outcome.NOT_OPENED:
            continue
        t = out.setdefault(row.mode, {"trades": 0, "wins": 0, "losses": 0, "breakeven": 0, "open": 0,
                                      "unknown": 0, "realized_pl": Decimal(0)})
        t["trades"] += 1
        key = {Outcome.WIN: "wins", Outcome.LOSS: "losses", Outcome.BREAKEVEN: "breakeven",
               Outcome.OPEN: "open", Outcome.UNKNOWN: "unknown"}[row.outcome]
        t[key] += 1
        if row.realized_pl is not None:
            t["realized_pl"] += row.realized_pl
    for t in out.values():
        decided = t["wins"] + t["losses"] + t["breakeven"]
        t["win_rate"] = round(100.0 * t["wins"] / decided, 2) if decided else None
    return dict(sorted(out.items()))
