"""AccountService: the account state of each firm/program, from the ledger or a live snapshot.

The glue between storage (`LedgerRepository`), settings and the pure ledger engine; the router
asks it for the metrics its risk and breach checks read, operators (CLI / admin API) use it to
show and correct accounts. The clock is injected so tests can script a trading day.

Source precedence: in live mode with a snapshot provider, a fresh snapshot's equity and open
P&L win (the firm breaches on its own numbers). A stale or failed snapshot follows
`{FIRM}_SNAPSHOT_POLICY`: BLOCK (default, fail closed: entries for that account get an ERROR
breach result) or LEDGER (the ledger's figures are used and marked LEDGER_FALLBACK). Dry-run
accounts always use the ledger, whose closes are filled at the signal prices and marked simulated.

Open P&L without a fresh snapshot comes from marks: the latest price per futures root that
`POST /api/realtime-price` stored, applied to the account's open positions
(account_engine/marks.py); the view's `open_pl_source` says which (SNAPSHOT / MARK / NONE). A
trailing account's highest marked equity is kept (`mark_to_market`), so an intraday high raises
the high-water mark the drawdown trails even after the price falls back or the service restarts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Protocol

from account_engine import marks as marking
from account_engine.ledger import (
    ADJUSTMENT,
    NEW_DAY,
    SET_BALANCE,
    STATIC,
    AccountState,
    LedgerEntry,
    LedgerSummary,
    compute_account_state,
)
from account_engine.snapshots import (
    POLICY_LEDGER,
    SOURCE_BLOCKED,
    SOURCE_LEDGER,
    SOURCE_LEDGER_FALLBACK,
    SOURCE_SNAPSHOT,
    SnapshotProvider,
    snapshot_problem,
)
from config import Settings
from database.entry_inputs import EntryInputs
from database.ledger_repository import AccountEvent, LedgerRepository
from database.price_repository import PriceRepository
from instruments import get_contract_spec, resolve_root

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LedgerEvent(Protocol):
    """What an account's state needs of a ledger event (an AccountEvent or an entry_inputs row)."""

    kind: str
    amount: Decimal | None
    occurred_at: datetime
    simulated: bool
    trade_id: str | None


class UnknownAccountError(LookupError):
    """The firm/program is not configured (nothing to show or correct)."""


@dataclass(frozen=True)
class AccountView:
    """An account's state plus where its figures came from (LEDGER, SNAPSHOT, ...)."""

    state: AccountState
    source: str
    snapshot_problem: str | None = None
    snapshot_age_seconds: float | None = None  # the firm snapshot's age when one was used or judged
    open_pl_source: str = marking.NONE  # SNAPSHOT, MARK (the stored prices) or NONE (valued at entry)
    marked: marking.MarkedOpenPL | None = None  # how the open positions were marked, when they were

    @property
    def blocked(self) -> bool:
        return self.source == SOURCE_BLOCKED

    def to_dict(self) -> dict[str, Any]:
        marked = self.marked
        return {"source": self.source, "snapshot_problem": self.snapshot_problem,
                "snapshot_age_seconds": self.snapshot_age_seconds, **self.state.to_dict(),
                "open_pl_source": self.open_pl_source,
                "marked_positions": marked.marked if marked else 0,
                "unmarked_positions": marked.unmarked if marked else 0,
                "oldest_mark_at": marked.oldest_mark.isoformat() if marked and marked.oldest_mark else None}


@dataclass(frozen=True)
class Market:
    """What marks an account to market: its open positions, the marks, its equity peak."""

    positions: Mapping[tuple[str, int], list[marking.OpenPosition]]
    marks: Mapping[str, marking.Mark]
    equity_peaks: Mapping[tuple[str, int], Decimal]


NO_MARKET = Market({}, {}, {})


@dataclass(frozen=True)
class FirmAccounts:
    """What an entry's checks read about one firm's accounts, all at one instant."""

    open_contracts: int  # at the firm, every program
    views: Mapping[int, AccountView]  # per program: state and where it came from
    firm_metrics: Mapping[str, Any]  # the risk engine's loss inputs (the programs' sum)
    program_metrics: Mapping[int, Mapping[str, Any]]  # the breach engine's inputs per program


class AccountService:
    def __init__(
        self,
        settings: Settings,
        ledger: LedgerRepository,
        clock: Clock = utc_now,
        snapshot_provider: SnapshotProvider | None = None,
        prices: PriceRepository | None = None,
        paper_only: bool = False,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.snapshot_provider = snapshot_provider
        self.prices = prices  # None: no marks outside an entry's own read (views value positions at entry)
        self.paper_only = paper_only  # a router forced to dry-run: every account is read as paper

    def live_book(self, firm_code: str) -> bool:
        """Whether the firm's accounts read only live events and positions (account_engine.ledger)."""
        firm = self.settings.firm(firm_code)
        return firm is not None and not (firm.dry_run or self.paper_only)

    def _program(self, firm_code: str, program_id: int):
        firm = self.settings.firm(firm_code)
        program = firm.programs.get(int(program_id)) if firm else None
        if firm is None or program is None or program.account_size is None:
            raise UnknownAccountError(f"{firm_code} program {program_id} is not configured")
        return firm, program

    def market(self, firm_codes: list[str] | None = None) -> Market:
        """The open positions, marks and equity peaks as stored now (none without `prices`)."""
        if self.prices is None:
            return NO_MARKET
        return Market(self.prices.open_positions(firm_codes), self.prices.marks(), self.prices.equity_peaks())

    def view(self, firm_code: str, program_id: int, *, live: bool = False, now: datetime | None = None,
             market: Market | None = None) -> AccountView:
        """The account's state at `now`; in live mode a fresh snapshot takes precedence."""
        firm, program = self._program(firm_code, program_id)
        market = market if market is not None else self.market([firm.code])
        account = (firm.code, program.program_id)
        return self.view_from(
            firm.code, program.program_id,
            events=self.ledger.events_for_account(firm.code, program.program_id),
            open_contracts=self.ledger.open_contracts_for_account(firm.code, program.program_id, self.live_book(firm.code)),
            live=live, now=now, positions=market.positions.get(account, ()), marks=market.marks,
            equity_peak=market.equity_peaks.get(account),
        )

    def views_from_inputs(self, firm_code: str, inputs: EntryInputs, *, live: bool = False,
                          now: datetime | None = None) -> dict[int, AccountView]:
        """`views_for_firm` from what `database.entry_inputs` already read for this signal: at the
        instant the ledgers were summarised for, if they were."""
        firm = self.settings.firm(firm_code)
        if firm is None:
            raise UnknownAccountError(f"{firm_code} is not routed")
        now = inputs.as_of or (now if now is not None else self.clock())
        return {
            pid: self.view_from(firm.code, pid, events=inputs.events(firm.code, pid),
                                summary=inputs.summary(firm.code, pid),
                                open_contracts=inputs.open_at_account(firm.code, pid, self.live_book(firm.code)), live=live,
                                now=now, positions=inputs.open_positions(firm.code, pid), marks=inputs.marks,
                                equity_peak=inputs.equity_peak(firm.code, pid))
            for pid in firm.program_ids
        }

    def firm_accounts(self, firm_code: str, inputs: EntryInputs, *, live: bool = False,
                      now: datetime | None = None) -> FirmAccounts:
        """One firm's accounts as an entry's checks read them, from the entry's one read."""
        views = self.views_from_inputs(firm_code, inputs, live=live, now=now)
        return FirmAccounts(
            open_contracts=inputs.open_at_firm(firm_code, self.live_book(firm_code)), views=views,
            firm_metrics=self.metrics_for_firm(firm_code, views),
            program_metrics={pid: self.metrics_for_program(firm_code, pid, view) for pid, view in views.items()},
        )

    def metrics_for_firm(self, firm_code: str, views: Mapping[int, AccountView]) -> dict[str, Any]:
        """Firm-level P&L for the risk engine's loss rules: the sum of its programs' accounts."""
        return self.firm_metrics(dict(views))

    def metrics_for_program(self, firm_code: str, program_id: int, view: AccountView) -> dict[str, Any]:
        """Account P&L (day_pl, total_pl, drawdown, open_contracts) for the breach engine."""
        return view.state.metrics()

    def view_from(self, firm_code: str, program_id: int, *, events: Iterable[LedgerEvent], open_contracts: int,
                  live: bool = False, now: datetime | None = None, summary: LedgerSummary | None = None,
                  positions: Iterable[marking.OpenPosition] = (), marks: Mapping[str, marking.Mark] | None = None,
                  equity_peak: Decimal | None = None) -> AccountView:
        """The account's state at `now` from its ledger events (or their `summary` for `now`) and
        open contracts (already read); without a fresh snapshot its open `positions` are valued
        at `marks` and a trailing drawdown trails from at least `equity_peak`."""
        firm, program = self._program(firm_code, program_id)
        now = now if now is not None else self.clock()
        entries = [e if type(e) is LedgerEntry else LedgerEntry(e.kind, e.amount, e.occurred_at, e.simulated, e.trade_id)
                   for e in events]
        common = dict(
            firm_code=firm.code, program_id=program.program_id, account_size=program.account_size,
            entries=entries, summary=summary, open_contracts=open_contracts,
            now=now, day_start=firm.trading_day_start, day_timezone=firm.trading_day_timezone,
            drawdown_mode=program.drawdown_mode, drawdown_trail=program.drawdown_trail,
            max_drawdown=program.max_drawdown, live_book=self.live_book(firm.code),
        )
        marked = marking.mark_open_positions(positions, marks or {}, resolve_root, self._point_value) if marks else None
        if marked is not None and marked.source == marking.MARK:
            from_marks = dict(open_pl=marked.open_pl,
                              equity_high=equity_peak if program.drawdown_mode != STATIC else None)
            open_pl_source = marking.MARK
        else:
            from_marks, open_pl_source = {}, marking.NONE
        if not live or self.snapshot_provider is None:
            return AccountView(compute_account_state(**common, **from_marks), SOURCE_LEDGER,
                               open_pl_source=open_pl_source, marked=marked)
        try:
            snapshot = self.snapshot_provider.fetch(firm.code, program.program_id)
            problem = snapshot_problem(snapshot, now, firm.snapshot_max_age_seconds)
        except Exception as exc:  # any failure of the live read is reported, never trusted
            log.warning("account snapshot for %s/%s failed: %s", firm.code, program.program_id, type(exc).__name__)
            snapshot, problem = None, f"snapshot failed: {type(exc).__name__}: {exc}"
        age = (max(0.0, round((now - snapshot.taken_at).total_seconds(), 3))  # read after the entry's instant: 0
               if snapshot is not None and snapshot.taken_at.tzinfo else None)
        if problem is None and snapshot is not None:
            state = compute_account_state(**common, open_pl=Decimal(snapshot.open_pl), equity=Decimal(snapshot.equity))
            return AccountView(state, SOURCE_SNAPSHOT, snapshot_age_seconds=age, open_pl_source=marking.SNAPSHOT)
        source = SOURCE_LEDGER_FALLBACK if firm.snapshot_policy == POLICY_LEDGER else SOURCE_BLOCKED
        return AccountView(compute_account_state(**common, **from_marks), source, problem, age,
                           open_pl_source=open_pl_source, marked=marked)

    def _point_value(self, symbol: str) -> Decimal | None:
        spec = get_contract_spec(symbol, self.settings.point_value_overrides)
        return spec.point_value if spec is not None else None

    def views_for_firm(self, firm_code: str, *, live: bool = False, now: datetime | None = None) -> dict[int, AccountView]:
        firm = self.settings.firm(firm_code)
        if firm is None:
            raise UnknownAccountError(f"{firm_code} is not routed")
        now = now if now is not None else self.clock()
        market = self.market([firm.code])
        return {pid: self.view(firm.code, pid, live=live, now=now, market=market) for pid in firm.program_ids}

    def mark_to_market(self, roots: Iterable[str], *, live_firms: Iterable[str] = (),
                       now: datetime | None = None) -> list[dict[str, Any]]:
        """After new marks for `roots`: every account holding one of them, valued at the marks; a
        trailing account whose marked equity is a new high has it stored as its equity peak."""
        if self.prices is None:
            return []
        roots, live_firms = set(roots), set(live_firms)
        now = now if now is not None else self.clock()
        market = self.market(list(self.settings.route_to_firms))
        out: list[dict[str, Any]] = []
        for (firm_code, program_id), positions in sorted(market.positions.items()):
            if not any(resolve_root(p.symbol) in roots for p in positions):
                continue
            try:
                firm, program = self._program(firm_code, program_id)
            except UnknownAccountError:
                continue  # a position of a firm no longer routed: nothing to check it against
            view = self.view(firm.code, program.program_id, live=firm.code in live_firms, now=now, market=market)
            state = view.state
            raised = (view.open_pl_source == marking.MARK and program.drawdown_mode != STATIC
                      and state.equity >= state.high_water_mark
                      and self.prices.raise_equity_peak(firm.code, program.program_id, state.equity, now))
            out.append({"firm_code": firm.code, "program_id": program.program_id, "open_pl_source": view.open_pl_source,
                        "open_pl": float(state.open_pl), "equity": float(state.equity),
                        "high_water_mark": float(state.high_water_mark), "equity_peak_raised": bool(raised)})
        return out

    @staticmethod
    def firm_metrics(views: dict[int, AccountView]) -> dict[str, Any]:
        """Firm-wide P&L for the risk engine: the sum over the firm's programs."""
        if not views:
            return {}
        return {
            "day_pl": sum((v.state.day_pl for v in views.values()), Decimal(0)),
            "total_pl": sum((v.state.total_pl for v in views.values()), Decimal(0)),
        }

    # -- operator changes (each one a ledger row with who/why) -----------------------------------

    def set_balance(self, firm_code: str, program_id: int, balance: Decimal, *, actor: str, reason: str) -> AccountEvent:
        if not Decimal(balance).is_finite() or Decimal(balance) <= 0:
            raise ValueError("balance must be a positive amount")
        event = self._record(firm_code, program_id, SET_BALANCE, Decimal(balance), actor, reason)
        if self.prices is not None:  # a peak of equity on the old balance would set the new floor
            self.prices.clear_equity_peak(event.firm_code, event.program_id)
        return event

    def adjust(self, firm_code: str, program_id: int, amount: Decimal, *, actor: str, reason: str,
               trade_id: str | None = None) -> AccountEvent:
        """External P&L; naming a trade also settles that trade's close whose P&L was unknown
        (then 0 is allowed: "that exit really was flat")."""
        if not Decimal(amount).is_finite() or (Decimal(amount) == 0 and not trade_id):
            raise ValueError("amount must be a non-zero amount (negative = loss)")
        return self._record(firm_code, program_id, ADJUSTMENT, Decimal(amount), actor, reason, trade_id)

    def new_day(self, firm_code: str, program_id: int, *, actor: str, reason: str) -> AccountEvent:
        return self._record(firm_code, program_id, NEW_DAY, None, actor, reason)

    def reset_paper(self, firm_code: str, program_id: int, *, actor: str, reason: str) -> AccountEvent:
        """A clean paper account from now: a simulated NEW_DAY, which the live book never reads."""
        return self._record(firm_code, program_id, NEW_DAY, None, actor, reason, simulated=True)

    def _record(self, firm_code: str, program_id: int, kind: str, amount: Decimal | None, actor: str, reason: str,
                trade_id: str | None = None, simulated: bool = False) -> AccountEvent:
        firm, program = self._program(firm_code, program_id)
        event = self.ledger.record_operator_event(
            firm_code=firm.code, program_id=program.program_id, kind=kind, amount=amount,
            occurred_at=self.clock(), actor=actor, reason=reason, trade_id=trade_id, simulated=simulated,
        )
        log.info("account %s/%s: %s by %s", firm.code, program.program_id, kind, event.actor)
        return event
