"""Planning an exit: for each open position of the trade, the order that closes it (all of it, or
the stated part) or why none is sent, with the price its P&L is booked at. Pure: the router reads
the positions and passes what each firm's connector is (live, dry-run, missing).

A position opened in dry-run is closed here only (simulated P&L) even if its firm went live since:
an order for it would close real contracts of another trade at the firm. A position opened live
whose firm is in dry-run now is left open (close it at the firm).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Mapping

from account_engine.ledger import realized_pl
from connectors import OrderRequest, client_order_id
from database import PositionRecord
from safety.trading_state import blocked_reason, refusal_message
from signals import Signal

SIMULATED_POSITION = "SIMULATED_POSITION"


@dataclass(frozen=True)
class ExitStep:
    """One open position's part of an exit: an order to claim and send, or a refusal."""

    position: PositionRecord
    order: OrderRequest
    refusal: tuple[str, str] | None  # (reason, message): nothing is claimed, nothing sent
    exit_price: Decimal | None
    price_source: str
    point_value: Decimal | None
    local_only: bool  # a simulated position at a firm now live: closed here, no order
    requested_contracts: int | None = None  # exit_contracts, when more than is open (all of it closes)

    def pl_for(self, contracts: int) -> Decimal | None:
        """Realized P&L of closing `contracts` of this position at the exit price (None: unknown)."""
        position = self.position
        if self.exit_price is None or self.point_value is None or position.entry_price is None:
            return None
        return realized_pl(position.side, position.entry_price, self.exit_price, contracts, self.point_value)


def plan_exit(signal: Signal, task_id: int, positions: list[PositionRecord], *, trading_state: str,
              connector_dry_run: Mapping[str, bool], point_values: Mapping[str, Decimal | None]) -> tuple[ExitStep, ...]:
    """Each position's step. `connector_dry_run` has one entry per firm with a connector (its
    dry-run flag); `point_values` the dollar value of a point per symbol (None: unknown)."""
    steps = []
    for position in positions:
        wanted = exit_quantity(signal, position)
        order = OrderRequest(
            action="EXIT", firm_code=position.firm_code, program_id=position.program_id,
            trade_id=signal.trade_id, task_id=task_id, symbol=position.symbol,
            direction=position.side, contracts=wanted, entry_price=signal.exit_price,
            client_order_id=client_order_id(task_id, position.firm_code, position.program_id, "EXIT"),
            entry_client_order_id=position.client_order_id or "", contract=position.firm_contract or "",
        )
        firm_dry = connector_dry_run.get(position.firm_code)
        exit_price, source = exit_price_of(signal, position)
        steps.append(ExitStep(
            position=position, order=order,
            refusal=_refusal(position, wanted, firm_dry, trading_state),
            exit_price=exit_price, price_source=source, point_value=point_values.get(position.symbol),
            local_only=position.dry_run and firm_dry is False,
            requested_contracts=_over_asked(signal, position),
        ))
    return tuple(steps)


def _refusal(position: PositionRecord, wanted: int, firm_dry: bool | None, trading_state: str) -> tuple[str, str] | None:
    if wanted <= 0:
        return "PARTIAL_BELOW_ONE_CONTRACT", f"Partial exit of {position.contracts_open} open contracts rounds to 0."
    if firm_dry is None:
        return "NO_CONNECTOR", f"{position.firm_code} is no longer routed; close it by hand."
    if not position.dry_run and firm_dry:  # opened live, the firm is dry-run now
        return ("LIVE_POSITION_FIRM_IN_DRY_RUN",
                f"Opened live, but {position.firm_code} is in dry-run now: no exit order sent "
                "and the position stays open here; close it at the firm.")
    reason = blocked_reason(trading_state, "EXIT")  # only HALTED stops an exit
    if reason is not None:
        return reason, refusal_message(reason)
    return None


def _over_asked(signal: Signal, position: PositionRecord) -> int | None:
    asked = signal.exit_contracts
    return asked if asked is not None and asked > position.contracts_open else None


def exit_quantity(signal: Signal, position: PositionRecord) -> int:
    """Contracts to close: everything, or for EXIT_PARTIAL the stated part of what is open."""
    open_now = position.contracts_open
    if signal.event_type != "EXIT_PARTIAL":
        return open_now
    if signal.exit_contracts is not None:
        return min(signal.exit_contracts, open_now)
    assert signal.exit_fraction is not None  # the signal model requires one of the two
    return int((Decimal(open_now) * signal.exit_fraction).to_integral_value(rounding=ROUND_FLOOR))


def exit_price_of(signal: Signal, position: PositionRecord) -> tuple[Decimal | None, str]:
    """The price an exit filled at, and where it came from.

    The signal's exit_price when given; otherwise a stop-loss exit is assumed filled at the
    entry's stop, a break-even exit at the entry price; anything else is UNKNOWN (the P&L row is
    written with no amount and the result says so: never a silent zero).
    """
    if signal.exit_price is not None:
        return Decimal(str(signal.exit_price)), "SIGNAL_EXIT_PRICE"
    if signal.event_type == "EXIT_STOP_LOSS" and position.stop_price is not None:
        return position.stop_price, "ENTRY_STOP_LOSS"
    if signal.event_type == "EXIT_BREAK_EVEN" and position.entry_price is not None:
        return position.entry_price, "ENTRY_PRICE"
    return None, "UNKNOWN"
