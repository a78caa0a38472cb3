"""ExecutionRouter: one signal through the guide's data flow, as plain stages.

    record the task -> plan (pure) -> send -> finish

- record: the execution_tasks row is committed PENDING before anything else (routing/tasks.py);
- plan: an entry's risk, sizing and breach verdicts (routing/entry_plan.py), an exit's part per
  open position (routing/exit_plan.py) - pure functions of the signal, the settings and the
  account states the router read at one instant;
- send: reserve or claim each account's part, journal, dispatch, give back what a firm refused
  (routing/sending.py, the only place orders leave);
- finish: one execution_logs row with the whole result, and the task COMPLETED or FAILED.

A check that errors blocks its firm/program (fail closed, docs/design.md, decision 1).
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any, Callable

from account_service import AccountService, utc_now
from account_engine.snapshots import SnapshotProvider
from config import RuleBook, Settings, get_settings
from connectors import BaseConnector, ConnectorResult, OrderStatus, build_connectors
from connectors.reconcile import Outcome as ReconcileObserver, Reconciler
from database import ExecutionRepository
from database.entry_inputs import EntryInputs
from database.ledger_repository import LedgerRepository
from database.price_repository import PriceRepository
from database.unit_of_work import Connections
from instruments import get_contract_spec
from routing.entry_plan import plan_entry
from routing.exit_plan import plan_exit
from routing.results import Outcome, entry_details, exit_details
from routing.sending import OrderDesk
from routing.tasks import Process, TaskRunner
from safety.account_guard import AccountGuard
from safety.flattening import flatten_scope
from safety.exit_resend import ResendPlan
from safety.firm_rules import EntryContext
from safety.guard import SafetyGuard
from safety.signal_age import SignalReceipt, receipt
from signals import ENTRY_TYPES, EXIT_TYPES, Signal, parse_signal
from signals.trade_identity import NO_TRADE_FIELD

log = logging.getLogger(__name__)

Accounts = frozenset[tuple[str, int]]
"""(firm_code, program_id) pairs an exit is limited to."""


class ExecutionRouter(TaskRunner):
    """Routes validated signals to the firm/programs their route names and records the outcome."""

    def __init__(
        self,
        dry_run: bool | None = None,
        *,
        settings: Settings | None = None,
        repository: ExecutionRepository | None = None,
        connectors: dict[str, BaseConnector] | None = None,
        clock: Callable[[], datetime] | None = None,
        snapshot_provider: SnapshotProvider | None = None,
        accounts: AccountService | None = None,
    ):
        self.settings = settings if settings is not None else get_settings()
        self.rules = RuleBook(self.settings)
        # An explicit dry_run=True forces every firm dry; None follows EXECUTION_DRY_RUN/{FIRM}_DRY_RUN.
        self.force_dry_run = dry_run is True
        self.connectors = connectors if connectors is not None else build_connectors(self.settings, self.force_dry_run)
        routed = [self.settings.firms[code] for code in self.settings.route_to_firms]
        self.dry_run = self.force_dry_run or (all(f.dry_run for f in routed) if routed else self.settings.dry_run)
        super().__init__(repository)
        # Injected so tests can script a trading day; every ledger time comes from here.
        self.clock: Callable[[], datetime] = clock if clock is not None else utc_now
        self.snapshot_provider = snapshot_provider
        self._accounts = accounts
        self._desk: OrderDesk | None = None
        self._guard: SafetyGuard | None = None
        self.account_guard: AccountGuard | None = None  # set by create_app when a program has GUARD_BUFFER
        self.reconcile_min_age: float | None = None  # None: connectors.reconcile.MIN_AGE_SECONDS
        self.reconcile_observer: ReconcileObserver | None = None  # the app's notifier (web_server.create_app)
        log.info("ExecutionRouter initialized with dry_run=%s", self.dry_run)

    # ---- collaborators, built on first use ------------------------------------------------------
    @property
    def accounts(self) -> AccountService:
        """Account state (ledger / live snapshot) behind the loss and drawdown checks."""
        if self._accounts is None:
            self._accounts = AccountService(
                self.settings, LedgerRepository(self.repository.engine), lambda: self.clock(), self.snapshot_provider,
                PriceRepository(self.repository.engine), paper_only=self.force_dry_run,
            )
        return self._accounts

    @property
    def guard(self) -> SafetyGuard:
        """Trading state and limits (safety/guard.py)."""
        if self._guard is None:
            self._guard = SafetyGuard(self.settings)
        return self._guard

    @property
    def desk(self) -> OrderDesk:
        """Reservations, claims, the order journal and dispatch (routing/sending.py)."""
        if self._desk is None:
            self._desk = OrderDesk(self.rules, self.repository, self.connectors, self.guard)
        return self._desk

    def reconciler(self, settle_firm_state: bool = True) -> Reconciler:
        """Resolves UNKNOWN live submissions by client order id (connectors/reconcile.py)."""
        from database.orders_repository import ConnectorOrderRepository

        reconciler = Reconciler(ConnectorOrderRepository(self.repository.engine), self.repository, self.connectors,
                                ledger=self.accounts.ledger, settle_firm_state=settle_firm_state,
                                on_outcome=self.reconcile_observer)
        if self.reconcile_min_age is not None:
            reconciler.min_age = self.reconcile_min_age
        return reconciler

    def close(self) -> None:
        if self.snapshot_provider is not None:
            self.snapshot_provider.close()
        if self._desk is not None:
            self._desk.close()
        for connector in self.connectors.values():
            connector.close()

    # ---- public API (the guide's names) -------------------------------------------------------
    def route(self, payload: dict[str, Any] | Signal, raw_payload: dict[str, Any] | None = None,
              idempotency_key: str | None = None, resend: ResendPlan | None = None,
              received_at: datetime | None = None) -> dict[str, Any]:
        """Dispatch any signal by its event type. A used idempotency key raises
        DuplicateIdempotencyKeyError before anything is written (see safety/idempotency.py).
        `resend` runs an exit again only where its earlier attempt failed (safety/exit_resend.py).
        `received_at` (on `clock`, default now): when the webhook received it; an entry processed
        more than MAX_SIGNAL_AGE_SECONDS after it is refused, never sent late (safety/signal_age.py).
        Afterwards the account guard looks at every account the result booked an order for."""
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        arrival = SignalReceipt(received_at or self.clock(), self.settings.max_signal_age_seconds, lambda: self.clock())
        with receipt(arrival):
            process, noted = self.processor_for(signal, resend)
            result = self.handle_task(signal, raw_payload, process, idempotency_key, noted=noted)
        if self.account_guard is not None:
            self.account_guard.after_result(result)
        return result

    def processor_for(self, signal: Signal, resend: ResendPlan | None = None) -> tuple[Process, dict[str, Any] | None]:
        """The stage that processes `signal`, and what its result notes up front: a resent exit
        runs only where its earlier attempt failed (also used by recovery to re-run one), the
        flattening exit only on the account it closes (safety/flattening.py)."""
        if signal.event_type in self.settings.entry_event_types:
            return self.process_entry, None
        if signal.event_type not in EXIT_TYPES:
            return self.process_info, None
        only = flatten_scope(signal)
        if resend is None and only is None:
            return self.process_exit, None
        return partial(self.process_exit, resend=resend, only=only), resend.describe() if resend else None

    def handle_entry_signal(self, payload: dict[str, Any] | Signal) -> dict[str, Any]:
        return self._handle_of(payload, ENTRY_TYPES, "entry")

    def handle_exit_signal(self, payload: dict[str, Any] | Signal) -> dict[str, Any]:
        return self._handle_of(payload, EXIT_TYPES, "exit")

    def handle_mfe_update(self, payload: dict[str, Any] | Signal) -> dict[str, Any]:
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        return self.handle_task(signal, payload if isinstance(payload, dict) else None, self.process_info)

    def _handle_of(self, payload: dict[str, Any] | Signal, types: frozenset[str], kind: str) -> dict[str, Any]:
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        if signal.event_type not in types:
            raise ValueError(f"{signal.event_type} is not an {kind} event")
        return self.route(signal, payload if isinstance(payload, dict) else None)

    # ---- the stages ------------------------------------------------------------------------------
    def process_entry(self, task_id: int, signal: Signal, db: Connections, inputs: EntryInputs | None = None) -> Outcome:
        """Plan the entry on one read of every check's input, screen it, send what is left."""
        inputs = inputs if inputs is not None else self.read_entry_inputs(db, signal)
        state = self.guard.trading_state(db.safety, inputs.trading_state)
        live = {code for code, c in self.connectors.items() if not c.dry_run}
        now = self.clock()
        routed = self.routed_firms(signal)
        if self.snapshot_provider is not None and live:
            self.snapshot_provider.prefetch([(code, pid) for code in routed if code in live
                                             for pid in self.settings.firms[code].program_ids])
        accounts = {code: self.accounts.firm_accounts(code, inputs, live=code in live, now=now) for code in routed}
        plan = plan_entry(signal, self.rules, task_id, accounts)
        held = {(o.firm_code, o.program_id): hold for o in plan.orders
                if (hold := inputs.guard_hold(o.firm_code, o.program_id, now, self.accounts.live_book(o.firm_code)))}
        screened = self.guard.screen_entries(db.safety, plan.orders, state, held,
                                             EntryContext.of(signal, accounts, live, now))
        sent, late_checks = self.desk.send_entries(db, screened.allowed)
        self._forget_snapshots(sent)
        results = screened.refused + sent
        return Outcome(
            trading_state=state, details=entry_details(plan.firm_codes, plan.orders, results, self.dry_run),
            connector_results=results, safety_checks=screened.checks + late_checks, route=plan.route.to_dict(),
            lists={"account_states": plan.account_states, "risk_checks": plan.risk_checks,
                   "program_sizing": plan.program_sizing, "account_breaches": plan.account_breaches},
            notes={"warnings": list(screened.warnings)} if screened.warnings else {},
        )

    def process_exit(self, task_id: int, signal: Signal, db: Connections, resend: ResendPlan | None = None,
                     only: Accounts | None = None) -> Outcome:
        """Close what the trade opened (a resend: only where its last attempt did not get through)."""
        state = self.guard.trading_state(db.safety)
        reconciler = None
        if any(not c.dry_run for c in self.connectors.values()):  # settle unknown entries first
            reconciler = self.reconciler(settle_firm_state=False)
            reconciler.reconcile_unresolved(signal.trade_id)
        if resend is not None:  # an earlier attempt's UNKNOWN order, now judged, decides its part
            resend = resend.parts_now(lambda order_id: _journal_status(reconciler, order_id))
        try:
            return self._exit_positions(task_id, signal, db, state, resend, only)
        finally:  # after this request's own exit orders, off its clock (connectors/reconcile.py)
            if reconciler is not None and reconciler.deferred:
                self.desk.dispatcher.in_background(reconciler.settle_deferred)

    def _exit_positions(self, task_id: int, signal: Signal, db: Connections, state: str,
                        resend: ResendPlan | None, only: Accounts | None = None) -> Outcome:
        notes = resend.describe() if resend is not None else {}
        positions = db.tasks.open_positions_for_trade(signal.trade_id)
        if resend is not None:  # a resend closes only where the earlier attempt did not
            positions = [p for p in positions if resend.includes(p.firm_code, p.program_id)]
        if only is not None:
            positions = [p for p in positions if (p.firm_code, p.program_id) in only]
        if not positions:
            return Outcome(state, self._nothing_open(db, signal, resend), notes=notes)
        steps = plan_exit(signal, task_id, positions, trading_state=state,
                          connector_dry_run={code: c.dry_run for code, c in self.connectors.items()},
                          point_values={p.symbol: self._point_value(p.symbol) for p in positions})
        results, closes = self.desk.send_exits(db, steps, actor=f"router:{signal.event_type}", now=self.clock())
        self._forget_snapshots(results)
        details = exit_details(closes, results, self.dry_run, signal.exit_contracts)
        return Outcome(state, details, results, lists={"account_closes": closes}, notes=notes)

    def _nothing_open(self, db: Connections, signal: Signal, resend: ResendPlan | None) -> str:
        if resend is not None:
            return (f"Resend of the exit of task {resend.of_task}: nothing is left open where it "
                    "did not get through: no exit order sent.")
        unmatched = getattr(signal, NO_TRADE_FIELD, None)
        if unmatched is not None:  # an alert without a trade_id, and its strategy holds nothing there
            return f"No open trade of strategy {unmatched}: no exit order sent."
        if db.tasks.has_position_history(signal.trade_id):
            return f"Trade {signal.trade_id} has nothing left open: no exit order sent."
        return f"Trade {signal.trade_id} opened no position: no exit order sent."

    def process_info(self, task_id: int, signal: Signal, db: Connections) -> Outcome:
        """An informational event: recorded, never sent."""
        state = self.guard.trading_state(db.safety)
        if signal.event_type == "MFE_UPDATE_BATCH":
            items = getattr(signal, "signals", None)
            count = len(items) if isinstance(items, list) else 0
            return Outcome(state, f"MFE batch of {count} update(s) recorded; no order sent.")
        if signal.event_type in ENTRY_TYPES:  # an entry type left out of ENTRY_EVENT_TYPES
            return Outcome(state, f"{signal.event_type} recorded; ENTRY_EVENT_TYPES does not open trades on it: "
                                  "no order sent.")
        return Outcome(state, f"{signal.event_type} recorded; no order sent.")

    def _forget_snapshots(self, results: tuple[ConnectorResult, ...]) -> None:
        """An order that may have filled changes the account: its cached snapshot is out of date."""
        if self.snapshot_provider is None:
            return
        for result in results:
            if result.dry_run is False and result.status in (OrderStatus.SUCCESS, OrderStatus.UNKNOWN):
                self.snapshot_provider.forget(result.firm_code, result.program_id)

    def _point_value(self, symbol: str):
        spec = get_contract_spec(symbol, self.settings.point_value_overrides)
        return spec.point_value if spec is not None else None


def _journal_status(reconciler: Reconciler | None, client_order_id: str) -> str | None:
    record = reconciler.journal.get(client_order_id) if reconciler is not None else None
    return record.status if record is not None else None
