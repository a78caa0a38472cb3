"""GET / (a redirect here), GET /dashboard (the overview, refreshes itself),
POST /dashboard/trading-state and POST /dashboard/logout (sessions, logout and CSRF:
web/browser_auth.py). The other pages register on the same blueprint: accounts_page,
journal_page, analytics_page.

The overview reloads itself every `?refresh=` seconds (meta refresh, default 15, bounded 2..300):
no JavaScript, no build step, and a stale tab can never show a state older than one interval.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, redirect, render_template, request, url_for

from dashboard import accounts_page, analytics_page, journal_page  # noqa: F401 (their routes join `bp`)
from dashboard.account_view import account_rows, account_views, with_bars
from dashboard.blueprint import bp, now, render_page, safe_back
from dashboard.execution_stats import execution_stats
from dashboard.stages import lanes
from dashboard.trading_state_view import STATES, set_trading_state
from database.json_documents import json_document_problem
from database.monitoring_repository import ExecutionFilter, MonitoringRepository
from web.browser_auth import csrf_ok, end_session, require_admin_browser
from web.errors import error_response

RECENT_EXECUTIONS = 25
STATS_WINDOW = timedelta(hours=24)
STATS_MAX_DOCUMENTS = 5_000


def refresh_seconds() -> int:
    raw = request.args.get("refresh", "15")
    # isdigit() alone accepts "²" (int() then raises) and 5,000 digits: ASCII and short only
    return min(300, max(2, int(raw))) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else 15


def _csrf_refused() -> tuple[Response, int]:
    return error_response(403, "csrf", "Missing or wrong form token; reload the dashboard.", {"csrf": "invalid"})


@bp.get("/")
def index() -> Response:
    """The service's address opened in a browser leads to the one page meant for people."""
    return redirect(url_for("dashboard.dashboard"))


@bp.get("/dashboard")
@require_admin_browser(html=True)
def dashboard():
    app = current_app
    repo = MonitoringRepository(app.extensions["db_engine"])
    executions, total = repo.list_executions(ExecutionFilter(limit=RECENT_EXECUTIONS))
    for e in executions:
        e["lanes"] = lanes(e["result"] or {})
    at = now()
    return render_page(
        "overview.html",
        refresh=refresh_seconds(),
        now=at,
        executions=executions,
        executions_total=total,
        stats=execution_stats(app, at - STATS_WINDOW, None, STATS_MAX_DOCUMENTS),
        accounts=[with_bars(row) for row in account_rows(app, account_views(app, at))],
        positions=repo.open_positions(),
    )


@bp.post("/dashboard/trading-state")
@require_admin_browser(html=True)
def change_trading_state():
    form = request.form
    if not csrf_ok(form.get("csrf")):
        return _csrf_refused()
    state = (form.get("state") or "").upper()
    why = (form.get("why") or "").strip()[:500]
    if state not in STATES:
        return error_response(400, "invalid_form", "Unknown trading state.", {"state": f"must be one of {', '.join(STATES)}"})
    if not why:
        return error_response(400, "invalid_form", "Say why the state changes.", {"why": "required"})
    if (problem := json_document_problem({"why": why}, "form")) is not None:  # NUL: PostgreSQL refuses it
        return error_response(400, "invalid_form", "The reason contains text that cannot be stored.", {"why": problem})
    if not set_trading_state(current_app, state, "dashboard", why):
        return error_response(409, "not_available", "No trading-state switch is installed in this version.")
    return redirect(safe_back(form.get("back")) or url_for("dashboard.dashboard"), code=303)


@bp.post("/dashboard/logout")
@require_admin_browser(html=True)
def logout():
    """End this browser's session here and on every worker; a kept copy of the cookie is refused."""
    if not csrf_ok(request.form.get("csrf")):
        return _csrf_refused()
    return end_session(current_app.make_response(render_template("signed_out.html")))
