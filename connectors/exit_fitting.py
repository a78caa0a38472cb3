"""What both bracket-keeping firms do after an exit: fit the trade's resting legs to what is
still held, inside what is left of the request's deadline, and say in the result how it went.

The exit stands whatever happens here, so a failure does not change its status: the result's
`stop_adjustment` says STOP_NOT_ADJUSTED (and the trader is notified) instead. The connectors
supply the protocol part (`fit`: list the legs, read what is held, change them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from connectors.http_client import Deadline
from connectors.orders import ConnectorResult, stop_not_adjusted

log = logging.getLogger(__name__)

FIT_MARGIN = 0.25
"""Seconds of the request's deadline the fitting leaves unused, so its outcome is in the answer."""
FIT_MIN = 0.5
"""The least time (after the margin) the fitting needs for its calls; with less it is not started."""


@dataclass
class Fitting:
    """What the protocol part has done so far: the contracts it found held, the orders it changed."""

    left: int
    changes: list[dict[str, Any]] = field(default_factory=list)


def fit_after_exit(result: ConnectorResult, expected: int, deadline: Deadline, where: str,
                   fit: Callable[[Deadline, Fitting], None]) -> ConnectorResult:
    """`result` with its `stop_adjustment`: ADJUSTED / NOT_NEEDED, or STOP_NOT_ADJUSTED (too little
    time, or `fit` failed); `expected` is the position the exit should have left, `where` the
    firm's platform for the message ("at Tradovate", "in TopstepX")."""
    budget = deadline.remaining() - FIT_MARGIN
    if budget < FIT_MIN:
        return stop_not_adjusted(result, expected, [], "too little of the request's time was left to change it", where)
    fitting = Fitting(left=expected)
    try:
        fit(Deadline(budget), fitting)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the trader must hear of it
        log.warning("%s bracket fitting after %s failed: %s", result.firm_code,
                    result.order and result.order.get("client_order_id"), type(exc).__name__)
        return stop_not_adjusted(result, fitting.left, fitting.changes,
                                 str(getattr(exc, "message", "") or type(exc).__name__), where)
    return replace(result, extra={**result.extra, "stop_adjustment": {
        "status": "ADJUSTED" if fitting.changes else "NOT_NEEDED", "position_left": fitting.left,
        "orders": fitting.changes}})
