"""GET / (a redirect here), GET /dashboard (server-rendered, refreshes itself),
POST /dashboard/trading-state and POST /dashboard/logout (sessions, logout and CSRF:
web/browser_auth.py).

The page reloads itself every `?refresh=` seconds (meta refresh, default 15, bounded 2..300): no
JavaScript, no build step, and a stale tab can never show a state older than one interval.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from dashboard.account_view import account_rows, used_fraction
from dashboard.stats import summarize
from dashboard.trading_state_view import STATES, set_trading_state, trading_state
from database.json_documents import json_document_problem
from database.monitoring_repository import ExecutionFilter, MonitoringRepository
from observability import metrics
from web.browser_auth import access_method, csrf_ok, csrf_token, end_session, require_admin_browser
from web.errors import error_response

bp = Blueprint("dashboard", __name__, template_folder="templates")

RECENT_EXECUTIONS = 25
STATS_WINDOW = timedelta(hours=24)
STATS_MAX_DOCUMENTS = 5_000


def _refresh_seconds() -> int:
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
    router = app.extensions["execution_router"]
    repo = MonitoringRepository(app.extensions["db_engine"])
    executions, total = repo.list_executions(ExecutionFilter(limit=RECENT_EXECUTIONS))
    now = datetime.now(timezone.utc)
    stats = summarize(repo.result_documents(now - STATS_WINDOW, None, STATS_MAX_DOCUMENTS))
    accounts = account_rows(app)
    for row in accounts:
        row["daily_used"] = used_fraction(row["day_pl"], row["max_daily_loss"])
        dd = row["drawdown"]  # a magnitude (the breach engine reads it the same way)
        row["drawdown_used"] = used_fraction(-abs(dd) if dd is not None else None, row["max_drawdown"])
    state = trading_state(app)
    metrics.observe_trading_state(state.get("state"))
    return render_template(
        "dashboard.html",
        refresh=_refresh_seconds(),
        now=now,
        executions=executions,
        executions_total=total,
        stats=stats,
        accounts=accounts,
        positions=repo.open_positions(),
        firm_modes={code: ("DRY_RUN" if c.dry_run else "LIVE") for code, c in router.connectors.items()},
        routed_firms=app.config["ROUTER_SETTINGS"].route_to_firms,
        trading_state=state,
        states=STATES,
        csrf=csrf_token(),
        signed_in_with=access_method(),
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
    return redirect(url_for("dashboard.dashboard"), code=303)


@bp.post("/dashboard/logout")
@require_admin_browser(html=True)
def logout():
    """End this browser's session here and on every worker; a kept copy of the cookie is refused."""
    if not csrf_ok(request.form.get("csrf")):
        return _csrf_refused()
    return end_session(current_app.make_response(render_template("signed_out.html")))
