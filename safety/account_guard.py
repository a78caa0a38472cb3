"""The account guard: flatten an account before the firm does.

When an account's equity comes within `{FIRM}_{ID}_GUARD_BUFFER` dollars of any of its loss limits
(daily loss, total loss, drawdown: the room size-to-room measures, account_engine/loss_room.py),
the guard
1. records a trip (database/guard_repository.py): at most one per account, book and trading day,
   whichever worker saw it first, so it acts once per breach;
2. closes every position the account holds (safety/flattening.py), each exit keyed by the trip
   and the trade, so never twice, even when a restart finishes the job;
3. holds the program REDUCING until the firm's next trading day: its entries are refused with
   rule ACCOUNT_GUARD (safety/guard.py reads the hold with the entry's other inputs);
4. notifies (observability/notifications.py, kind ACCOUNT_GUARD) and keeps what each exit did in
   the trip's `outcome`, the audit trail's record of why the positions were closed.

It looks on every stored price (web/realtime_price.py), every live snapshot the background
refresh reads (connectors/snapshots.py), and after every task that booked an order (the router).
Off unless configured: a program without GUARD_BUFFER is never looked at.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from account_engine.loss_room import loss_room
from connectors.orders import OrderStatus
from database.guard_repository import GuardRepository, GuardTrip
from domain.account_guard import GuardTrigger
from engine_common.rules import BreachRules
from observability.notifications import ACCOUNT_GUARD, Notification
from safety.flattening import close_account, failed_exits

if TYPE_CHECKING:
    from account_service import AccountView
    from database.entry_inputs import GuardHold
    from execution_router import ExecutionRouter

log = logging.getLogger(__name__)

GUARD_RULE = "ACCOUNT_GUARD"
GUARD_REASON = "ACCOUNT_GUARD_REDUCING"
ACTOR = "account-guard"


@dataclass(frozen=True)
class GuardBreach:
    """An account inside its guard buffer: the limit it is closest to and the room left."""

    rule: str
    room: Decimal
    buffer: Decimal


def guard_breach(view: "AccountView", limits: BreachRules, buffer: Decimal | None) -> GuardBreach | None:
    """Whether the account is within `buffer` of a loss limit (pure). The view's figures are used
    whatever their source: a guard that waited for a trusted snapshot would act too late."""
    if buffer is None:
        return None
    room = loss_room(view.state.metrics(), limits)
    if room is None or room[0] > buffer:
        return None
    return GuardBreach(room[1], room[0], buffer)


def hold_refusal(hold: "GuardHold") -> tuple[str, str, str, datetime]:
    """(rule, reason, message, until) of an entry refused because the guard holds its program."""
    return (GUARD_RULE, GUARD_REASON,
            f"The account guard flattened this account near its {hold.rule} limit (trip {hold.trip_id}); "
            f"the program is REDUCING (exits only) until {hold.until.isoformat()}.", hold.until)


class AccountGuard:
    """Watches the accounts that have a GUARD_BUFFER; `router` sends its exits."""

    def __init__(self, router: "ExecutionRouter", notify: Callable[[Notification], Any] | None = None) -> None:
        self.router = router
        self.trips = GuardRepository(router.repository.engine)
        self.notify = notify
        self._busy = threading.local()  # the guard's own exits must not set it off again mid-flatten

    @staticmethod
    def configured(settings: Any) -> bool:
        return any(p.guard_buffer is not None for f in settings.firms.values() for p in f.programs.values())

    def guarded(self, firm_code: str, program_id: int) -> bool:
        firm = self.router.settings.firms.get(firm_code)
        program = firm.programs.get(int(program_id)) if firm else None
        return program is not None and program.guard_buffer is not None

    # -- when to look ---------------------------------------------------------------------------
    def after_result(self, result: Mapping[str, Any]) -> list[GuardTrip]:
        """After a task: the accounts it booked an order for (sent, or simulated in dry-run)."""
        if getattr(self._busy, "on", False):
            return []
        accounts = {(r.get("firm_code"), r.get("program_id")) for r in result.get("connector_results") or ()
                    if r.get("status") in (OrderStatus.SUCCESS, OrderStatus.UNKNOWN)
                    or (r.get("status") == OrderStatus.SKIPPED and r.get("mode") == "DRY_RUN")}
        return self.check_accounts(sorted((f, p) for f, p in accounts if f and p is not None), GuardTrigger.FILL)

    def check_accounts(self, accounts: Iterable[tuple[str, int]], trigger: GuardTrigger,
                       now: datetime | None = None) -> list[GuardTrip]:
        tripped = []
        for firm_code, program_id in accounts:
            trip = self.check(firm_code, program_id, trigger, now)
            if trip is not None:
                tripped.append(trip)
        return tripped

    def check(self, firm_code: str, program_id: int, trigger: GuardTrigger, now: datetime | None = None) -> GuardTrip | None:
        """Trip and flatten the account if it is inside its buffer and has not tripped today; the
        trip, or None. Never raises: a guard that failed is logged, the request goes on."""
        if not self.guarded(firm_code, program_id):
            return None
        try:
            return self._check(firm_code, int(program_id), trigger, now if now is not None else self.router.clock())
        except Exception:  # noqa: BLE001 - the price or signal that brought us here is already stored
            log.exception("account guard check of %s/%s failed", firm_code, program_id)
            return None

    def _check(self, firm_code: str, program_id: int, trigger: GuardTrigger, now: datetime) -> GuardTrip | None:
        router = self.router
        program = router.settings.firms[firm_code].programs[program_id]
        connector = router.connectors.get(firm_code)
        view = router.accounts.view(firm_code, program_id, live=connector is not None and not connector.dry_run, now=now)
        breach = guard_breach(view, router.rules.breach(firm_code, program_id), program.guard_buffer)
        if breach is None:
            return None
        state = view.state
        trip = self.trips.record_trip(GuardTrip(
            firm_code=firm_code, program_id=program_id, simulated=not router.accounts.live_book(firm_code),
            day_start=state.trading_day_start, tripped_at=now, until=state.next_trading_day_start,
            triggered_by=trigger, rule=breach.rule, room=breach.room, buffer=breach.buffer, equity=state.equity,
            open_pl=state.open_pl, source=view.source,
            reason=(f"Equity {state.equity:.2f} (open P&L {state.open_pl:.2f}, {view.source}) left {breach.room:.2f} "
                    f"of room to {breach.rule}, within the guard buffer of {breach.buffer:.2f}."),
        ))
        if trip is None:  # this account already tripped in this book today (here or in another worker)
            return None
        log.warning("account guard tripped for %s/%s: %s", firm_code, program_id, trip.reason)
        return self.flatten(trip)

    # -- what to do -----------------------------------------------------------------------------
    def flatten(self, trip: GuardTrip) -> GuardTrip:
        """Send an exit for each open position of the trip's account, record what each did, notify."""
        assert trip.id is not None
        self._busy.on = True
        try:
            outcome = close_account(self.router, trip.firm_code, trip.program_id, key=f"guard:{trip.id}",
                                    cause=GUARD_RULE, reason=trip.reason)
        finally:
            self._busy.on = False
        self.trips.finish(trip.id, outcome)
        done = replace(trip, outcome=outcome)
        self._notify(done)
        return done

    def resume(self) -> list[GuardTrip]:
        """At start-up: finish the trips a stopped service left FLATTENING (their exits already
        sent are recognised by their idempotency keys, so nothing goes out twice)."""
        finished = []
        for trip in self.trips.unfinished():
            try:
                finished.append(self.flatten(trip))
            except Exception:  # noqa: BLE001 - the next start tries again
                log.exception("could not finish account guard trip %s", trip.id)
        return finished

    def _notify(self, trip: GuardTrip) -> None:
        if self.notify is None:
            return
        problems = failed_exits(trip.outcome or [])
        mode = "paper" if trip.simulated else "live"
        text = (f"{trip.firm_code} program {trip.program_id} ({mode}): account guard flattened "
                f"{len(trip.outcome or ())} position(s) - {trip.reason} Entries refused (REDUCING) until "
                f"{trip.until.isoformat()}.")
        if problems:
            text += f" {len(problems)} exit(s) did not go through: check the account at the firm now."
        try:
            self.notify(Notification(ACCOUNT_GUARD, text, {"firm_code": trip.firm_code, "program_id": trip.program_id,
                                                          **trip.to_dict()}))
        except Exception:  # noqa: BLE001 - a message must never undo the flattening
            log.exception("account guard notification failed")
