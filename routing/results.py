"""The result document: one signal's answer and audit row, built once at the end from the
stages' frozen outcomes. Its field names and statuses are the public contract (docs/tradingview.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from connectors import SKIPPED, SUCCESS, ConnectorResult, OrderRequest
from database import PositionRecord
from signals import Signal

DRY_RUN_DETAILS = "ExecutionRouter dry-run: no external order sent."


class ResultDocument(dict):
    """A task's result together with the JSON text stored for it in execution_logs: the webhook
    answers with that text instead of serialising the document a second time."""

    def __init__(self, result: dict[str, Any], json_text: str) -> None:
        super().__init__(result)
        self.json_text = json_text


@dataclass(frozen=True)
class AccountClose:
    """One position's part of an exit: contracts taken off and the P&L booked for them."""

    position: PositionRecord
    contracts: int
    exit_price: Decimal | None
    price_source: str
    point_value: Decimal | None
    amount: Decimal | None
    requested_contracts: int | None = None  # exit_contracts, when more than was open
    reversed: bool = False  # the firm refused the exit: contracts and P&L given back
    sent: bool = True  # False: a simulated position closed here only, no order

    def to_dict(self) -> dict[str, Any]:
        p = self.position
        data = {
            "firm_code": p.firm_code, "program_id": p.program_id, "symbol": p.symbol,
            "side": p.side, "contracts": self.contracts,
            "entry_price": _float(p.entry_price), "exit_price": _float(self.exit_price),
            "price_source": self.price_source, "point_value": _float(self.point_value),
            "realized_pl": _float(self.amount), "pl_status": "KNOWN" if self.amount is not None else "UNKNOWN",
            "simulated": p.dry_run, "reversed": self.reversed,
        }
        if self.requested_contracts is not None:
            data["requested_contracts"] = self.requested_contracts
            data["note"] = (f"exit_contracts {self.requested_contracts} is more than the {p.contracts_open} "
                            f"open: closed the {self.contracts} open.")
        return data


@dataclass(frozen=True)
class Outcome:
    """What a stage decided for the document: every list field it fills, and its details."""

    trading_state: str
    details: str | None
    connector_results: tuple[ConnectorResult, ...] = ()
    safety_checks: tuple[dict[str, Any], ...] = ()
    lists: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # risk_checks, account_closes, ...
    notes: Mapping[str, Any] = field(default_factory=dict)  # fields noted up front, as the stage judged them
    route: Mapping[str, Any] | None = None  # an entry's: the ROUTES rule that matched and its targets

    @property
    def routed(self) -> bool:
        return routed(self.connector_results)


def routed(results: Iterable[ConnectorResult]) -> bool:
    """True only when a firm actually accepted an order."""
    return any(r.status == SUCCESS for r in results)


def blank_result(task_id: int, signal: Signal, dry_run: bool, firm_modes: Mapping[str, str]) -> dict[str, Any]:
    """The document before any stage ran (also what a task that failed early records)."""
    return {
        "routed": False,
        "dry_run": dry_run,
        "event_type": signal.event_type,
        "action": signal.action,
        "trade_id": signal.trade_id,
        "task_id": task_id,
        "details": None,
        "firm_modes": dict(firm_modes),
        "risk_checks": [],
        "program_sizing": [],
        "account_breaches": [],
        "connector_results": [],
        "account_states": [],
        "account_closes": [],
    }


def document(blank: dict[str, Any], noted: Mapping[str, Any] | None, outcome: Outcome) -> dict[str, Any]:
    """The whole result: the blank document, what the caller noted up front, the stage's outcome."""
    result = {**blank, **(noted or {}), **outcome.notes}
    result["trading_state"] = outcome.trading_state
    result["safety_checks"] = list(outcome.safety_checks)
    for name, items in outcome.lists.items():
        result[name] = [_as_dict(item) for item in items]
    result["connector_results"] = [r.to_dict() for r in outcome.connector_results]
    if outcome.route is not None:
        result["route"] = dict(outcome.route)
    result["routed"] = outcome.routed
    result["details"] = outcome.details
    return result


def skipped(order: OrderRequest, reason: str, message: str) -> ConnectorResult:
    """An order decided before any connector saw it."""
    return ConnectorResult(firm_code=order.firm_code, program_id=order.program_id, status=SKIPPED, dry_run=None,
                           reason=reason, message=message, order=order.to_dict())


def entry_details(firm_codes: Iterable[str], orders: Iterable[OrderRequest], results: Iterable[ConnectorResult],
                  dry_run: bool) -> str:
    """One line on what an entry did."""
    if not tuple(firm_codes):
        return "No firms configured in ROUTE_TO_FIRMS: no order sent."
    if not tuple(orders):
        return "No firm/program passed risk, sizing and breach checks: no order sent."
    sent = sum(1 for r in results if r.status == SUCCESS)
    if sent:
        return f"Entry orders sent for {sent} firm/program(s)."
    if dry_run:
        return DRY_RUN_DETAILS
    return "No entry order was accepted; see connector_results."


def exit_details(closes: Iterable[AccountClose], results: Iterable[ConnectorResult], dry_run: bool,
                 exit_contracts: int | None) -> str:
    """One line on what an exit did, and what the trader should know about its P&L."""
    closes = tuple(closes)
    sent = [c for c in closes if c.sent]
    mode = "sent" if routed(results) else "recorded (dry-run, not sent)" if dry_run else "not accepted"
    text = f"Exit of {sum(c.contracts for c in sent)} contract(s) across {len(sent)} firm/program(s) {mode}."
    if any(c.requested_contracts is not None for c in closes):
        text += (f" exit_contracts {exit_contracts} was more than was open: "
                 "closed what was open (see account_closes).")
    unknown = sum(1 for c in closes if c.amount is None)
    if unknown:
        text += (f" P&L UNKNOWN for {unknown} close(s): the signal has no exit_price; "
                 "record it with `flask account adjust ... --trade-id`.")
    return text


def _as_dict(item: Any) -> Any:
    return item.to_dict() if hasattr(item, "to_dict") else item


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
