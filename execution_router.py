"""ExecutionRouter: one signal through risk -> sizing -> breach -> connectors -> one audit row.

Order of durable writes (the audit trail survives a crash at any point):
1. the execution_tasks row is committed as PENDING before anything else happens;
2. it is set PROCESSING before the first check;
3. for an entry, each allowed firm/program's position is *reserved* in trade_positions (unique per
   trade/firm/program, so a trade can never open twice at one account) before its order is sent;
4. one transaction writes the execution_logs row with the whole result and sets the task
   COMPLETED (or FAILED with the error).

Engines are pure; this module only gathers their inputs, calls them and applies their verdicts.
A check that errors blocks its firm/program (fail closed, DESIGN.md Decision 1).
"""
from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Callable

from account_engine import evaluate_account_breach
from config import (
    Settings,
    get_account_breach_rules,
    get_firm_risk_rules,
    get_program_scaling_rules,
    get_routing_rules_for_task,
    get_settings,
)
from connectors import (
    FAILED,
    SKIPPED,
    SUCCESS,
    BaseConnector,
    ConnectorResult,
    OrderRequest,
    build_connectors,
    client_order_id,
)
from database import ExecutionRepository, PositionRecord
from observability.task_context import bind_task
from program_engine import calculate_program_sizing
from risk_engine import evaluate_risk
from signals import ENTRY_TYPES, EXIT_TYPES, Signal, parse_signal

log = logging.getLogger(__name__)

APPROVED = "APPROVED"
DRY_RUN_DETAILS = "ExecutionRouter dry-run: no external order sent."


class ExecutionRouter:
    """Routes validated signals to every configured firm/program and records the outcome."""

    def __init__(
        self,
        dry_run: bool | None = None,
        *,
        settings: Settings | None = None,
        repository: ExecutionRepository | None = None,
        connectors: dict[str, BaseConnector] | None = None,
    ):
        self.settings = settings if settings is not None else get_settings()
        # An explicit dry_run=True forces every firm dry; None follows EXECUTION_DRY_RUN/{FIRM}_DRY_RUN.
        self.force_dry_run = dry_run is True
        self.connectors = connectors if connectors is not None else build_connectors(self.settings, self.force_dry_run)
        routed = [self.settings.firms[code] for code in self.settings.route_to_firms]
        self.dry_run = self.force_dry_run or (all(f.dry_run for f in routed) if routed else self.settings.dry_run)
        self._repository = repository
        self._pool: ThreadPoolExecutor | None = None
        log.info("ExecutionRouter initialized with dry_run=%s", self.dry_run)

    # ---- public API (the guide's names) -------------------------------------------------------
    @property
    def repository(self) -> ExecutionRepository:
        """Lazily built from settings, so `ExecutionRouter(dry_run=True)` works on its own."""
        if self._repository is None:
            from database import create_db_engine, upgrade_to_head

            url = self.settings.database_url.get_secret_value() if self.settings.database_url else None
            engine = create_db_engine(url, self.settings.sqlite_path)
            upgrade_to_head(engine)
            self._repository = ExecutionRepository(engine)
        return self._repository

    def route(self, payload: dict[str, Any] | Signal, raw_payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Dispatch any signal by its event type."""
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        if signal.event_type in self.settings.entry_event_types:
            return self._handle_task(signal, raw_payload, self._process_entry)
        if signal.event_type in EXIT_TYPES:
            return self._handle_task(signal, raw_payload, self._process_exit)
        return self._handle_task(signal, raw_payload, self._process_info)

    def handle_entry_signal(self, payload: dict[str, Any] | Signal) -> dict[str, Any]:
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        if signal.event_type not in ENTRY_TYPES:
            raise ValueError(f"{signal.event_type} is not an entry event")
        return self.route(signal, payload if isinstance(payload, dict) else None)

    def handle_exit_signal(self, payload: dict[str, Any] | Signal) -> dict[str, Any]:
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        if signal.event_type not in EXIT_TYPES:
            raise ValueError(f"{signal.event_type} is not an exit event")
        return self.route(signal, payload if isinstance(payload, dict) else None)

    def handle_mfe_update(self, payload: dict[str, Any] | Signal) -> dict[str, Any]:
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        return self._handle_task(signal, payload if isinstance(payload, dict) else None, self._process_info)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    # ---- task lifecycle ------------------------------------------------------------------------
    def _handle_task(
        self,
        signal: Signal,
        raw_payload: dict[str, Any] | None,
        process: Callable[[int, Signal, dict[str, Any]], None],
    ) -> dict[str, Any]:
        repo = self.repository
        stored = raw_payload if raw_payload is not None else signal.payload()
        task_id = repo.create_task(signal.trade_id, signal.event_type, stored)
        bind_task(task_id=task_id, trade_id=signal.trade_id)  # every log line from here names the task
        repo.set_task_status(task_id, "PROCESSING")
        result = self._empty_result(task_id, signal)
        try:
            process(task_id, signal, result)
        except Exception as exc:  # the task must end FAILED with its error, never stay PROCESSING
            log.exception("task %s failed", task_id)
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["details"] = "Task failed; see error. No further orders were sent for it."
            repo.finish_task(task_id, "FAILED", result, error=result["error"])
            return result
        repo.finish_task(task_id, "COMPLETED", result)
        return result

    def _empty_result(self, task_id: int, signal: Signal) -> dict[str, Any]:
        return {
            "routed": False,
            "dry_run": self.dry_run,
            "event_type": signal.event_type,
            "action": signal.action,
            "trade_id": signal.trade_id,
            "task_id": task_id,
            "details": None,
            "firm_modes": {code: ("DRY_RUN" if c.dry_run else "LIVE") for code, c in self.connectors.items()},
            "risk_checks": [],
            "program_sizing": [],
            "account_breaches": [],
            "connector_results": [],
        }

    # ---- entry ---------------------------------------------------------------------------------
    def _process_entry(self, task_id: int, signal: Signal, result: dict[str, Any]) -> None:
        firm_codes, meta = get_routing_rules_for_task(signal.payload(), self.settings)
        task_payload = signal.payload()
        allowed: list[tuple[str, int, int]] = []
        for firm_code in firm_codes:
            open_contracts = self.repository.open_contracts_for_firm(firm_code)
            metrics = {"open_contracts": open_contracts, **self._get_account_metrics_for_firm(firm_code)}
            risk_rules = get_firm_risk_rules(firm_code, self.settings)
            risk = evaluate_risk(firm_code, risk_rules, task_payload, metrics)
            result["risk_checks"].append(risk.to_dict())
            if risk.status != APPROVED:
                continue
            capacity = None
            if risk_rules.get("max_position_size") is not None:
                capacity = max(0, int(risk_rules["max_position_size"]) - open_contracts)
            for program_id in meta["program_ids"].get(firm_code, []):
                scaling = get_program_scaling_rules(firm_code, program_id, self.settings)
                if capacity is not None:
                    scaling["position_capacity"] = capacity
                sizing = calculate_program_sizing(firm_code, program_id, scaling, task_payload)
                result["program_sizing"].append(sizing.to_dict())
                breach = evaluate_account_breach(
                    firm_code, program_id,
                    self._get_account_metrics_for_program(firm_code, program_id),
                    get_account_breach_rules(firm_code, program_id, self.settings),
                )
                result["account_breaches"].append(breach.to_dict())
                if sizing.status == APPROVED and sizing.contracts > 0 and breach.status == APPROVED:
                    allowed.append((firm_code, program_id, sizing.contracts))
                    if capacity is not None:  # programs of one firm share its position limit
                        capacity -= sizing.contracts
        orders = []
        for firm_code, program_id, contracts in allowed:
            order = OrderRequest(
                action="ENTRY", firm_code=firm_code, program_id=program_id, trade_id=signal.trade_id,
                task_id=task_id, symbol=signal.symbol_root or "", direction=signal.direction or "",
                contracts=contracts, entry_price=signal.entry_price, stop_loss=signal.stop_loss,
                client_order_id=client_order_id(task_id, firm_code, program_id, "ENTRY"),
            )
            orders.append(order)
        result["connector_results"] = self._send_entries(orders, signal)
        result["routed"] = any(r["status"] == SUCCESS for r in result["connector_results"])
        result["details"] = self._entry_details(firm_codes, allowed, result)

    def _send_entries(self, orders: list[OrderRequest], signal: Signal) -> list[dict[str, Any]]:
        """Reserve each position, then send; a failed send releases its reservation."""
        reserved: list[tuple[OrderRequest, PositionRecord]] = []
        results: list[dict[str, Any] | None] = []
        for order in orders:
            connector = self.connectors.get(order.firm_code)
            if connector is None:
                results.append(_skipped(order, "NO_CONNECTOR", f"{order.firm_code} has no order connector (metadata only)."))
                continue
            position = self.repository.open_position(
                trade_id=order.trade_id, firm_code=order.firm_code, program_id=order.program_id,
                symbol=order.symbol, side=order.direction, contracts=order.contracts,
                entry_price=order.entry_price, stop_price=order.stop_loss, task_id=order.task_id,
                client_order_id=order.client_order_id, dry_run=connector.dry_run,
            )
            if position is None:
                results.append(_skipped(order, "TRADE_ALREADY_OPENED",
                                        f"Trade {order.trade_id} already opened at {order.firm_code} program {order.program_id}."))
                continue
            reserved.append((order, position))
            results.append(None)
        sent = self._call_connectors([(o, self.connectors[o.firm_code].send_entry_order) for o, _ in reserved])
        for (order, position), outcome in zip(reserved, sent):
            if outcome.status in (FAILED,):
                self.repository.release_position(position.id)
        it = iter(sent)
        return [r if r is not None else next(it).to_dict() for r in results]

    def _entry_details(self, firm_codes: list[str], allowed: list[tuple[str, int, int]], result: dict[str, Any]) -> str:
        if not firm_codes:
            return "No firms configured in ROUTE_TO_FIRMS: no order sent."
        if not allowed:
            return "No firm/program passed risk, sizing and breach checks: no order sent."
        if result["routed"]:
            sent = sum(1 for r in result["connector_results"] if r["status"] == SUCCESS)
            return f"Entry orders sent for {sent} firm/program(s)."
        if self.dry_run:
            return DRY_RUN_DETAILS
        return "No entry order was accepted; see connector_results."

    # ---- exit ----------------------------------------------------------------------------------
    def _process_exit(self, task_id: int, signal: Signal, result: dict[str, Any]) -> None:
        positions = self.repository.open_positions_for_trade(signal.trade_id)
        if not positions:
            if self.repository.has_position_history(signal.trade_id):
                result["details"] = f"Trade {signal.trade_id} has nothing left open: no exit order sent."
            else:
                result["details"] = f"Trade {signal.trade_id} opened no position: no exit order sent."
            return
        claimed: list[tuple[OrderRequest, PositionRecord, int]] = []
        results: list[dict[str, Any] | None] = []
        for position in positions:
            wanted = _exit_quantity(signal, position)
            order = OrderRequest(
                action="EXIT", firm_code=position.firm_code, program_id=position.program_id,
                trade_id=signal.trade_id, task_id=task_id, symbol=position.symbol,
                direction=position.side, contracts=wanted, entry_price=signal.exit_price,
                client_order_id=client_order_id(task_id, position.firm_code, position.program_id, "EXIT"),
            )
            connector = self.connectors.get(position.firm_code)
            if wanted <= 0:
                results.append(_skipped(order, "PARTIAL_BELOW_ONE_CONTRACT",
                                        f"Partial exit of {position.contracts_open} open contracts rounds to 0."))
                continue
            if connector is None:
                results.append(_skipped(order, "NO_CONNECTOR", f"{position.firm_code} is no longer routed; close it by hand."))
                continue
            taken = self.repository.reduce_position(position.id, wanted)
            if taken <= 0:  # a concurrent exit closed it first
                results.append(_skipped(order, "ALREADY_CLOSED", "Position was closed by another exit."))
                continue
            if taken != wanted:
                order = OrderRequest(**{**order.__dict__, "contracts": taken})
            claimed.append((order, position, taken))
            results.append(None)
        sent = self._call_connectors([(o, self.connectors[o.firm_code].send_exit_order) for o, _, _ in claimed])
        for (order, position, taken), outcome in zip(claimed, sent):
            if outcome.status == FAILED:  # nothing was closed at the firm: keep the position open
                self.repository.restore_position(position.id, taken)
        it = iter(sent)
        result["connector_results"] = [r if r is not None else next(it).to_dict() for r in results]
        result["routed"] = any(r["status"] == SUCCESS for r in result["connector_results"])
        closed = sum(o.contracts for o, _, _ in claimed)
        mode = "sent" if result["routed"] else "recorded (dry-run, not sent)" if self.dry_run else "not accepted"
        result["details"] = f"Exit of {closed} contract(s) across {len(claimed)} firm/program(s) {mode}."

    # ---- informational ---------------------------------------------------------------------------
    def _process_info(self, task_id: int, signal: Signal, result: dict[str, Any]) -> None:
        if signal.event_type == "MFE_UPDATE_BATCH":
            items = getattr(signal, "signals", None)
            count = len(items) if isinstance(items, list) else 0
            result["details"] = f"MFE batch of {count} update(s) recorded; no order sent."
        else:
            result["details"] = f"{signal.event_type} recorded; no order sent."

    # ---- helpers ---------------------------------------------------------------------------------
    def _call_connectors(self, calls: list[tuple[OrderRequest, Callable[[OrderRequest], ConnectorResult]]]) -> list[ConnectorResult]:
        """Dry-run calls inline (they are pure); live calls fan out in parallel."""
        if len(calls) <= 1 or all(self.connectors[o.firm_code].dry_run for o, _ in calls):
            return [call(order) for order, call in calls]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="connector")
        # Each connector thread gets a copy of the request's context, so its log lines name the task.
        futures = [self._pool.submit(contextvars.copy_context().run, call, order) for order, call in calls]
        return [f.result() for f in futures]

    def _get_account_metrics_for_firm(self, firm_code: str) -> dict[str, Any]:
        """Firm-level P&L for the risk engine's loss rules; empty until the account ledger exists."""
        return {}

    def _get_account_metrics_for_program(self, firm_code: str, program_id: int) -> dict[str, Any]:
        """Account P&L for the breach engine; empty (rules approve: no data) until the ledger exists."""
        return {}


def _skipped(order: OrderRequest, reason: str, message: str) -> dict[str, Any]:
    return ConnectorResult(
        firm_code=order.firm_code, program_id=order.program_id, status=SKIPPED, dry_run=None,
        reason=reason, message=message, order=order.to_dict(),
    ).to_dict()


def _exit_quantity(signal: Signal, position: PositionRecord) -> int:
    """Contracts to close: everything, or for EXIT_PARTIAL the stated part of what is open."""
    open_now = position.contracts_open
    if signal.event_type != "EXIT_PARTIAL":
        return open_now
    if signal.exit_contracts is not None:
        return min(signal.exit_contracts, open_now)
    assert signal.exit_fraction is not None  # the signal model requires one of the two
    return int((Decimal(open_now) * signal.exit_fraction).to_integral_value(rounding=ROUND_FLOOR))
