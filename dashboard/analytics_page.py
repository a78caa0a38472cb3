"""GET /dashboard/analytics?days=&since=&until=: execution analytics per firm over a chosen
period (default the last day), the same numbers `GET /api/stats` answers for that period.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from flask import current_app
from pydantic import Field

from dashboard.blueprint import bp, now, render_page
from dashboard.execution_stats import execution_stats
from dashboard.params import TimeWindow, parse_query
from web.browser_auth import require_admin_browser
from web.errors import error_response

MAX_DOCUMENTS = 20_000
PERIODS = (1, 7, 30)


class AnalyticsParams(TimeWindow):
    days: Annotated[int, Field(ge=1, le=366)] | None = None


@bp.get("/dashboard/analytics")
@require_admin_browser(html=True)
def analytics():
    params = parse_query(AnalyticsParams, drop_empty=True)
    if not isinstance(params, AnalyticsParams):
        return params
    if params.days is not None and (params.since is not None or params.until is not None):
        return error_response(400, "invalid_query", "Invalid query parameters.",
                              {"days": "give days, or since/until, not both"})
    at = now()
    since = params.since if params.since is not None else (
        None if params.until is not None else at - timedelta(days=params.days or 1))
    stats = execution_stats(current_app, since, params.until, MAX_DOCUMENTS)
    return render_page("analytics.html", now=at, stats=stats, since=since, until=params.until,
                       days=(params.days or 1) if params.since is None and params.until is None else None, periods=PERIODS)
