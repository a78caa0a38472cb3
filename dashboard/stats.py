"""Summary statistics from result documents (pure; shared by the dashboard and GET /api/stats).

Counted from the stored result documents so they mean exactly what the audit trail says, on
SQLite and PostgreSQL alike (database/monitoring.sql has the same numbers as SQL for psql users).
Each stage is counted as dashboard/stages.py reads it: a stage that did not run for an account
(or an approval after an earlier refusal, which let nothing through) is counted as not run,
never as approved. A rate over orders is None when no order was sent (dry-run, all skipped):
"no data", not 0 %.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

from dashboard.stages import STAGES, StageStatus, lanes

SENT = ("SUCCESS", "FAILED", "UNKNOWN")
"""Connector statuses of an order that went to the firm (SKIPPED ones never left)."""


def _firm_counts() -> dict[str, int]:
    counts = {f"{stage}_{what}": 0 for stage in STAGES for what in ("approved", "rejected", "not_run")
              if (stage, what) != ("risk", "not_run")}  # risk runs for every routed firm of an entry
    counts.update({"connector_success": 0, "connector_failed": 0, "connector_unknown": 0,
                   "connector_skipped": 0, "connector_other": 0})
    return counts


def rate(part: int, whole: int) -> float | None:
    """part / whole as a percentage to 2 places; None when there is nothing to divide."""
    return round(100.0 * part / whole, 2) if whole else None


def summarize(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-firm approval/rejection/not-run/connector counts, success rates, rejections by rule."""
    firms: dict[str, dict[str, int]] = defaultdict(_firm_counts)
    rejections: dict[tuple[str, str, str], int] = defaultdict(int)
    executions = routed = failed = 0
    for doc in documents:
        executions += 1
        routed += bool(doc.get("routed"))
        failed += bool(doc.get("error"))
        risk_counted: set[str] = set()
        for lane in lanes(doc):
            counts = firms[lane.firm_code]
            if lane.risk.ran:  # an entry (exits are not checked)
                stages = STAGES if lane.firm_code not in risk_counted else STAGES[1:]  # one risk verdict per firm
                risk_counted.add(lane.firm_code)
                for stage in stages:
                    verdict = lane.stage(stage)
                    if not verdict.ran:
                        counts[f"{stage}_not_run"] += 1
                    elif verdict.status == StageStatus.APPROVED:
                        counts[f"{stage}_approved"] += 1
                    else:
                        counts[f"{stage}_rejected"] += 1
                        rejections[(lane.firm_code, stage, str(verdict.rule or "NONE"))] += 1
            if lane.connector is not None:
                status = str(lane.connector.get("status")).lower()
                known = status in ("success", "failed", "unknown", "skipped")
                counts[f"connector_{status}" if known else "connector_other"] += 1
    out = {}
    for firm, counts in sorted(firms.items()):
        sent = counts["connector_success"] + counts["connector_failed"] + counts["connector_unknown"]
        out[firm] = {**counts, "orders_sent": sent, "success_rate": rate(counts["connector_success"], sent)}
    return {
        "executions": executions,
        "routed": routed,
        "failed": failed,
        "firms": out,
        "rejections_by_rule": [
            {"firm_code": f, "stage": s, "rule": r, "count": n}
            for (f, s, r), n in sorted(rejections.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }
