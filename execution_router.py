"""ExecutionRouter: one signal through risk -> sizing -> breach -> connectors -> one audit row.

Order of durable writes (the audit trail survives a crash at any point):
1. the execution_tasks row is committed as PENDING before anything else happens;
2. it is set PROCESSING before the first check;
3. for an entry, each allowed firm/program's position is *reserved* in trade_positions (unique per
   trade/firm/program, so a trade can never open twice at one account; the firm's
   max_position_size re-checked under a per-firm database lock) before its order is sent; for an
   exit, the contracts are taken off and their realized P&L written to the account ledger in one
   transaction before the exit order is sent;
4. one transaction writes the execution_logs row with the whole result and sets the task
   COMPLETED (or FAILED with the error).
When no order can leave the service (every connector in dry-run, or an informational event),
steps 2-4 run as one deferred unit of work (database/unit_of_work.py): nothing is in flight that a
committed PROCESSING row or reservation would have to vouch for, so every write commits together
with the log row, and a crash leaves the task PENDING for recovery with none of its half-done work
applied. Step 2 is then only the task's row lock, taken when the transaction begins; a signal that
writes nothing but its result (an entry the risk check rejects, an update) sends no BEGIN at all:
its reads and its one finishing statement run on their own, and the unique log row decides if
recovery ever raced it. A PROCESSING status could never be seen before COMPLETED replaced it, and
writing it cost a row version and an entry in each of the table's five indexes.

Engines are pure; this module only gathers their inputs, calls them and applies their verdicts.
The loss and drawdown checks read the account state (`AccountService`: the ledger, or a live
snapshot), computed once per firm per signal at `clock()`.
A check that errors blocks its firm/program (fail closed, docs/design.md Decision 1).
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Callable, Iterator

from account_engine import BreachResult, evaluate_account_breach
from account_engine.ledger import realized_pl
from account_engine.trading_day import trading_day_start
from account_engine.snapshots import SnapshotProvider
from account_service import AccountService, AccountView, utc_now
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
from connectors.dispatch import Dispatcher, Submission, not_sent
from connectors.reconcile import Outcome, Reconciler
from connectors.registry import no_connector_message
from database import EntryRateLimitError, ExecutionRepository, PositionLimitError, PositionRecord, TaskAlreadyFinishedError
from database.entry_inputs import EntryInputs, LedgerSizeHint, LedgerWindow, read_entry_inputs
from database.repository import result_json
from database.ledger_repository import LedgerRepository
from database.unit_of_work import connection_scope, unit_of_work
from instruments import get_contract_spec
from observability.task_context import bind_task
from program_engine import calculate_program_sizing
from risk_engine import evaluate_risk
from safety.exit_resend import ResendPlan
from safety.guard import SafetyGuard, rate_limited
from safety.signal_age import SignalReceipt, receipt
from signals import ENTRY_TYPES, EXIT_TYPES, Signal, parse_signal

log = logging.getLogger(__name__)

APPROVED = "APPROVED"
DRY_RUN_DETAILS = "ExecutionRouter dry-run: no external order sent."


_Batch = tuple[list[Submission], list[bool]]
"""Orders journalled for sending (connectors/dispatch.py), each with "new" (True) or "sent before"."""


class ResultDocument(dict):
    """A task's result together with the JSON text stored for it in execution_logs: the webhook
    answers with that text instead of serialising the ~4 KB document a second time."""

    def __init__(self, result: dict[str, Any], json_text: str) -> None:
        super().__init__(result)
        self.json_text = json_text


class ExecutionRouter:
    """Routes validated signals to every configured firm/program and records the outcome."""

    def __init__(
        self,
        dry_run: bool | None = None,
        *,
        settings: Settings | None = None,
        repository: ExecutionRepository | None = None,
        connectors: dict[str, BaseConnector] | None = None,
        clock: Callable[[], datetime] | None = None,
        snapshot_provider: SnapshotProvider | None = None,
    ):
        self.settings = settings if settings is not None else get_settings()
        # An explicit dry_run=True forces every firm dry; None follows EXECUTION_DRY_RUN/{FIRM}_DRY_RUN.
        self.force_dry_run = dry_run is True
        self.connectors = connectors if connectors is not None else build_connectors(self.settings, self.force_dry_run)
        routed = [self.settings.firms[code] for code in self.settings.route_to_firms]
        self.dry_run = self.force_dry_run or (all(f.dry_run for f in routed) if routed else self.settings.dry_run)
        self._repository = repository
        # Injected so tests can script a trading day; every ledger time comes from here.
        self.clock: Callable[[], datetime] = clock if clock is not None else utc_now
        self.snapshot_provider = snapshot_provider
        self._accounts: AccountService | None = None
        self._dispatcher: Dispatcher | None = None
        self.ledger_size = LedgerSizeHint()  # which ledger read an entry uses (events or summary)
        self._dispatcher_lock = threading.Lock()
        self.reconcile_min_age: float | None = None  # None: connectors.reconcile.MIN_AGE_SECONDS
        self.reconcile_observer: Outcome | None = None  # the app's notifier (web_server.create_app)
        self._guard: SafetyGuard | None = None
        log.info("ExecutionRouter initialized with dry_run=%s", self.dry_run)

    # ---- public API (the guide's names) -------------------------------------------------------
    @property
    def repository(self) -> ExecutionRepository:
        """Lazily built from settings, so `ExecutionRouter(dry_run=True)` works on its own."""
        if self._repository is None:
            from database import create_db_engine, upgrade_to_head
            from database.engine import DatabaseTimeouts

            url = self.settings.database_url.get_secret_value() if self.settings.database_url else None
            engine = create_db_engine(url, self.settings.sqlite_path, DatabaseTimeouts.of(self.settings))
            upgrade_to_head(engine)
            self._repository = ExecutionRepository(engine)
        return self._repository

    @property
    def accounts(self) -> AccountService:
        """Account state (ledger / live snapshot) behind the loss and drawdown checks."""
        if self._accounts is None:
            self._accounts = AccountService(
                self.settings, LedgerRepository(self.repository.engine), lambda: self.clock(), self.snapshot_provider
            )
        return self._accounts

    @property
    def guard(self) -> SafetyGuard:
        """Trading state, limits and fault hooks (safety/guard.py), built on first use."""
        if self._guard is None:
            self._guard = SafetyGuard(self.repository.engine, self.settings)
        return self._guard

    def route(
        self,
        payload: dict[str, Any] | Signal,
        raw_payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        resend: ResendPlan | None = None,
        received_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Dispatch any signal by its event type. A used idempotency key raises
        DuplicateIdempotencyKeyError before anything is written (see safety/idempotency.py).
        `resend` runs an exit again only where its earlier attempt failed (safety/exit_resend.py).
        `received_at` (on `clock`, default now): when the webhook received it; an entry processed
        more than MAX_SIGNAL_AGE_SECONDS after it is refused, never sent late (safety/signal_age.py)."""
        signal = payload if isinstance(payload, Signal) else parse_signal(payload)
        arrival = SignalReceipt(received_at or self.clock(), self.settings.max_signal_age_seconds, lambda: self.clock())
        with receipt(arrival):
            process, extra = self.processor_for(signal, resend)
            return self._handle_task(signal, raw_payload, process, idempotency_key, extra=extra)

    def processor_for(self, signal: Signal, resend: ResendPlan | None = None
                      ) -> tuple[Callable[[int, Signal, dict[str, Any]], None], dict[str, Any] | None]:
        """The stage that processes `signal`, and what its result notes up front: a resent exit
        runs only where its earlier attempt failed (also used by recovery to re-run one)."""
        process = self._processor(signal)
        if resend is None or process != self._process_exit:
            return process, None
        return partial(self._process_exit, resend=resend), resend.describe()

    def _processor(self, signal: Signal) -> Callable[[int, Signal, dict[str, Any]], None]:
        if signal.event_type in self.settings.entry_event_types:
            return self._process_entry
        if signal.event_type in EXIT_TYPES:
            return self._process_exit
        return self._process_info

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
        if self._dispatcher is not None:
            self._dispatcher.shutdown()
        for connector in self.connectors.values():
            connector.close()

    def reconciler(self, settle_firm_state: bool = True) -> Reconciler:
        """Resolves UNKNOWN live submissions by client order id (connectors/reconcile.py)."""
        from database.orders_repository import ConnectorOrderRepository

        reconciler = Reconciler(ConnectorOrderRepository(self.repository.engine), self.repository, self.connectors,
                                ledger=self.accounts.ledger, settle_firm_state=settle_firm_state,
                                on_outcome=self.reconcile_observer)
        if self.reconcile_min_age is not None:
            reconciler.min_age = self.reconcile_min_age
        return reconciler

    # ---- task lifecycle ------------------------------------------------------------------------
    def _handle_task(
        self,
        signal: Signal,
        raw_payload: dict[str, Any] | None,
        process: Callable[[int, Signal, dict[str, Any]], None],
        idempotency_key: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        repo = self.repository
        stored = raw_payload if raw_payload is not None else signal.payload()
        if self._sends_nothing_outside(signal):
            # Nothing can leave the service, so every write, the log row and COMPLETED commit
            # together (database/unit_of_work.py), after the PENDING commit, on one pooled connection.
            with connection_scope(repo.engine):
                if process == self._process_entry:  # the PENDING insert also reads the entry's inputs
                    task_id, inputs = self._create_entry_task(signal, stored, idempotency_key)
                    process = lambda t, s, r: self._process_entry(t, s, r, inputs)  # noqa: E731
                else:
                    task_id = self._create_task(signal, stored, idempotency_key)
                try:
                    # Deferred: reads and the finish run on their own; a transaction (with the
                    # task's row lock, to keep recovery off it) only when something else is written.
                    with unit_of_work(repo.engine, deferred=True, on_begin=lambda: repo.lock_task(task_id)):
                        return self.run_task(task_id, signal, process, extra, record_failure=False)
                except TaskAlreadyFinishedError:  # recovery finished it first: that is its result
                    return self._recorded_result(task_id)
                except Exception as exc:  # rolled back whole: record the failure on its own
                    try:
                        return self._fail_task(task_id, {**self._empty_result(task_id, signal), **(extra or {})}, exc)
                    except TaskAlreadyFinishedError:
                        return self._recorded_result(task_id)
        task_id = self._create_task(signal, stored, idempotency_key)
        repo.set_task_status(task_id, "PROCESSING")  # durable before any order can leave
        return self.run_task(task_id, signal, process, extra)

    def _recorded_result(self, task_id: int) -> dict[str, Any]:
        """The result another worker recorded for this task. Only a dry-run task that took longer
        than STUCK_TASK_SECONDS can meet this: recovery re-ran it and its log row came first."""
        log.warning("task %s was finished by another worker (recovery) first; answering with that result", task_id)
        recorded = self.repository.get_log_for_task(task_id)
        assert recorded is not None  # TaskAlreadyFinishedError means the row exists
        return dict(recorded["response_body"])

    def _create_task(self, signal: Signal, stored: dict[str, Any], idempotency_key: str | None) -> int:
        """The PENDING row, committed before anything else happens (docs/design.md data flow, step 2)."""
        task_id = self.repository.create_task(signal.trade_id, signal.event_type, stored, idempotency_key=idempotency_key)
        bind_task(task_id=task_id, trade_id=signal.trade_id)  # every log line from here names the task
        return task_id

    def _create_entry_task(self, signal: Signal, stored: dict[str, Any],
                           idempotency_key: str | None) -> tuple[int, EntryInputs]:
        """`_create_task` and `_read_entry_inputs` in one round trip (PostgreSQL)."""
        firm_codes, _ = get_routing_rules_for_task(signal.payload(), self.settings)
        task_id, inputs = self.repository.create_entry_task(
            signal.trade_id, signal.event_type, stored, firm_codes, idempotency_key=idempotency_key,
            ledger_window=lambda: self._ledger_window(firm_codes))
        self.ledger_size.note(firm_codes, inputs)
        bind_task(task_id=task_id, trade_id=signal.trade_id)
        return task_id, inputs

    def _sends_nothing_outside(self, signal: Signal) -> bool:
        """True when this signal cannot reach a firm: informational, or every connector in dry-run."""
        return self._processor(signal) == self._process_info or all(c.dry_run for c in self.connectors.values())

    def run_task(
        self,
        task_id: int,
        signal: Signal,
        process: Callable[[int, Signal, dict[str, Any]], None] | None = None,
        extra: dict[str, Any] | None = None,
        record_failure: bool = True,
    ) -> dict[str, Any]:
        """Process an existing PROCESSING task and record its one result (also used by recovery).

        With `record_failure=False` an error propagates (the caller's unit of work rolls back and
        the caller records the failure in a fresh transaction)."""
        repo = self.repository
        result = self._empty_result(task_id, signal)
        result.update(extra or {})
        try:
            (process or self._processor(signal))(task_id, signal, result)  # each begins with guard.begin
            self.guard.annotate(result)
        except Exception as exc:  # the task must end FAILED with its error, never stay PROCESSING
            if not record_failure:
                raise
            return self._fail_task(task_id, result, exc)
        stored = ResultDocument(result, result_json(result))
        repo.finish_task(task_id, "COMPLETED", result, stored_json=stored.json_text)
        return stored

    def _fail_task(self, task_id: int, result: dict[str, Any], exc: Exception) -> dict[str, Any]:
        log.exception("task %s failed", task_id, exc_info=exc)
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["details"] = "Task failed; see error. No further orders were sent for it."
        self.repository.finish_task(task_id, "FAILED", result, error=result["error"])
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
            "account_states": [],
            "account_closes": [],
        }

    # ---- entry ---------------------------------------------------------------------------------
    def _process_entry(self, task_id: int, signal: Signal, result: dict[str, Any],
                       inputs: EntryInputs | None = None) -> None:
        if inputs is None:  # one read: the trading state and every check's input
            inputs = self._read_entry_inputs(signal)
        self.guard.begin(result, trading_state=inputs.trading_state)
        self._route_entry(task_id, signal, result, inputs)

    def _read_entry_inputs(self, signal: Signal) -> EntryInputs:
        """Trading state, open contracts and ledgers of every firm this entry routes to (one query)."""
        firm_codes, _ = get_routing_rules_for_task(signal.payload(), self.settings)
        inputs = read_entry_inputs(self.repository.engine, firm_codes, lambda: self._ledger_window(firm_codes))
        self.ledger_size.note(firm_codes, inputs)
        return inputs

    def _ledger_window(self, firm_codes: list[str]) -> LedgerWindow | None:
        """The instant this entry's account states are for, with each firm's trading-day start
        then, so the database can summarise the ledgers (`_account_views` uses the same instant);
        while they are few (`LedgerSizeHint`) the events are read instead, for the same instant."""
        now = self.clock()
        day_starts = {}
        for code in firm_codes:
            firm = self.settings.firm(code)
            if firm is None:
                return None  # unknown firm: read the events; the account views will refuse it
            day_starts[code] = trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
        return LedgerWindow(now, day_starts, summarise=self.ledger_size.summarise(firm_codes))

    def _route_entry(self, task_id: int, signal: Signal, result: dict[str, Any], inputs: EntryInputs) -> None:
        task_payload = signal.payload()
        firm_codes, meta = get_routing_rules_for_task(task_payload, self.settings)
        allowed: list[tuple[str, int, int]] = []
        for firm_code in firm_codes:
            open_contracts = inputs.open_at_firm(firm_code)
            views = self._account_views(firm_code, inputs)
            result["account_states"].extend(v.to_dict() for v in views.values())
            metrics = {"open_contracts": open_contracts, **self._get_account_metrics_for_firm(firm_code, views)}
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
                breach = self._check_breach(firm_code, program_id, views.get(program_id))
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
        orders, blocked = self.guard.filter_entries(orders, result)
        result["connector_results"] = blocked + self._send_entries(orders, signal, result)
        result["routed"] = any(r["status"] == SUCCESS for r in result["connector_results"])
        result["details"] = self._entry_details(firm_codes, allowed, result)

    def _send_entries(self, orders: list[OrderRequest], signal: Signal, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Reserve each position, then send; a failed send releases its reservation."""
        reserved: list[tuple[OrderRequest, PositionRecord]] = []
        results: list[dict[str, Any] | None] = []
        with self._given_back_if_unsent(lambda: [self.repository.release_position(p.id) for _, p in reserved]):
            batch = self._reserve_entries(orders, reserved, results, result)
        sent = self._dispatch(batch)
        for (order, position), outcome in zip(reserved, sent):
            if not_sent(outcome):  # refused by the firm, or too old to send (SIGNAL_TOO_OLD)
                self.repository.release_position(position.id)
        it = iter(sent)
        return [r if r is not None else next(it).to_dict() for r in results]

    def _reserve_entries(self, orders: list[OrderRequest], reserved: list[tuple[OrderRequest, PositionRecord]],
                         results: list[dict[str, Any] | None], result: dict[str, Any]) -> _Batch:
        """Reserve each order's position (appending to `reserved`/`results`) and journal the orders."""
        for order in orders:
            connector = self.connectors.get(order.firm_code)
            if connector is None:
                results.append(_skipped(order, "NO_CONNECTOR", no_connector_message(order.firm_code)))
                continue
            try:  # re-checks max_position_size and MAX_ORDERS_PER_MINUTE under a per-firm database lock
                position = self.repository.open_position(
                    trade_id=order.trade_id, firm_code=order.firm_code, program_id=order.program_id,
                    symbol=order.symbol, side=order.direction, contracts=order.contracts,
                    entry_price=order.entry_price, stop_price=order.stop_loss, task_id=order.task_id,
                    client_order_id=order.client_order_id, dry_run=connector.dry_run,
                    firm_position_limit=get_firm_risk_rules(order.firm_code, self.settings)["max_position_size"],
                    rate_cap=self.guard.entry_rate_cap(order.firm_code),
                )
            except PositionLimitError as exc:
                results.append(_skipped(order, "POSITION_LIMIT_REACHED",
                                        f"{exc}; a simultaneous entry took the capacity first."))
                continue
            except EntryRateLimitError as exc:
                results.append(rate_limited(order, exc.recent, exc.limit, result))
                continue
            if position is None:
                results.append(_skipped(order, "TRADE_ALREADY_OPENED",
                                        f"Trade {order.trade_id} already opened at {order.firm_code} program {order.program_id}."))
                continue
            reserved.append((order, position))
            results.append(None)
        return self._journal([(o, self.connectors[o.firm_code].send_entry_order, p.id) for o, p in reserved])

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
    def _process_exit(self, task_id: int, signal: Signal, result: dict[str, Any],
                      resend: ResendPlan | None = None) -> None:
        self.guard.begin(result)
        reconciler = None
        if any(not c.dry_run for c in self.connectors.values()):  # settle unknown entries first
            reconciler = self.reconciler(settle_firm_state=False)
            reconciler.reconcile_unresolved(signal.trade_id)
        if resend is not None:  # an earlier attempt's UNKNOWN order, now judged, decides its part
            resend = resend.parts_now(lambda order_id: self._journal_status(reconciler, order_id))
            result.update(resend.describe())
        try:
            self._exit_positions(task_id, signal, result, resend)
        finally:  # after this request's own exit orders, off its clock (connectors/reconcile.py)
            if reconciler is not None and reconciler.deferred:
                self._get_dispatcher().in_background(reconciler.settle_deferred)

    @staticmethod
    def _journal_status(reconciler: Reconciler | None, client_order_id: str) -> str | None:
        record = reconciler.journal.get(client_order_id) if reconciler is not None else None
        return record.status if record is not None else None

    def _exit_positions(self, task_id: int, signal: Signal, result: dict[str, Any],
                        resend: ResendPlan | None = None) -> None:
        positions = self.repository.open_positions_for_trade(signal.trade_id)
        if resend is not None:  # a resend closes only where the earlier attempt did not
            positions = [p for p in positions if resend.includes(p.firm_code, p.program_id)]
        if not positions:
            if resend is not None:
                result["details"] = (f"Resend of the exit of task {resend.of_task}: nothing is left open where it "
                                     "did not get through: no exit order sent.")
            elif self.repository.has_position_history(signal.trade_id):
                result["details"] = f"Trade {signal.trade_id} has nothing left open: no exit order sent."
            else:
                result["details"] = f"Trade {signal.trade_id} opened no position: no exit order sent."
            return
        claimed: list[tuple[OrderRequest, PositionRecord, int, int | None]] = []
        closes: list[dict[str, Any]] = []
        local_closes: list[dict[str, Any]] = []
        results: list[dict[str, Any] | None] = []
        with self._given_back_if_unsent(lambda: [self._reopen(p, taken, event_id, signal, "exit failed before it was sent")
                                                 for _, p, taken, event_id in claimed]):
            batch = self._claim_exits(task_id, signal, result, positions, claimed, closes, results, local_closes)
        sent = self._dispatch(batch)
        for (order, position, taken, event_id), outcome, close in zip(claimed, sent, closes):
            if outcome.status == FAILED:  # nothing was closed at the firm: keep the position open
                self._reopen(position, taken, event_id, signal, "exit order FAILED at the firm")
                close["reversed"] = True
        result["account_closes"] = closes + local_closes
        it = iter(sent)
        result["connector_results"] = [r if r is not None else next(it).to_dict() for r in results]
        result["routed"] = any(r["status"] == SUCCESS for r in result["connector_results"])
        closed_count = sum(o.contracts for o, _, _, _ in claimed)
        mode = "sent" if result["routed"] else "recorded (dry-run, not sent)" if self.dry_run else "not accepted"
        result["details"] = f"Exit of {closed_count} contract(s) across {len(claimed)} firm/program(s) {mode}."
        if any("requested_contracts" in c for c in result["account_closes"]):
            result["details"] += (f" exit_contracts {signal.exit_contracts} was more than was open: "
                                  "closed what was open (see account_closes).")
        unknown = [c for c in result["account_closes"] if c["realized_pl"] is None]
        if unknown:
            result["details"] += (f" P&L UNKNOWN for {len(unknown)} close(s): the signal has no exit_price; "
                                  "record it with `flask account adjust ... --trade-id`.")

    def _claim_exits(self, task_id: int, signal: Signal, result: dict[str, Any], positions: list[PositionRecord],
                     claimed: list[tuple[OrderRequest, PositionRecord, int, int | None]], closes: list[dict[str, Any]],
                     results: list[dict[str, Any] | None], local_closes: list[dict[str, Any]]) -> _Batch:
        """Take each position's contracts off with their P&L row (appending to `claimed`, `closes`,
        `results`), then journal the exit orders. A position opened in dry-run is only closed here
        (`local_closes`) even if its firm has gone live since: an order for it would close real
        contracts of another trade at the firm."""
        now = self.clock()
        for position in positions:
            wanted = _exit_quantity(signal, position)
            order = OrderRequest(
                action="EXIT", firm_code=position.firm_code, program_id=position.program_id,
                trade_id=signal.trade_id, task_id=task_id, symbol=position.symbol,
                direction=position.side, contracts=wanted, entry_price=signal.exit_price,
                client_order_id=client_order_id(task_id, position.firm_code, position.program_id, "EXIT"),
                entry_client_order_id=position.client_order_id or "", contract=position.firm_contract or "",
            )
            connector = self.connectors.get(position.firm_code)
            if wanted <= 0:
                results.append(_skipped(order, "PARTIAL_BELOW_ONE_CONTRACT",
                                        f"Partial exit of {position.contracts_open} open contracts rounds to 0."))
                continue
            if connector is None:
                results.append(_skipped(order, "NO_CONNECTOR", f"{position.firm_code} is no longer routed; close it by hand."))
                continue
            if not position.dry_run and connector.dry_run:  # opened live, the firm is dry-run now
                results.append(_skipped(order, "LIVE_POSITION_FIRM_IN_DRY_RUN",
                                        f"Opened live, but {position.firm_code} is in dry-run now: no exit order sent "
                                        "and the position stays open here; close it at the firm."))
                continue
            if (blocked := self.guard.exit_block(order, result)) is not None:
                results.append(blocked)
                continue
            exit_price, price_source = _exit_price(signal, position)
            point_value = self._point_value(position.symbol)
            closed = self.accounts.ledger.close_position(  # reduce + P&L row in one transaction
                position_id=position.id, contracts=wanted,
                amount_for=lambda n, p=position, x=exit_price, pv=point_value: _close_pl(p, x, pv, n),
                exit_price=exit_price, price_source=price_source, occurred_at=now,
                task_id=task_id, actor=f"router:{signal.event_type}",
            )
            taken = closed.contracts
            if taken <= 0:  # a concurrent exit closed it first
                results.append(_skipped(order, "ALREADY_CLOSED", "Position was closed by another exit."))
                continue
            if taken != wanted:
                order = OrderRequest(**{**order.__dict__, "contracts": taken})
            close = _close_summary(position, taken, exit_price, price_source, point_value, closed.amount)
            if signal.exit_contracts is not None and signal.exit_contracts > position.contracts_open:
                close["requested_contracts"] = signal.exit_contracts  # more than was open: all of it closed
                close["note"] = (f"exit_contracts {signal.exit_contracts} is more than the {position.contracts_open} "
                                 f"open: closed the {taken} open.")
            if position.dry_run and not connector.dry_run:  # a simulated position: nothing to close at the firm
                local_closes.append(close)
                results.append(_skipped(order, "SIMULATED_POSITION",
                                        f"Opened in dry-run before {position.firm_code} went live: closed here "
                                        "(simulated P&L), no order sent to the firm."))
                continue
            claimed.append((order, position, taken, closed.event_id))
            closes.append(close)
            results.append(None)
        return self._journal([(o, self.connectors[o.firm_code].send_exit_order, p.id) for o, p, _, _ in claimed])

    def _reopen(self, position: PositionRecord, taken: int, close_event_id: int | None, signal: Signal, reason: str) -> None:
        """Give an exit's claimed contracts back and reverse their P&L row (the firm closed nothing)."""
        assert close_event_id is not None
        self.accounts.ledger.reopen_position(
            position_id=position.id, contracts=taken, close_event_id=close_event_id,
            actor=f"router:{signal.event_type}", reason=reason,
        )

    # ---- informational ---------------------------------------------------------------------------
    def _process_info(self, task_id: int, signal: Signal, result: dict[str, Any]) -> None:
        self.guard.begin(result)
        if signal.event_type == "MFE_UPDATE_BATCH":
            items = getattr(signal, "signals", None)
            count = len(items) if isinstance(items, list) else 0
            result["details"] = f"MFE batch of {count} update(s) recorded; no order sent."
        elif signal.event_type in ENTRY_TYPES:  # an entry type left out of ENTRY_EVENT_TYPES
            result["details"] = f"{signal.event_type} recorded; ENTRY_EVENT_TYPES does not open trades on it: no order sent."
        else:
            result["details"] = f"{signal.event_type} recorded; no order sent."

    # ---- helpers ---------------------------------------------------------------------------------
    def _journal(self, calls: list[tuple[OrderRequest, Callable[..., ConnectorResult], int]]) -> _Batch:
        """Journal the live orders of a batch (connectors/dispatch.py): after this returns, and
        only then, may any of them be sent."""
        submissions = [Submission(order=o, connector=self.connectors[o.firm_code], send=call, position_id=pid)
                       for o, call, pid in calls]
        return submissions, self._get_dispatcher().record(submissions)

    def _dispatch(self, batch: _Batch) -> list[ConnectorResult]:
        """Dry-run calls inline; live calls fanned out in parallel inside one deadline. An UNKNOWN
        result keeps its position/claim (it is reconciled, never resent)."""
        submissions, recorded = batch
        return self._get_dispatcher().run(submissions, recorded)

    def _get_dispatcher(self) -> Dispatcher:
        with self._dispatcher_lock:  # gunicorn threads: one pool per router, not one per first request
            if self._dispatcher is None:
                from database.orders_repository import ConnectorOrderRepository

                # the contract each entry traded, so its exit closes that one and not the front of the day
                self._dispatcher = Dispatcher(ConnectorOrderRepository(self.repository.engine),
                                              on_contract=self.repository.record_position_contract)
            return self._dispatcher

    @contextmanager
    def _given_back_if_unsent(self, give_back: Callable[[], object]) -> Iterator[None]:
        """Live signals commit each reservation/claim as it is made; if anything fails before the
        batch is journalled (so before any order of it is sent), give them back: a FAILED task is
        never recovered, and a claim left behind would say "flat" while the firm still holds the
        position, a reservation would hold capacity for an order never sent. In dry-run the unit of
        work rolls everything back itself."""
        try:
            yield
        except Exception:
            if not all(c.dry_run for c in self.connectors.values()):
                try:
                    give_back()
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    log.exception("could not give back what was reserved/claimed before the failure")
            raise

    def _firm_is_live(self, firm_code: str) -> bool:
        connector = self.connectors.get(firm_code)
        return connector is not None and not connector.dry_run

    def _account_views(self, firm_code: str, inputs: EntryInputs) -> dict[int, AccountView]:
        """Every program's account state at one instant (live firms consult their snapshot)."""
        return self.accounts.views_from_inputs(firm_code, inputs, live=self._firm_is_live(firm_code), now=self.clock())

    def _get_account_metrics_for_firm(self, firm_code: str, views: dict[int, AccountView]) -> dict[str, Any]:
        """Firm-level P&L for the risk engine's loss rules: the sum of its programs' accounts."""
        return AccountService.firm_metrics(views)

    def _get_account_metrics_for_program(self, firm_code: str, program_id: int, view: AccountView | None) -> dict[str, Any]:
        """Account P&L (day_pl, total_pl, drawdown, open_contracts) for the breach engine."""
        return view.state.metrics() if view is not None else {}

    def _check_breach(self, firm_code: str, program_id: int, view: AccountView | None) -> BreachResult:
        """The breach engine on the account's state; a blocked live snapshot is an ERROR (fail closed)."""
        if view is not None and view.blocked:
            return BreachResult(
                firm_code, program_id, "ERROR", "ACCOUNT_SNAPSHOT_UNAVAILABLE",
                f"Live account snapshot unusable ({view.snapshot_problem}); "
                f"{firm_code}_SNAPSHOT_POLICY=BLOCK blocks entries.",
                {"snapshot_problem": view.snapshot_problem, "source": view.source},
            )
        return evaluate_account_breach(
            firm_code, program_id,
            self._get_account_metrics_for_program(firm_code, program_id, view),
            get_account_breach_rules(firm_code, program_id, self.settings),
        )

    def _point_value(self, symbol: str) -> Decimal | None:
        spec = get_contract_spec(symbol, self.settings.point_value_overrides)
        return spec.point_value if spec is not None else None


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


def _exit_price(signal: Signal, position: PositionRecord) -> tuple[Decimal | None, str]:
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


def _close_pl(position: PositionRecord, exit_price: Decimal | None, point_value: Decimal | None, contracts: int) -> Decimal | None:
    if exit_price is None or point_value is None or position.entry_price is None:
        return None
    return realized_pl(position.side, position.entry_price, exit_price, contracts, point_value)


def _close_summary(position: PositionRecord, contracts: int, exit_price: Decimal | None, price_source: str,
                   point_value: Decimal | None, amount: Decimal | None) -> dict[str, Any]:
    return {
        "firm_code": position.firm_code, "program_id": position.program_id, "symbol": position.symbol,
        "side": position.side, "contracts": contracts,
        "entry_price": float(position.entry_price) if position.entry_price is not None else None,
        "exit_price": float(exit_price) if exit_price is not None else None, "price_source": price_source,
        "point_value": float(point_value) if point_value is not None else None,
        "realized_pl": float(amount) if amount is not None else None,
        "pl_status": "KNOWN" if amount is not None else "UNKNOWN",
        "simulated": position.dry_run, "reversed": False,
    }
