"""GET /metrics — Prometheus exposition (all gunicorn workers' values in multiprocess mode).

Unauthenticated like most scrape targets: it carries counts by firm, rule and status only, never
trade ids, prices or secrets. Put it behind your proxy's allow-list if that matters to you.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app

from dashboard.trading_state_view import trading_state
from observability import metrics

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    # The state lives in the shared database, so reading it at scrape time is exact
    # whichever worker answers; the gauge keeps the most recent value across workers.
    metrics.observe_trading_state(trading_state(current_app).get("state"))
    body, content_type = metrics.render_latest()
    return Response(body, content_type=content_type)
