"""AccountService: the account state of each firm/program, from the ledger or a live snapshot.

The glue between storage (`LedgerRepository`), settings and the pure ledger engine; the router
asks it for the metrics its risk and breach checks read, operators (CLI / admin API) use it to
show and correct accounts. The clock is injected so tests can script a trading day.

Source precedence: in live mode with a snapshot provider, a fresh snapshot's equity and open
P&L win (the firm breaches on its own numbers). A stale or failed snapshot follows
`{FIRM}_SNAPSHOT_POLICY`: BLOCK (default, fail closed: entries for that account get an ERROR
breach result) or LEDGER (the ledger's figures are used and marked LEDGER_FALLBACK). Dry-run
accounts always use the ledger, whose closes are filled at the signal prices and marked simulated.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Protocol

from account_engine.ledger import (
    ADJUSTMENT,
    NEW_DAY,
    SET_BALANCE,
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

    @property
    def blocked(self) -> bool:
        return self.source == SOURCE_BLOCKED

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "snapshot_problem": self.snapshot_problem,
                "snapshot_age_seconds": self.snapshot_age_seconds, **self.state.to_dict()}


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
        paper_only: bool = False,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.snapshot_provider = snapshot_provider
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

    def view(self, firm_code: str, program_id: int, *, live: bool = False, now: datetime | None = None) -> AccountView:
        """The account's state at `now`; in live mode a fresh snapshot takes precedence."""
        firm, program = self._program(firm_code, program_id)
        return self.view_from(
            firm.code, program.program_id,
            events=self.ledger.events_for_account(firm.code, program.program_id),
            open_contracts=self.ledger.open_contracts_for_account(firm.code, program.program_id, self.live_book(firm.code)),
            live=live, now=now,
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
                                open_contracts=inputs.open_at_account(firm.code, pid, self.live_book(firm.code)), live=live, now=now)
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
                  live: bool = False, now: datetime | None = None, summary: LedgerSummary | None = None) -> AccountView:
        """The account's state at `now` from its ledger events (or their `summary` for `now`) and
        open contracts (already read)."""
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
        if not live or self.snapshot_provider is None:
            return AccountView(compute_account_state(**common), SOURCE_LEDGER)
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
            return AccountView(state, SOURCE_SNAPSHOT, snapshot_age_seconds=age)
        source = SOURCE_LEDGER_FALLBACK if firm.snapshot_policy == POLICY_LEDGER else SOURCE_BLOCKED
        return AccountView(compute_account_state(**common), source, problem, age)

    def views_for_firm(self, firm_code: str, *, live: bool = False, now: datetime | None = None) -> dict[int, AccountView]:
        firm = self.settings.firm(firm_code)
        if firm is None:
            raise UnknownAccountError(f"{firm_code} is not routed")
        now = now if now is not None else self.clock()
        return {pid: self.view(firm.code, pid, live=live, now=now) for pid in firm.program_ids}

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
        return self._record(firm_code, program_id, SET_BALANCE, Decimal(balance), actor, reason)

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
