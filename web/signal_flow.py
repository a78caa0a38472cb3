"""From an authenticated body to routed signals: the dialect, the trade, the duplicate handling.

Every body is read by its dialect (signals/dialects.py) and validated into `Signal`s before
anything is written; an alert without a trade_id is matched to its trade (signals/
trade_identity.py) and may stand for two signals (a reversal: the close, then the entry). An
`MFE_UPDATE_BATCH` without a top-level trade_id is one informational signal per item, each
recorded against the trade its item names. The raw body is what `execution_tasks.payload` keeps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, jsonify

from database import DuplicateIdempotencyKeyError
from observability.task_context import bind_task
from observability.task_outcome import record_task_outcome
from routing.results import ResultDocument
from safety.exit_resend import plan_resend
from safety.idempotency import derive_key, retry_key, wait_for_result
from safety.flattening import FLATTEN_ACCOUNT_FIELD
from signals import EXIT_TYPES, INFO_TYPES, Signal, SignalError, canonical_event_type, parse_signal
from signals.dialects import ENTRY_EVENT, read_alert
from signals.trade_identity import OpenTrade, Step, plan_steps, side_looked_up, trade_prefix
from web.errors import error_response

DUPLICATE_WAIT_SECONDS = 1.5
"""How long a copy waits for the first copy's result before answering 409 (TradingView: 3 s)."""
MAX_EXIT_ATTEMPTS = 20
"""Attempts of one exit a resend walks past to reach the latest (each a cheap keyed look-up); the
21st resend of an exit that failed every time answers with the 20th attempt's result."""


@dataclass(frozen=True)
class Routed:
    """One signal's answer: its result, or the error response to send instead (409)."""

    result: dict[str, Any] | None
    error: Any = None


def handle_body(data: dict[str, Any], header_key: str | None, received_at: datetime):
    """The response for one authenticated, storable body."""
    if canonical_event_type(data.get("event_type")) == "MFE_UPDATE_BATCH" and "trade_id" not in data:
        return _batch(data, received_at)
    try:
        if FLATTEN_ACCOUNT_FIELD in data:  # it would limit an exit to one account
            raise SignalError({FLATTEN_ACCOUNT_FIELD: "reserved for the service's own flattening exits; remove it"})
        alert = read_alert(data)
        if alert.intent == "SIGNAL":
            signals = [(parse_signal(alert.fields), header_key, "signal")]
        else:
            steps = _steps(alert, data, header_key)
            signals = [(parse_signal(s.fields), s.key, s.role) for s in steps]
    except SignalError as exc:
        return invalid(exc)
    if len(signals) == 1:
        signal, key, _ = signals[0]
        return _answer(route_signal(signal, data, _key(signal, data, key), received_at))
    (close, close_key, _), (entry, entry_key, _) = signals
    closed = route_signal(close, data, _key(close, data, close_key), received_at)
    if closed.error is not None:
        return closed.error
    still_open = current_app.extensions["execution_router"].repository.open_positions_for_trade(close.trade_id)
    if still_open:  # never hold both sides: the new side opens only once the old one is flat
        places = ", ".join(f"{p.firm_code} program {p.program_id}" for p in still_open)
        return jsonify({"reversal": True, "closed": closed.result, "opened": None,
                        "details": f"Reversal: {close.trade_id} is still open at {places}; "
                                   f"{entry.direction} not opened. Resend the alert once it is closed."}), 200
    opened = route_signal(entry, data, _key(entry, data, entry_key), received_at)
    if opened.error is not None:
        return opened.error
    return jsonify({"reversal": True, "closed": closed.result, "opened": opened.result,
                    "details": f"Reversal: closed {close.trade_id}, then {opened.result.get('details')}"}), 200


def _steps(alert, data: dict[str, Any], header_key: str | None) -> tuple[Step, ...]:
    router = current_app.extensions["execution_router"]
    found = router.repository.newest_open_trade(trade_prefix(alert.strategy, alert.root), side_looked_up(alert))
    return plan_steps(alert, data, OpenTrade(*found) if found else None, header_key,
                      entry_type=_entry_type(router.settings.entry_event_types))


def _entry_type(configured: frozenset[str]) -> str:
    """SIGNAL_CREATED, unless ENTRY_EVENT_TYPES opens trades on ENTRY only."""
    return ENTRY_EVENT if ENTRY_EVENT in configured or "ENTRY" not in configured else "ENTRY"


def _key(signal: Signal, data: dict[str, Any], key: str | None) -> str:
    return key if key is not None else derive_key(signal, data, None)


def invalid(exc: SignalError):
    return error_response(400, "invalid_payload", "The signal has invalid fields; nothing was recorded.", exc.fields)


def _answer(routed: Routed):
    if routed.error is not None:
        return routed.error
    result = routed.result
    if isinstance(result, ResultDocument):  # the exact text stored in execution_logs
        return current_app.response_class(result.json_text, mimetype="application/json"), 200
    return jsonify(result), 200


def _batch(data: dict[str, Any], received_at: datetime):
    """Each item of an indicator's MFE batch as its own informational signal, all validated first."""
    items = data.get("signals")
    if not isinstance(items, list) or not items:
        return invalid(SignalError({"signals": "MFE_UPDATE_BATCH without a trade_id needs a non-empty list "
                                               "`signals` of updates, each with its trade_id"}))
    parsed: list[tuple[Signal, dict[str, Any]]] = []
    problems: dict[str, str] = {}
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise SignalError({"body": "must be a JSON object"})
            fields = {"event_type": "MFE_UPDATE", **item}
            signal = parse_signal(fields)
            if signal.event_type not in INFO_TYPES - {"MFE_UPDATE_BATCH"}:
                raise SignalError({"event_type": "must be MFE_UPDATE or BE_TRIGGERED inside a batch"})
            parsed.append((signal, fields))
        except SignalError as exc:
            problems.update({f"signals.{index}.{name}": text for name, text in exc.fields.items()})
    if problems:
        return invalid(SignalError(problems))
    results = []
    for signal, fields in parsed:
        routed = route_signal(signal, fields, derive_key(signal, fields, None), received_at)
        if routed.error is not None:
            return routed.error
        results.append(routed.result)
    return jsonify({"event_type": "MFE_UPDATE_BATCH", "batch": len(results), "results": results,
                    "details": f"MFE batch of {len(results)} update(s) recorded against their trades; "
                               "no order sent."}), 200


def route_signal(signal: Signal, raw: dict[str, Any], key: str, received_at: datetime) -> Routed:
    """Route once under `key`; a copy gets the first copy's result, and a resent exit that did
    not get through everywhere runs again where it failed (safety/exit_resend.py)."""
    router = current_app.extensions["execution_router"]
    bind_task(trade_id=signal.trade_id)
    started = time.perf_counter()
    is_exit = signal.event_type in EXIT_TYPES
    # for an exit, which of its attempts predate this request: only those may be resent by it
    newest_before = router.repository.latest_task_id() if is_exit else 0
    resend = None
    stored = None
    for _ in range(MAX_EXIT_ATTEMPTS):
        try:
            result = router.route(signal, raw_payload=raw, idempotency_key=key, resend=resend, received_at=received_at)
            break
        except DuplicateIdempotencyKeyError as exc:
            stored = wait_for_result(router.repository.get_log_for_task, exc.existing_task_id, DUPLICATE_WAIT_SECONDS)
            if stored is None:
                return Routed(None, error_response(
                    409, "duplicate_in_progress",
                    "The same signal is still being processed; it will not run twice. Retry to get its result.",
                    task_id=exc.existing_task_id, duplicate=True,
                ))
            # an exit that did not get through everywhere runs again where it failed, once per
            # attempt; a copy of a resend (its attempt newer than this request, or still running
            # when first looked at) gets that attempt's result instead
            resend = plan_resend(stored.body, exc.existing_task_id) if is_exit else None
            concurrent = not stored.finished_before or exc.existing_task_id > newest_before
            if resend is None or concurrent:
                return Routed(stored.body)
            key = retry_key(key, exc.existing_task_id)
    else:
        assert stored is not None
        return Routed(stored.body)
    record_task_outcome(current_app, result, time.perf_counter() - started)
    return Routed(result)
