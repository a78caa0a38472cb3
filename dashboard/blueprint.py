"""The dashboard's blueprint and what every one of its pages shows around its own content: the
navigation, the mode per firm, the trading-state switch (with its CSRF token) and the time the
page was read. One place, so no page can lose the switch or the modes.

The pages' clock is the router's (`router.clock`): the figures shown are the ones the checks
would compute at that instant. Page modules (views, accounts_page, journal_page,
analytics_page) add their routes to `bp`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, render_template, request

from dashboard import times
from dashboard.trading_state_view import STATES, trading_state
from observability import metrics
from web.browser_auth import access_method, csrf_token

bp = Blueprint("dashboard", __name__, template_folder="templates")
bp.add_app_template_filter(times.zoned, "zoned")

NAV = (("dashboard.dashboard", "Overview"), ("dashboard.accounts", "Accounts"),
       ("dashboard.trades", "Trades"), ("dashboard.analytics", "Analytics"))


def router():
    return current_app.extensions["execution_router"]


def now() -> datetime:
    return router().clock()


def firm_zone(code: str | None) -> str | None:
    """The firm's trading-day zone (None for a firm that is not configured)."""
    firm = current_app.config["ROUTER_SETTINGS"].firms.get(code) if code else None
    return firm.trading_day_timezone if firm is not None else None


def home_zone() -> str:
    """The zone of times that concern several firms: the first routed firm's (UTC without one)."""
    routed = current_app.config["ROUTER_SETTINGS"].route_to_firms
    return (firm_zone(routed[0]) if routed else None) or "UTC"


def firm_modes() -> dict[str, str]:
    return {code: ("DRY_RUN" if c.dry_run else "LIVE") for code, c in router().connectors.items()}


def render_page(template: str, **context: Any) -> str:
    """`template` with the frame every dashboard page carries."""
    app = current_app
    state = trading_state(app)
    metrics.observe_trading_state(state.get("state"))
    context.setdefault("now", now())
    return render_template(
        template,
        nav=NAV,
        here=request.endpoint,
        back_to=request.full_path.rstrip("?"),
        firm_modes=firm_modes(),
        routed_firms=app.config["ROUTER_SETTINGS"].route_to_firms,
        trading_state=state,
        states=STATES,
        csrf=csrf_token(),
        signed_in_with=access_method(),
        home_zone=home_zone(),
        firm_zone=firm_zone,
        **context,
    )


def safe_back(target: str | None) -> str | None:
    """A dashboard path to return to after a form, or None: only this service's own pages
    (no scheme, no host, no `//` a browser would read as another host)."""
    if (not target or not target.startswith("/dashboard") or "//" in target or "\\" in target
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)):
        return None
    return target
