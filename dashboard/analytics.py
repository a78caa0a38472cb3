"""Execution analytics per firm (the guide's Stage 13L): what happened to the orders, why entries
were refused, how long the firms took to acknowledge, and what the fills cost against the signal.

Pure: result documents, order timings and point values in; one dict per firm out. Read from:
- the result documents' connector results: orders sent (SUCCESS / FAILED / UNKNOWN) and not
  sent (SKIPPED), each with its reason; the mode each order ran in (dry-run orders are SKIPPED
  with GLOBAL_DRY_RUN_ENABLED, so they never count as sent);
- (refusals by stage and rule are dashboard/stats.py's `rejections_by_rule`);
- the order journal (connector_orders) with its task: latency from the signal's arrival (the
  task row, written before any firm is called) to the firm's acknowledgement (the journal row's
  outcome). Orders settled later by reconciliation have no acknowledgement time and are left out;
- a connector result's `fill_price`, where the firm reported a fill: slippage against the
  order's signal price, in points (positive = worse for the trader) and dollars.
Latency and slippage are None ("no data"), never 0, when there is nothing to measure.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from dashboard.stages import lanes
from dashboard.stats import SENT, rate

RECONCILED = "RECONCILED_FOUND"
"""connectors/reconcile.py's reason for an order found at the firm after its answer was lost."""


@dataclass(frozen=True)
class OrderTiming:
    """One journalled live order: when its signal arrived and when the firm's answer was recorded."""

    firm_code: str
    status: str
    reason: str | None
    received_at: datetime
    answered_at: datetime


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1): a value that occurred, None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def slippage_points(item: Mapping[str, Any]) -> Decimal | None:
    """Fill against the signal price, positive when worse for the trader; None without a fill."""
    order = item.get("details") if isinstance(item.get("details"), Mapping) else {}
    fill, asked = _number(item.get("fill_price")), _number(order.get("entry_price"))
    if fill is None or asked is None or order.get("side") not in ("BUY", "SELL"):
        return None
    return fill - asked if order["side"] == "BUY" else asked - fill


def _firm() -> dict[str, Any]:
    return {"modes": defaultdict(int), "statuses": defaultdict(int), "reasons": defaultdict(int), "latency": [], "slip_points": [], "slip_dollars": []}


def analyse(documents: Iterable[Mapping[str, Any]], timings: Iterable[OrderTiming],
            point_value: Callable[[str], Decimal | None]) -> dict[str, dict[str, Any]]:
    """Per firm: orders by outcome and mode, their reasons, latency, slippage."""
    firms: dict[str, dict[str, Any]] = defaultdict(_firm)
    for doc in documents:
        for lane in lanes(doc):
            item = lane.connector
            if item is None:
                continue
            acc = firms[lane.firm_code]
            status = str(item.get("status"))
            acc["statuses"][status] += 1
            acc["modes"][str(item.get("mode") or "NOT_SENT")] += 1
            if status != "SUCCESS":
                acc["reasons"][(status, str(item.get("reason") or "NONE"))] += 1
            points = slippage_points(item)
            if points is not None:
                order = item["details"]
                value = point_value(str(order.get("symbol")))
                contracts = _number(order.get("contracts"))
                acc["slip_points"].append(points)
                if value is not None and contracts is not None:
                    acc["slip_dollars"].append(points * contracts * value)
    for timing in timings:
        if timing.status == "SUCCESS" and timing.reason != RECONCILED:
            seconds = (timing.answered_at - timing.received_at).total_seconds()
            firms[timing.firm_code]["latency"].append(max(0.0, seconds) * 1000.0)
    return {code: _report(acc) for code, acc in sorted(firms.items())}


def _report(acc: dict[str, Any]) -> dict[str, Any]:
    statuses = acc["statuses"]
    sent = sum(statuses[s] for s in SENT)
    latency, points, dollars = acc["latency"], acc["slip_points"], acc["slip_dollars"]
    return {
        "orders": {"attempts": sum(statuses.values()), "sent": sent, "success": statuses["SUCCESS"],
                   "failed": statuses["FAILED"], "unknown": statuses["UNKNOWN"], "skipped": statuses["SKIPPED"],
                   "success_rate": rate(statuses["SUCCESS"], sent)},
        "modes": dict(sorted(acc["modes"].items())),
        "outcome_reasons": [{"status": s, "reason": r, "count": n} for (s, r), n in
                            sorted(acc["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))],
        "latency_ms": {"samples": len(latency), "p50": _round(percentile(latency, 0.5)),
                       "p95": _round(percentile(latency, 0.95))},
        "slippage": {"fills": len(points), "avg_points": _mean(points), "avg_dollars": _mean(dollars),
                     "total_dollars": float(sum(dollars)) if dollars else None},
    }


def _mean(values: list[Decimal]) -> float | None:
    return round(float(sum(values) / len(values)), 4) if values else None


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
