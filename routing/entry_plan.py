"""Planning an entry: the signal, the settings and the accounts' state in, every verdict and the
orders to send out. Pure: no database, no clock, no connector; the router gathers the inputs.

The signal's route (ROUTES, else ROUTE_TO_FIRMS) picks the firm/programs; then risk rules per
firm, sizing and breach rules per account; an account gets an order only when all three approve.
Programs of one firm share its position limit, in the order they are listed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from account_engine import evaluate_account_breach
from account_engine.loss_room import loss_room
from account_service import AccountView, FirmAccounts
from config import RuleBook
from config.routes import Route
from connectors import OrderRequest, client_order_id
from engine_common.statuses import ReasonCode, VerdictStatus
from engine_common.rules import BreachRules
from engine_common.verdict import ProgramVerdict, SizingVerdict, Verdict
from program_engine import calculate_program_sizing
from risk_engine import evaluate_risk
from signals import Signal


@dataclass(frozen=True)
class EntryPlan:
    """Every verdict of one entry, in evaluation order, and the orders they allow."""

    firm_codes: tuple[str, ...]
    route: Route
    account_states: tuple[AccountView, ...]
    risk_checks: tuple[Verdict, ...]
    program_sizing: tuple[SizingVerdict, ...]
    account_breaches: tuple[ProgramVerdict, ...]
    orders: tuple[OrderRequest, ...]


def plan_entry(signal: Signal, rules: RuleBook, task_id: int, accounts: Mapping[str, FirmAccounts]) -> EntryPlan:
    """The verdicts and orders for `signal` under `rules` (the settings' rules); `accounts` holds
    the state of every firm the signal's route names."""
    payload = signal.payload()
    route = rules.routes_for(signal)
    states: list[AccountView] = []
    risks: list[Verdict] = []
    sizings: list[SizingVerdict] = []
    breaches: list[ProgramVerdict] = []
    orders: list[OrderRequest] = []
    for firm_code in route.firm_codes:
        firm = accounts[firm_code]
        program_ids = route.program_ids[firm_code]
        states.extend(firm.views[pid] for pid in program_ids if pid in firm.views)
        risk_rules = rules.risk(firm_code)
        risk = evaluate_risk(firm_code, risk_rules, payload, {"open_contracts": firm.open_contracts, **firm.firm_metrics})
        risks.append(risk)
        if not risk.approved:
            continue
        capacity = None
        if risk_rules.max_position_size is not None:
            capacity = max(0, risk_rules.max_position_size - firm.open_contracts)
        for program_id in program_ids:
            scaling = rules.scaling(firm_code, program_id)
            if capacity is not None:
                scaling = dataclasses.replace(scaling, position_capacity=capacity)
            if scaling.size_to_room:
                room = loss_room(firm.program_metrics.get(program_id, {}), rules.breach(firm_code, program_id))
                if room is not None:
                    scaling = dataclasses.replace(scaling, loss_room=room[0], loss_room_rule=room[1])
            sizing = calculate_program_sizing(firm_code, program_id, scaling, payload)
            sizings.append(sizing)
            breach = check_breach(firm_code, program_id, firm.views.get(program_id),
                                  firm.program_metrics.get(program_id, {}), rules)
            breaches.append(breach)
            if sizing.approved and sizing.contracts > 0 and breach.approved:
                orders.append(_entry_order(signal, task_id, firm_code, program_id, sizing.contracts))
                if capacity is not None:  # programs of one firm share its position limit
                    capacity -= sizing.contracts
    return EntryPlan(route.firm_codes, route, tuple(states), tuple(risks), tuple(sizings), tuple(breaches), tuple(orders))


def check_breach(firm_code: str, program_id: int, view: AccountView | None, metrics: Mapping[str, Any],
                 rules: RuleBook) -> ProgramVerdict:
    """The breach engine on the account's state; a blocked live snapshot is an ERROR (fail closed)."""
    if view is not None and view.blocked:
        return ProgramVerdict(
            firm_code=firm_code, program_id=program_id, status=VerdictStatus.ERROR,
            rule=ReasonCode.ACCOUNT_SNAPSHOT_UNAVAILABLE,
            reason=(f"Live account snapshot unusable ({view.snapshot_problem}); "
                    f"{firm_code}_SNAPSHOT_POLICY=BLOCK blocks entries."),
            details={"snapshot_problem": view.snapshot_problem, "source": view.source},
        )
    return evaluate_account_breach(firm_code, program_id, dict(metrics), rules.breach(firm_code, program_id))


def _entry_order(signal: Signal, task_id: int, firm_code: str, program_id: int, contracts: int) -> OrderRequest:
    return OrderRequest(
        action="ENTRY", firm_code=firm_code, program_id=program_id, trade_id=signal.trade_id,
        task_id=task_id, symbol=signal.symbol_root or "", direction=signal.direction or "",
        contracts=contracts, entry_price=signal.entry_price, stop_loss=signal.stop_loss,
        take_profit=signal.target_price,
        client_order_id=client_order_id(task_id, firm_code, program_id, "ENTRY"),
    )
