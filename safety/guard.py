"""SafetyGuard: the router's only contact with trading state and limits.

Called at two points of a task: ``trading_state`` (read once per task) and ``screen_entries``
(before any entry position is reserved); an exit's refusal under the trading state is decided
with the other exit refusals (routing/exit_plan.py). A blocked order never reaches a connector;
it appears in ``connector_results`` as SKIPPED with the reason, and limit rejections also in
``safety_checks``. An entry whose signal is older than MAX_SIGNAL_AGE_SECONDS is one of them
(safety/signal_age.py); so are the firm rules over time and the daily locks (safety/firm_rules.py),
judged at the router's instant for the entry (`EntryContext.now`).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from account_engine.trading_day import next_trading_day_start, trading_day_start
from config import Settings
from connectors import SKIPPED, ConnectorResult, OrderRequest
from database.entry_inputs import GuardHold
from database.records import EntryRateCap
from database.safety_repository import SafetyRepository
from safety.account_guard import hold_refusal
from safety.firm_rules import EntryContext, firm_rule_verdict, stop_and_target_warnings
from safety.limits import VELOCITY_WINDOW, LimitVerdict, check_streak, check_velocity
from safety.signal_age import SIGNAL_TOO_OLD, entry_refusal
from safety.trading_state import ACTIVE, blocked_reason, refusal_message

log = logging.getLogger(__name__)

_TOO_OLD = ("Entry refused: its signal arrived more than MAX_SIGNAL_AGE_SECONDS ago, and an entry "
            "is never sent late.")


@dataclass(frozen=True)
class Screened:
    """Entry orders split by the guard: those that may be reserved, the SKIPPED results of the
    others, the limit checks that refused them (``safety_checks``) and what the allowed ones are
    warned about (the result's ``warnings``)."""

    allowed: tuple[OrderRequest, ...]
    refused: tuple[ConnectorResult, ...] = ()
    checks: tuple[dict[str, Any], ...] = ()
    warnings: tuple[dict[str, Any], ...] = ()


class SafetyGuard:
    """The checks; the task's unit of work hands each call the `SafetyRepository` to read."""

    def __init__(self, settings: Settings, clock: Any = None):
        self.settings = settings
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def trading_state(self, safety: SafetyRepository, known: str | None = None) -> str:
        """This task's trading state: `known` when the caller already read it (an entry reads it
        with its other inputs), else one primary-key SELECT."""
        return known or safety.get_trading_state().state

    # -- entries ----------------------------------------------------------------------------------
    def screen_entries(self, safety: SafetyRepository, orders: Iterable[OrderRequest], trading_state: str,
                       held: Mapping[tuple[str, int], GuardHold] | None = None,
                       context: EntryContext | None = None) -> Screened:
        """Split entry orders by trading state, signal age, the account guard's holds (`held`,
        per account), the firm rules (given `context`), velocity and streak."""
        orders = tuple(orders)
        reason = blocked_reason(trading_state, "ENTRY")
        if reason is not None:
            return Screened((), tuple(_skipped(o, reason, refusal_message(reason)) for o in orders))
        too_old = entry_refusal()
        if too_old is not None and orders:
            refused = [refusal(o, too_old) for o in orders]
            return Screened((), tuple(r for r, _ in refused), tuple(c for _, c in refused))
        now = self._clock()
        allowed: list[OrderRequest] = []
        skipped: list[ConnectorResult] = []
        checks: list[dict[str, Any]] = []
        planned: dict[str, int] = {}
        for order in orders:
            hold = held.get((order.firm_code, order.program_id)) if held else None
            verdict = (LimitVerdict(*hold_refusal(hold)) if hold is not None
                       else self._entry_limit(safety, order, now, planned, context))
            if verdict is None:
                allowed.append(order)
                planned[order.firm_code] = planned.get(order.firm_code, 0) + 1
                continue
            result, check = refusal(order, verdict)
            skipped.append(result)
            checks.append(check)
        warnings = stop_and_target_warnings(self.settings.firms, allowed, context) if context else ()
        return Screened(tuple(allowed), tuple(skipped), tuple(checks), warnings)

    def entry_rate_cap(self, firm_code: str) -> EntryRateCap | None:
        """The firm's MAX_ORDERS_PER_MINUTE as the reservation re-checks it under the firm's lock
        (``open_position``): entries arriving together all pass the count in `screen_entries`."""
        firm = self.settings.firms.get(firm_code)
        if firm is None or firm.max_orders_per_minute is None:
            return None
        return EntryRateCap(firm.max_orders_per_minute, self._clock() - VELOCITY_WINDOW)

    def _entry_limit(self, safety: SafetyRepository, order: OrderRequest, now: dt.datetime,
                     planned: dict[str, int], context: EntryContext | None = None) -> LimitVerdict | None:
        firm = self.settings.firms.get(order.firm_code)
        if firm is None:
            return None
        program = firm.programs.get(order.program_id)
        if context is not None and program is not None:
            def opened_since(since: dt.datetime, live: bool) -> int:
                return safety.entries_opened_since(order.firm_code, order.program_id, since, live_only=live)

            verdict = firm_rule_verdict(firm, program, context, opened_since)
            if verdict is not None:
                return verdict
        if firm.max_orders_per_minute is not None:
            recent = safety.entry_orders_since(order.firm_code, now - VELOCITY_WINDOW)
            verdict = check_velocity(recent + planned.get(order.firm_code, 0), firm.max_orders_per_minute)
            if verdict is not None:
                return verdict
        if program is not None and program.max_consecutive_losses is not None:
            day_start = trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
            events = safety.closing_events_since(order.firm_code, order.program_id, day_start)
            nxt = next_trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
            return check_streak(events, program.max_consecutive_losses, nxt)
        return None


def annotated_details(trading_state: str, action: str, connector_results: Iterable[ConnectorResult],
                      details: str | None) -> str | None:
    """The result's details, led by why the guard blocked orders (trading state, signal age)."""
    reasons = {r.reason for r in connector_results} & {"TRADING_HALTED", "TRADING_REDUCING", SIGNAL_TOO_OLD}
    if reasons:
        first = sorted(reasons)[0]
        lead = _TOO_OLD if first == SIGNAL_TOO_OLD else refusal_message(first)
        return f"{lead} {details or ''}".strip()
    if trading_state != ACTIVE and action == "ENTRY" and not connector_results:
        return f"Trading is {trading_state}. {details or ''}".strip()
    return details


def rate_limited(order: OrderRequest, recent: int, limit: int) -> tuple[ConnectorResult, dict[str, Any]]:
    """The SKIPPED result and safety check of an entry the reservation found over the firm's
    MAX_ORDERS_PER_MINUTE: the same answer as the guard's own rejection, plus why it came late."""
    verdict = check_velocity(recent, limit)
    assert verdict is not None  # the reservation raised because recent >= limit
    return (_skipped(order, verdict.reason, f"{verdict.message} (a simultaneous entry took the last slot)",
                     rule=verdict.rule),
            verdict.to_dict(order.firm_code, order.program_id))


def refusal(order: OrderRequest, verdict: LimitVerdict) -> tuple[ConnectorResult, dict[str, Any]]:
    """The SKIPPED result and safety check of an entry a limit (or its signal's age) refused."""
    return (_skipped(order, verdict.reason, verdict.message, rule=verdict.rule),
            verdict.to_dict(order.firm_code, order.program_id))


def _skipped(order: OrderRequest, reason: str, message: str, rule: str | None = None) -> ConnectorResult:
    extra = {"rule": rule} if rule else {}
    return ConnectorResult(
        firm_code=order.firm_code, program_id=order.program_id, status=SKIPPED, dry_run=None,
        reason=reason, message=message, order=order.to_dict(), extra=extra,
    )
