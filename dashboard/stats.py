"""Summary statistics from result documents (pure; shared by the dashboard and GET /api/stats).

Counted from the stored result documents so they mean exactly what the audit trail says, on
SQLite and PostgreSQL alike (database/monitoring.sql has the same numbers as SQL for psql users).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

from engine_common.statuses import VerdictStatus

_STAGES = (("risk", "risk_checks"), ("sizing", "program_sizing"), ("breach", "account_breaches"))


def _firm_counts() -> dict[str, int]:
    return {
        "risk_approved": 0, "risk_rejected": 0, "sizing_approved": 0, "sizing_rejected": 0,
        "breach_approved": 0, "breach_rejected": 0,
        "connector_success": 0, "connector_failed": 0, "connector_skipped": 0, "connector_other": 0,
    }


def summarize(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-firm approval/rejection/connector counts and rejections by rule."""
    firms: dict[str, dict[str, int]] = defaultdict(_firm_counts)
    rejections: dict[tuple[str, str, str], int] = defaultdict(int)
    executions = routed = failed = 0
    for doc in documents:
        executions += 1
        routed += bool(doc.get("routed"))
        failed += bool(doc.get("error"))
        for stage, key in _STAGES:
            for item in doc.get(key) or ():
                firm = str(item.get("firm_code"))
                if item.get("status") == VerdictStatus.APPROVED:
                    firms[firm][f"{stage}_approved"] += 1
                else:
                    firms[firm][f"{stage}_rejected"] += 1
                    rejections[(firm, stage, str(item.get("rule") or "NONE"))] += 1
        for item in doc.get("connector_results") or ():
            status = str(item.get("status")).lower()
            key = f"connector_{status}" if status in ("success", "failed", "skipped") else "connector_other"
            firms[str(item.get("firm_code"))][key] += 1
    return {
        "executions": executions,
        "routed": routed,
        "failed": failed,
        "firms": dict(sorted(firms.items())),
        "rejections_by_rule": [
            {"firm_code": f, "stage": s, "rule": r, "count": n}
            for (f, s, r), n in sorted(rejections.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }
