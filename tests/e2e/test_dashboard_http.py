"""The dashboard over HTTP (Flask client): access rules, sessions, logout and CSRF, what it shows,
the trading-state switch seam."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import pytest

from tests.conftest import GUIDE_PAYLOAD
from tests.observability_fakes import ENTRY_T2, post_json, run_scenario_over_http

TOKEN = "dash-token-for-tests"


@pytest.fixture
def app(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    run_scenario_over_http(app)
    return app


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"operator:{password}".encode()).decode()}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_browser_without_credentials_is_asked_for_basic_auth(app):
    response = app.test_client().get("/dashboard")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    assert app.test_client().get("/dashboard", headers=basic("wrong")).status_code == 401


def test_the_root_address_leads_to_the_dashboard(app):
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    page = client.get("/", headers=basic(TOKEN), follow_redirects=True)
    assert page.status_code == 200 and page.request.path == "/dashboard" and b'http-equiv="refresh"' in page.data
    assert client.get("/", follow_redirects=True).status_code == 401  # the page's own access rules hold


def test_basic_auth_with_the_token_as_password(app):
    response = app.test_client().get("/dashboard", headers=basic(TOKEN))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_token_link_sets_an_httponly_cookie_and_drops_the_token_from_the_url(app):
    client = app.test_client()
    response = client.get(f"/dashboard?token={TOKEN}&refresh=5")
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard?refresh=5"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    page = client.get("/dashboard?refresh=5")
    assert page.status_code == 200 and b'http-equiv="refresh" content="5"' in page.data
    assert client.get("/api/accounts").status_code == 200  # the cookie also opens the JSON API
    assert app.test_client().get(f"/dashboard?token=not-{TOKEN}").status_code == 401


def test_page_shows_decisions_reasons_counts_modes_and_accounts(app):
    html = app.test_client().get("/dashboard", headers=basic(TOKEN)).data.decode()
    assert TOKEN not in html
    assert ENTRY_T2["trade_id"] in html
    assert "Daily loss -1200.0 exceeds max_daily_loss 1000.0." in html  # FTMO risk rejection reason
    assert "Daily loss -1600.0 exceeds max_daily_loss 1500.0." in html  # APEX breach rejection reason
    assert "CONNECTOR_ERROR" in html and "account ledger unavailable" in html
    assert re.search(r'data-firm-stats="FTMO">.*?data-connector-counts="2/0/0"', html, re.S)
    assert re.search(r'data-firm-stats="APEX">.*?data-connector-counts="0/1/0"', html, re.S)
    assert 'data-firm-mode="FTMO">LIVE' in html
    # From the ledger: T1 closed 2 NQ at 16475 from 16500 = -25 x 2 x $20 = -1000 (all of the
    # 1000 daily limit, half of the 2000 drawdown limit).
    ftmo = re.search(r'data-account="FTMO-1">.*?</tr>', html, re.S).group(0)
    assert "-1000.00 / 1000.00 (100.0%)" in ftmo and "-1000.00 / 2000.00 (50.0%)" in ftmo
    assert 'data-trading-state="ACTIVE"' in html
    assert "Nothing open." in html  # the only accepted entry was closed by its exit


def test_trading_state_switch_through_the_form(app):
    from database.safety_repository import SafetyRepository

    stored = SafetyRepository(app.extensions["db_engine"]).get_trading_state
    client = app.test_client()
    client.get(f"/dashboard?token={TOKEN}")
    html = client.get("/dashboard").data.decode()
    assert 'data-trading-state="ACTIVE"' in html
    csrf = csrf_of(html)
    refused = client.post("/dashboard/trading-state", data={"state": "HALTED", "why": "x", "csrf": "forged"})
    assert refused.status_code == 403 and stored().state == "ACTIVE"
    missing_why = client.post("/dashboard/trading-state", data={"state": "HALTED", "why": " ", "csrf": csrf})
    assert missing_why.status_code == 400 and missing_why.get_json()["fields"] == {"why": "required"}
    done = client.post("/dashboard/trading-state", data={"state": "halted", "why": "news spike", "csrf": csrf})
    assert done.status_code == 303
    assert (stored().state, stored().changed_by, stored().reason) == ("HALTED", "dashboard", "news spike")
    assert 'data-trading-state="HALTED"' in client.get("/dashboard").data.decode()
    metrics = client.get("/metrics").data.decode()
    assert 'execution_router_trading_state{state="HALTED"} 1.0' in metrics
    halted = post_json(client, "/api/automated-signals/webhook", dict(GUIDE_PAYLOAD, trade_id="AFTER_HALT"))
    assert {r["reason"] for r in halted["connector_results"]} == {"TRADING_HALTED"}


def test_switch_form_without_a_switch_installed_is_409(app):
    app.extensions.pop("trading_state")
    client = app.test_client()
    client.get(f"/dashboard?token={TOKEN}")
    html = client.get("/dashboard").data.decode()
    assert 'action="/dashboard/trading-state"' not in html  # no form is offered
    token = csrf_of(html)  # the logout form's, valid for any form of this session
    response = client.post("/dashboard/trading-state", data={"state": "HALTED", "why": "x", "csrf": token})
    assert response.status_code == 409


def test_odd_input_to_the_page_and_the_form_is_never_a_500(app):
    from database.safety_repository import SafetyRepository

    client = app.test_client()
    client.get(f"/dashboard?token={TOKEN}")
    for refresh in ("\u00b2", "9" * 5000, "-3", "abc"):  # "²".isdigit() is True; int() of it raises
        assert client.get("/dashboard", query_string={"refresh": refresh}).status_code == 200
    csrf = csrf_of(client.get("/dashboard").data.decode())
    nul = client.post("/dashboard/trading-state", data={"state": "HALTED", "why": "news\u0000", "csrf": csrf})
    assert nul.status_code == 400 and "why" in nul.get_json()["fields"]
    assert SafetyRepository(app.extensions["db_engine"]).get_trading_state().state == "ACTIVE"


# -- sessions, logout, CSRF ------------------------------------------------------------------------
# Literal names rather than imports from web.browser_auth: the documented cookie, clock hook and
# 12 h lifetime are what is under test.

COOKIE = "er_admin"
CLOCK_KEY = "DASHBOARD_SESSION_CLOCK"
TWELVE_HOURS = 12 * 3600


class Clock:
    """The dashboard's clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(app) -> Clock:
    app.config[CLOCK_KEY] = clock = Clock()
    return clock


def login(app, **kwargs):
    client = app.test_client()
    response = client.get(f"/dashboard?token={TOKEN}", **kwargs)
    assert response.status_code == 303
    return client


def cookie_of(client) -> str:
    return client.get_cookie(COOKIE).value


def with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def old_formula(purpose: str) -> str:
    """What the dashboard used to accept: a constant HMAC of ADMIN_TOKEN."""
    return hmac.new(TOKEN.encode(), f"execution-router:{purpose}".encode(), hashlib.sha256).hexdigest()


def trading_state_of(app) -> str:
    from database.safety_repository import SafetyRepository

    return SafetyRepository(app.extensions["db_engine"]).get_trading_state().state


def halt(client, csrf: str, **kwargs):
    return client.post("/dashboard/trading-state", data={"state": "HALTED", "why": "test", "csrf": csrf}, **kwargs)


def test_each_login_starts_its_own_session(app):
    first, second = login(app), login(app)
    assert cookie_of(first) != cookie_of(second)
    assert TOKEN not in cookie_of(first) and old_formula("session") not in cookie_of(first)
    assert first.get("/dashboard").status_code == 200 and second.get("/dashboard").status_code == 200
    secure = app.test_client().get(f"/dashboard?token={TOKEN}", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure and "HttpOnly" in secure and "SameSite=Strict" in secure
    assert f"Max-Age={TWELVE_HOURS}" in secure


def test_a_session_past_its_expiry_is_refused_whatever_the_browser_keeps(app, clock):
    client = login(app)
    clock.advance(TWELVE_HOURS - 1)
    assert client.get("/dashboard").status_code == 200
    clock.advance(1)
    expired = client.get("/dashboard")
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"].startswith("Basic")
    assert f"{COOKIE}=;" in expired.headers["Set-Cookie"]  # the browser is told to forget it
    assert client.get("/api/accounts").status_code == 401
    assert login(app).get("/dashboard").status_code == 200  # a new login starts a new 12 h


def test_logout_clears_the_cookie_and_refuses_a_kept_copy_everywhere(app, db, make_app):
    from sqlalchemy import text

    client, other = login(app), login(app)
    kept = cookie_of(client)
    csrf = csrf_of(client.get("/dashboard").data.decode())
    assert client.post("/dashboard/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/dashboard").status_code == 200  # a refused logout ends nothing

    out = client.post("/dashboard/logout", data={"csrf": csrf})
    assert out.status_code == 200 and b'id="signed-out"' in out.data
    assert f"{COOKIE}=;" in out.headers["Set-Cookie"] and client.get_cookie(COOKIE) is None
    copy = with_cookie(app, kept)
    assert copy.get("/dashboard").status_code == 401
    assert copy.get("/api/accounts").status_code == 401
    assert halt(copy, csrf).status_code == 401 and trading_state_of(app) == "ACTIVE"
    elsewhere = make_app(ADMIN_TOKEN=TOKEN)  # another instance on the same database
    assert with_cookie(elsewhere, kept).get("/dashboard").status_code == 401
    assert with_cookie(elsewhere, cookie_of(other)).get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 200  # only that session ended
    stored = [row.session_key for row in db.execute(text("SELECT session_key FROM dashboard_session_revocations"))]
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{64}", stored[0])  # a digest, not the id or cookie


def test_a_csrf_token_from_another_session_is_refused(app):
    first, second = login(app), login(app)
    first_csrf = csrf_of(first.get("/dashboard").data.decode())
    second_csrf = csrf_of(second.get("/dashboard").data.decode())
    assert first_csrf != second_csrf
    assert halt(second, first_csrf).status_code == 403
    assert second.post("/dashboard/logout", data={"csrf": first_csrf}).status_code == 403
    assert halt(second, old_formula("csrf")).status_code == 403  # derivable from the token alone
    basic_page_csrf = csrf_of(app.test_client().get("/dashboard", headers=basic(TOKEN)).data.decode())
    assert halt(second, basic_page_csrf).status_code == 403  # not bound to this session
    assert trading_state_of(app) == "ACTIVE"
    assert halt(second, second_csrf).status_code == 303 and trading_state_of(app) == "HALTED"


def test_a_cookie_forged_from_the_old_hmac_formula_is_refused(app, make_app):
    forged = with_cookie(app, old_formula("session"))
    assert forged.get("/dashboard").status_code == 401
    assert forged.get("/api/accounts").status_code == 401
    genuine = cookie_of(login(app))
    assert with_cookie(app, "x" + genuine).get("/dashboard").status_code == 401
    renewed = make_app(ADMIN_TOKEN=f"new-{TOKEN}")  # a new ADMIN_TOKEN voids every session
    assert with_cookie(renewed, genuine).get("/dashboard").status_code == 401


def test_bearer_and_basic_auth_still_work_without_a_session(app, clock):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    client = app.test_client()
    assert client.get("/api/accounts", headers=bearer).status_code == 200
    bearer_page = client.get("/dashboard", headers=bearer)
    assert bearer_page.status_code == 200 and "Set-Cookie" not in bearer_page.headers
    basic_page = client.get("/dashboard", headers=basic(TOKEN))
    assert basic_page.status_code == 200 and "Set-Cookie" not in basic_page.headers
    html = basic_page.data.decode()
    assert 'id="signed-in-basic"' in html and 'id="logout"' not in html
    assert halt(client, "", headers=basic(TOKEN)).status_code == 403  # basic auth needs CSRF too
    assert halt(client, old_formula("csrf"), headers=basic(TOKEN)).status_code == 403
    session_csrf = csrf_of(login(app).get("/dashboard").data.decode())
    assert halt(client, session_csrf, headers=basic(TOKEN)).status_code == 403
    assert halt(client, csrf_of(html), headers=basic(TOKEN)).status_code == 303
    clock.advance(TWELVE_HOURS)
    assert halt(client, csrf_of(html), headers=basic(TOKEN)).status_code == 403  # the page's token expired
    assert halt(client, csrf_of(bearer_page.data.decode()), headers=bearer).status_code == 403
    fresh = csrf_of(client.get("/dashboard", headers=bearer).data.decode())
    assert halt(client, fresh, headers=bearer).status_code == 303
