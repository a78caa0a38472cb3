"""SafetyGuard: the router's only contact with trading state and limits.

Called at three points of a task: ``begin`` (read the trading state once, put it in the result),
``filter_entries`` (before any entry position is reserved) and ``exit_block`` (before an exit
claims a position). A blocked order never reaches a connector; it appears in
``connector_results`` as SKIPPED with the reason, and limit rejections also in ``safety_checks``.
An entry whose signal is older than MAX_SIGNAL_AGE_SECONDS is one of them (safety/signal_age.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from account_engine.trading_day import next_trading_day_start, trading_day_start
from config import Settings
from connectors import SKIPPED, ConnectorResult, OrderRequest
from database.repository import EntryRateCap
from database.safety_repository import SafetyRepository
from safety.limits import VELOCITY_WINDOW, LimitVerdict, check_streak, check_velocity
from safety.signal_age import SIGNAL_TOO_OLD, entry_refusal
from safety.trading_state import ACTIVE, blocked_reason


_MESSAGES = {
    "TRADING_HALTED": "Trading is HALTED: no order sent (the signal is recorded).",
    "TRADING_REDUCING": "Trading is REDUCING: only exits are sent.",
    SIGNAL_TOO_OLD: "Entry refused: its signal arrived more than MAX_SIGNAL_AGE_SECONDS ago, and an entry "
                    "is never sent late.",
}


class SafetyGuard:
    def __init__(self, engine: Engine, settings: Settings, clock: Any = None):
        self.repository = SafetyRepository(engine)
        self.settings = settings
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    # -- task start -------------------------------------------------------------------------------
    def begin(self, result: dict[str, Any], trading_state: str | None = None) -> None:
        """Record the trading state for this task: `trading_state` when the caller already read it
        (an entry reads it with its other inputs), else one primary-key SELECT."""
        result["trading_state"] = "UNKNOWN"  # stays so only if the read below fails (task then FAILS)
        result["trading_state"] = trading_state or self.repository.get_trading_state().state
        result.setdefault("safety_checks", [])

    def annotate(self, result: dict[str, Any]) -> None:
        state = result.get("trading_state", ACTIVE)
        reasons = {r.get("reason") for r in result.get("connector_results", [])}
        blocked = reasons & set(_MESSAGES)
        if blocked:
            result["details"] = f"{_MESSAGES[sorted(blocked)[0]]} {result.get('details') or ''}".strip()
        elif state != ACTIVE and result.get("action") == "ENTRY" and not result.get("connector_results"):
            result["details"] = f"Trading is {state}. {result.get('details') or ''}".strip()

    # -- entries ----------------------------------------------------------------------------------
    def filter_entries(
        self, orders: list[OrderRequest], result: dict[str, Any]
    ) -> tuple[list[OrderRequest], list[dict[str, Any]]]:
        """Split entry orders into (allowed, SKIPPED results) by trading state, signal age,
        velocity and streak."""
        reason = blocked_reason(result.get("trading_state", ACTIVE), "ENTRY")
        if reason is not None:
            return [], [_skipped(o, reason, _MESSAGES[reason]) for o in orders]
        too_old = entry_refusal()
        if too_old is not None and orders:
            return [], [too_old_result(o, too_old, result) for o in orders]
        now = self._clock()
        allowed: list[OrderRequest] = []
        skipped: list[dict[str, Any]] = []
        planned: dict[str, int] = {}
        for order in orders:
            verdict = self._entry_limit(order, now, planned)
            if verdict is None:
                allowed.append(order)
                planned[order.firm_code] = planned.get(order.firm_code, 0) + 1
                continue
            result.setdefault("safety_checks", []).append(verdict.to_dict(order.firm_code, order.program_id))
            skipped.append(_skipped(order, verdict.reason, verdict.message, rule=verdict.rule))
        return allowed, skipped

    def entry_rate_cap(self, firm_code: str) -> EntryRateCap | None:
        """The firm's MAX_ORDERS_PER_MINUTE as the reservation re-checks it under the firm's lock
        (``open_position``): entries arriving together all pass the count in `filter_entries`."""
        firm = self.settings.firms.get(firm_code)
        if firm is None or firm.max_orders_per_minute is None:
            return None
        return EntryRateCap(firm.max_orders_per_minute, self._clock() - VELOCITY_WINDOW)

    def _entry_limit(self, order: OrderRequest, now: dt.datetime, planned: dict[str, int]) -> LimitVerdict | None:
        firm = self.settings.firms.get(order.firm_code)
        if firm is None:
            return None
        if firm.max_orders_per_minute is not None:
            recent = self.repository.entry_orders_since(order.firm_code, now - VELOCITY_WINDOW)
            verdict = check_velocity(recent + planned.get(order.firm_code, 0), firm.max_orders_per_minute)
            if verdict is not None:
                return verdict
        program = firm.programs.get(order.program_id)
        if program is not None and program.max_consecutive_losses is not None:
            day_start = trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
            events = self.repository.closing_events_since(order.firm_code, order.program_id, day_start)
            nxt = next_trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
            return check_streak(events, program.max_consecutive_losses, nxt)
        return None

    # -- exits ------------------------------------------------------------------------------------
    def exit_block(self, order: OrderRequest, result: dict[str, Any]) -> dict[str, Any] | None:
        """SKIPPED result when the trading state forbids this exit (only HALTED does)."""
        reason = blocked_reason(result.get("trading_state", ACTIVE), "EXIT")
        return None if reason is None else _skipped(order, reason, _MESSAGES[reason])


def rate_limited(order: OrderRequest, recent: int, limit: int, result: dict[str, Any]) -> dict[str, Any]:
    """The SKIPPED result (and safety check) for an entry the reservation found over the firm's
    MAX_ORDERS_PER_MINUTE: the same answer as the guard's own rejection, plus why it came late."""
    verdict = check_velocity(recent, limit)
    assert verdict is not None  # the reservation raised because recent >= limit
    result.setdefault("safety_checks", []).append(verdict.to_dict(order.firm_code, order.program_id))
    return _skipped(order, verdict.reason, f"{verdict.message} (a simultaneous entry took the last slot)",
                    rule=verdict.rule)


def too_old_result(order: OrderRequest, verdict: LimitVerdict, result: dict[str, Any]) -> dict[str, Any]:
    """The SKIPPED result (and safety check) of an entry refused for its signal's age."""
    result.setdefault("safety_checks", []).append(verdict.to_dict(order.firm_code, order.program_id))
    return _skipped(order, verdict.reason, verdict.message, rule=verdict.rule)


def _skipped(order: OrderRequest, reason: str, message: str, rule: str | None = None) -> dict[str, Any]:
    extra = {"rule": rule} if rule else {}
    return ConnectorResult(
        firm_code=order.firm_code, program_id=order.program_id, status=SKIPPED, dry_run=None,
        reason=reason, message=message, order=order.to_dict(), extra=extra,
    ).to_dict()
