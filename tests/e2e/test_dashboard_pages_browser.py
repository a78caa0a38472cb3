"""The trader's pages in a real headless Chromium at 1,366 px, served over real HTTP on 127.0.0.1
from PostgreSQL, after the history of tests/e2e/trading_history.py went through the webhook with
TOPSTEP live against the firm simulator (FTMO and APEX dry-run). Checked in the page as a
browser renders it: the equity curve's points against the ledger, the journal's P&L against the
hand calculation, the filters and the CSV, the analytics, no horizontal scrolling. Screenshots
go to artifacts/ (ignored by git).
"""
from __future__ import annotations

import csv
import io
import threading
from decimal import Decimal

import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import make_server

from config import parse_settings, set_settings
from tests.conftest import PG_URL, STEP2_ENV, reset_pg
from tests.e2e.live_support import WEBHOOK, WEBHOOK_SECRET, live_env, sim  # noqa: F401 (fixture)
from tests.e2e.test_dashboard_browser import ARTIFACTS, browser  # noqa: F401 (fixture)
from tests.e2e.trading_history import CONTRACTS, HOSTILE_STRATEGY, REALIZED, T_LOSS, T_OPEN, seed

TOKEN = "pages-browser-token"
WIDTH = 1366


@pytest.fixture
def served(sim):
    from web_server import create_app

    reset_pg()
    env = dict(STEP2_ENV, **live_env(sim.url, FTMO_DRY_RUN="true", APEX_DRY_RUN="true"), DATABASE_URL=PG_URL,
               ADMIN_TOKEN=TOKEN)
    app = create_app(parse_settings(env))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    http = requests.Session()

    def post(payload):
        response = http.post(base + WEBHOOK, json=payload, headers={"X-Webhook-Secret": WEBHOOK_SECRET}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    seed(post)
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["execution_router"].close()
        app.extensions["db_engine"].dispose()
        set_settings(None)


def fits(browser) -> None:
    """No horizontal scrolling at this width, measured in the page."""
    scroll, client = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client, f"{browser.current_url}: {scroll}px wide in a {client}px window"


def screenshot(browser, name: str) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, min(height + 140, 6000))
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    browser.set_window_size(WIDTH, 900)


def test_a_trader_reads_accounts_trades_and_analytics_in_the_browser(served, browser, sim):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    app, base = served
    engine = app.extensions["db_engine"]
    browser.set_window_size(WIDTH, 900)
    browser.get(f"{base}/dashboard?token={TOKEN}&refresh=300")
    fits(browser)
    screenshot(browser, "dashboard-overview")

    # Accounts: each close on the curve is the ledger's running balance; the last point is the account now.
    browser.get(f"{base}/dashboard/accounts")
    fits(browser)
    for account, start in (("FTMO-1", Decimal(100000)), ("APEX-1", Decimal(150000)), ("TOPSTEP-1", Decimal(50000))):
        firm = account.split("-")[0]
        with engine.connect() as connection:
            amounts = [r.amount for r in connection.execute(text(
                "SELECT amount FROM account_events WHERE firm_code = :f ORDER BY occurred_at, id"), {"f": firm})]
        expected, running = [], start
        for amount in amounts:
            running += amount
            expected.append(running)
        card = browser.find_element(By.CSS_SELECTOR, f'[data-account-card="{account}"]')
        for chart in ("today", "30-days"):
            svg = card.find_element(By.CSS_SELECTOR, f'svg[data-chart="{chart}"]')
            closes = [Decimal(c.get_attribute("data-equity"))
                      for c in svg.find_elements(By.CSS_SELECTOR, 'circle[data-kind="CLOSE"]')]
            assert closes == expected, (account, chart)
            now_point = svg.find_element(By.CSS_SELECTOR, 'circle[data-kind="NOW"]').get_attribute("data-equity")
            assert Decimal(now_point) == Decimal(card.find_element(By.CSS_SELECTOR, "[data-equity]").text)
        book = card.find_element(By.CSS_SELECTOR, "[data-book]").get_attribute("data-book")
        assert book == ("LIVE" if firm == "TOPSTEP" else "PAPER")
    ftmo = browser.find_element(By.CSS_SELECTOR, '[data-account-card="FTMO-1"]')
    assert ftmo.find_element(By.CSS_SELECTOR, "[data-balance]").text == "100600.00"  # +1200 - 600
    screenshot(browser, "dashboard-accounts")

    # The journal: every row's P&L is the hand calculation, paper and live apart.
    browser.get(f"{base}/dashboard/trades")
    fits(browser)
    shown = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "#journal tr[data-journal-row]"):
        trade_id, firm, _ = row.get_attribute("data-journal-row").split("|")
        shown[(trade_id, firm)] = (row.find_element(By.CSS_SELECTOR, "[data-realized]").text, row.get_attribute("data-mode"))
    for key, pl in REALIZED.items():
        assert shown[key] == (f"{pl:+.2f}", "LIVE" if key[1] == "TOPSTEP" else "PAPER"), key
    assert {k for k, (pl, _) in shown.items() if k[0] == T_OPEN} == {(T_OPEN, f) for f in ("FTMO", "APEX", "TOPSTEP")}
    live = browser.find_element(By.CSS_SELECTOR, '[data-totals="LIVE"] [data-realized]').text
    paper = browser.find_element(By.CSS_SELECTOR, '[data-totals="PAPER"] [data-realized]').text
    assert (live, paper) == ("+100.00", "+1700.00")
    screenshot(browser, "dashboard-trades")

    # Filters through the form, then the CSV of exactly those rows.
    Select(browser.find_element(By.CSS_SELECTOR, '#journal-filters select[name="firm"]')).select_by_visible_text("APEX")
    Select(browser.find_element(By.CSS_SELECTOR, '#journal-filters select[name="outcome"]')).select_by_visible_text("LOSS")
    browser.find_element(By.CSS_SELECTOR, "#journal-filters button").click()
    WebDriverWait(browser, 10).until(lambda b: "outcome=LOSS" in b.current_url)  # the filtered page loaded
    rows = browser.find_elements(By.CSS_SELECTOR, "#journal tr[data-journal-row]")
    assert [r.get_attribute("data-journal-row") for r in rows] == [f"{T_LOSS}|APEX|1"]
    csv_url = browser.find_element(By.ID, "csv-link").get_attribute("href")
    cookie = {"er_admin": browser.get_cookie("er_admin")["value"]}
    exported = list(csv.DictReader(io.StringIO(requests.get(csv_url, cookies=cookie, timeout=10).text)))
    assert [(r["trade_id"], r["firm_code"], r["contracts"], r["realized_pl"], r["mode"]) for r in exported] == [
        (T_LOSS, "APEX", str(CONTRACTS[(T_LOSS, "APEX")]), "-900", "PAPER")]

    # A trade's story; the hostile strategy name is text, never markup (an alert would stop the driver).
    browser.get(f"{base}/dashboard/trades/{T_LOSS}")
    fits(browser)
    cells = browser.find_elements(By.CSS_SELECTOR, "#trade-accounts tr[data-journal-row] td:nth-child(2)")
    assert {c.text for c in cells} == {HOSTILE_STRATEGY}
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-signal]")) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trade-orders tr[data-order]")) == 2  # TOPSTEP's entry and exit
    screenshot(browser, "dashboard-trade")

    # Analytics: the live firm's orders counted, the dry-run firms' never sent and without a rate.
    browser.get(f"{base}/dashboard/analytics")
    fits(browser)
    topstep = browser.find_element(By.CSS_SELECTOR, '[data-analytics="TOPSTEP"]')
    sent = len([o for o in sim.orders_for("TOPSTEP") if o["kind"] in ("OPEN", "CLOSE")])
    assert (topstep.get_attribute("data-sent"), topstep.get_attribute("data-success-rate")) == (str(sent), "100.0")
    assert topstep.get_attribute("data-latency-p50") != ""
    ftmo = browser.find_element(By.CSS_SELECTOR, '[data-analytics="FTMO"]')
    assert (ftmo.get_attribute("data-sent"), ftmo.get_attribute("data-success-rate")) == ("0", "")
    assert browser.find_element(By.CSS_SELECTOR, '[data-rejection="FTMO|sizing|STOP_INSIDE_ONE_TICK"]')
    screenshot(browser, "dashboard-analytics")
