"""Statistics and execution analytics over a period, as `GET /api/stats` answers them and the
dashboard's analytics page shows them: one read of the result documents and the order journal,
counted by dashboard/stats.py and dashboard/analytics.py.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask

from dashboard.analytics import OrderTiming, analyse
from database.monitoring_repository import MonitoringRepository
from dashboard.stats import summarize
from instruments import get_contract_spec


def point_value_of(app: Flask):
    """Dollars per point per contract for a symbol, with the configured overrides (None: unknown)."""
    overrides = app.config["ROUTER_SETTINGS"].point_value_overrides

    def point_value(symbol: str) -> Decimal | None:
        spec = get_contract_spec(symbol, overrides)
        return spec.point_value if spec is not None else None

    return point_value


def execution_stats(app: Flask, since: datetime | None, until: datetime | None, max_documents: int) -> dict[str, Any]:
    """Counts per firm and stage, rejections by rule, and per firm the orders' outcomes, reasons,
    latency and slippage, over [since, until); `capped` when more documents matched than were read."""
    repo = MonitoringRepository(app.extensions["db_engine"])
    documents = repo.result_documents(since, until, max_documents)
    timings = [OrderTiming(**row) for row in repo.order_timings(since, until, max_documents)]
    body = summarize(documents)
    body.update({
        "since": since,
        "until": until,
        "tasks_by_status": repo.task_status_counts(since, until),
        "analytics": analyse(documents, timings, point_value_of(app)),
        "capped": len(documents) >= max_documents,
    })
    return body
