"""Closing every position of one account on the service's own initiative (the account guard, the
flat-by cutoff, a news blackout): one ordinary exit task per open trade, sent through the router,
so each is journalled and reconciled like any exit (dry-run: closed in the ledger at the latest
mark, or with an unknown P&L when there is none).

The exit names its account in `flatten_account` ("FTMO.1"): the router closes the trade there
only, also when recovery re-runs the task after a crash. Each exit's idempotency key is the
caller's key plus the trade, so running the same flattening again (a restart finishing it, a
second worker) never sends an exit twice. The webhook refuses an alert that sets the field.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from database.errors import DuplicateIdempotencyKeyError
from instruments import resolve_root

if TYPE_CHECKING:
    from execution_router import ExecutionRouter

log = logging.getLogger(__name__)

FLATTEN_ACCOUNT_FIELD = "flatten_account"
ALREADY_SENT = "ALREADY_SENT"


def flatten_scope(signal: Any) -> frozenset[tuple[str, int]] | None:
    """The one account a flattening exit is for, or None for any other signal."""
    value = getattr(signal, FLATTEN_ACCOUNT_FIELD, None)
    if not isinstance(value, str) or "." not in value:
        return None
    firm_code, _, program_id = value.partition(".")
    return frozenset({(firm_code, int(program_id))}) if program_id.isdigit() else frozenset()


def close_account(router: "ExecutionRouter", firm_code: str, program_id: int, *, key: str, cause: str,
                  reason: str) -> list[dict[str, Any]]:
    """Send an exit for each open position of the account; what each did, in order. `cause` names
    who closed it (ACCOUNT_GUARD, FLAT_BY, NEWS_BLACKOUT), `reason` says why, in the audit trail."""
    marks = router.accounts.market([firm_code]).marks
    outcome = []
    for position in router.repository.open_positions_for_account(firm_code, program_id):
        mark = marks.get(resolve_root(position.symbol) or position.symbol)
        payload: dict[str, Any] = {"event_type": "EXIT", "trade_id": position.trade_id, "symbol": position.symbol,
                                   FLATTEN_ACCOUNT_FIELD: f"{firm_code}.{program_id}", "flatten_cause": cause,
                                   "reason": reason}
        if mark is not None:  # dry-run books the close at it; live, the firm's fill decides
            payload["exit_price"] = format(mark.price.normalize(), "f")
        item: dict[str, Any] = {"trade_id": position.trade_id, "symbol": position.symbol,
                                "contracts": position.contracts_open, "exit_price": payload.get("exit_price")}
        try:
            result = router.route(payload, payload, idempotency_key=f"{key}:{position.trade_id}")
        except DuplicateIdempotencyKeyError as exc:  # sent before (a restart, another worker): that task has it
            outcome.append({**item, "task_id": exc.existing_task_id, "status": ALREADY_SENT})
            continue
        except Exception as exc:  # noqa: BLE001 - one failed exit must not keep the others from going
            log.exception("%s exit of %s failed", cause, position.trade_id)
            outcome.append({**item, "task_id": None, "status": "ERROR", "error": type(exc).__name__})
            continue
        mine = [r for r in result.get("connector_results") or ()
                if (r.get("firm_code"), r.get("program_id")) == (firm_code, program_id)]
        outcome.append({**item, "task_id": result.get("task_id"),
                        "status": mine[0].get("status") if mine else result.get("status"),
                        "reason": mine[0].get("reason") if mine else None})
    return outcome


def failed_exits(outcome: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The exits of a flattening that did not go through (the trader must look at the firm)."""
    return [o for o in outcome if o.get("status") not in ("SUCCESS", "SKIPPED", ALREADY_SENT)]
