"""The dashboard over HTTP (Flask client): access rules, what it shows, the trading-state switch seam."""
from __future__ import annotations

import base64
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


def test_browser_without_credentials_is_asked_for_basic_auth(app):
    response = app.test_client().get("/dashboard")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    assert app.test_client().get("/dashboard", headers=basic("wrong")).status_code == 401


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
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)
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
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/dashboard").data.decode())
    assert csrf is None  # no form is offered
    from web.browser_auth import derived

    with app.test_request_context():
        token = derived("csrf")
    response = client.post("/dashboard/trading-state", data={"state": "HALTED", "why": "x", "csrf": token})
    assert response.status_code == 409


def test_odd_input_to_the_page_and_the_form_is_never_a_500(app):
    from database.safety_repository import SafetyRepository

    client = app.test_client()
    client.get(f"/dashboard?token={TOKEN}")
    for refresh in ("\u00b2", "9" * 5000, "-3", "abc"):  # "²".isdigit() is True; int() of it raises
        assert client.get("/dashboard", query_string={"refresh": refresh}).status_code == 200
    html = client.get("/dashboard").data.decode()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)
    nul = client.post("/dashboard/trading-state", data={"state": "HALTED", "why": "news\u0000", "csrf": csrf})
    assert nul.status_code == 400 and "why" in nul.get_json()["fields"]
    assert SafetyRepository(app.extensions["db_engine"]).get_trading_state().state == "ACTIVE"
