"""The dashboard in a real headless Chromium (Debian's `chromium` + `chromium-driver`), served over
real HTTP on 127.0.0.1 from PostgreSQL holding routed signals. Saves artifacts/dashboard.png.

Chromium is required, never skipped: .ci/run installs it when missing, and a machine without it
fails this test with the command to fix it.
"""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from config import parse_settings, set_settings
from tests.conftest import GUIDE_PAYLOAD, PG_URL, STEP2_ENV, reset_pg
from database.safety_repository import SafetyRepository
from tests.observability_fakes import ENTRY_T1, ENTRY_T2, ENTRY_T3, install_stub_router, run_scenario

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TOKEN = "browser-test-admin-token"
WAIT_SECONDS = 20
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1366,1600",
)


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is required for the browser test: apt-get install -y chromium chromium-driver "
                    "(.ci/run does this)", pytrace=False)
    return path


@pytest.fixture
def live_app():
    """The app on a real socket (werkzeug server in a thread), with the stub ledger router."""
    from web_server import create_app

    reset_pg()
    app = create_app(parse_settings(dict(STEP2_ENV, DATABASE_URL=PG_URL, ADMIN_TOKEN=TOKEN)))
    router = install_stub_router(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield app, router, base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        router.close()
        app.extensions["db_engine"].dispose()
        set_settings(None)


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = _require("chromium"), _require("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_shows_routed_signals_and_refreshes_itself(live_app, browser):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    app, router, base = live_app
    http = requests.Session()

    def send(payload):
        response = http.post(f"{base}/api/automated-signals/webhook", json=payload, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    run_scenario(router, send=send)

    # A long refresh while reading the page, so no reload can pull elements away mid-assertion.
    browser.get(f"{base}/dashboard?token={TOKEN}&refresh=300")
    assert browser.current_url == f"{base}/dashboard?refresh=300"  # the token left the address bar

    rows = browser.find_elements(By.CSS_SELECTOR, "#executions tr[data-task]")
    assert [r.get_attribute("data-trade") for r in rows] == [
        ENTRY_T1["trade_id"], ENTRY_T3["trade_id"], ENTRY_T1["trade_id"], ENTRY_T2["trade_id"], ENTRY_T1["trade_id"]]
    rejected = browser.find_element(By.CSS_SELECTOR, f'#executions tr[data-trade="{ENTRY_T2["trade_id"]}"]').text
    assert "REJECTED" in rejected and "Daily loss -1200.0 exceeds max_daily_loss 1000.0." in rejected
    assert "MAX_DAILY_LOSS: Daily loss -1600.0 exceeds max_daily_loss 1500.0." in rejected
    failed = browser.find_element(By.CSS_SELECTOR, f'#executions tr[data-trade="{ENTRY_T3["trade_id"]}"]').text
    assert "FAILED" in failed and "account ledger unavailable" in failed
    ftmo = browser.find_element(By.CSS_SELECTOR, '#firm-stats tr[data-firm-stats="FTMO"]')
    # risk 1 / 1; sizing and breach 1 approved, 0 rejected, 1 not run (T2's risk refused FTMO first);
    # 2 orders sent, both accepted (T1's entry and exit)
    assert ftmo.text.split()[:15] == ["FTMO", "1", "/", "1", "1", "/", "0", "/", "1", "1", "/", "0", "/", "1", "2"]
    assert ftmo.find_element(By.CSS_SELECTOR, "[data-connector-counts]").get_attribute("data-connector-counts") == "2/0/0"
    assert ftmo.find_element(By.CSS_SELECTOR, "[data-success-rate]").text == "100.00 %"
    assert browser.find_element(By.CSS_SELECTOR, '[data-firm-mode="APEX"]').text == "LIVE"
    account = browser.find_element(By.CSS_SELECTOR, '#accounts tr[data-account="FTMO-1"]').text
    assert "-1000.00 / 1000.00 (100.0%)" in account and "-1000.00 / 2000.00 (50.0%)" in account  # -25 pt x 2 x $20
    account = browser.find_element(By.CSS_SELECTOR, '#accounts tr[data-account="APEX-1"]').text
    assert "0.00 / 1500.00" in account  # its only order FAILED: nothing was held, nothing lost
    assert browser.find_element(By.CSS_SELECTOR, "[data-trading-state]").text == "ACTIVE"
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    # A new signal appears without the test reloading: the page refreshes itself (every 2 s here).
    browser.get(f"{base}/dashboard?refresh=2")
    new_trade = "20251122_170000_BULLISH"
    send(dict(GUIDE_PAYLOAD, trade_id=new_trade))
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5, ignored_exceptions=(WebDriverException,)).until(
        lambda d: new_trade in d.page_source and f'data-position="{new_trade}|FTMO|1"' in d.page_source)

    # The switch: HALTED through the form, shown after the redirect (on a page that stays put).
    browser.get(f"{base}/dashboard?refresh=300")
    assert browser.find_elements(By.CSS_SELECTOR, "#executions tr[data-task]")[0].get_attribute("data-trade") == new_trade
    browser.find_element(By.CSS_SELECTOR, '#trading-state select[name="state"] option[value="HALTED"]').click()
    browser.find_element(By.CSS_SELECTOR, '#trading-state input[name="why"]').send_keys("CPI release")
    button = browser.find_element(By.CSS_SELECTOR, "#trading-state button")
    button.click()
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2).until(expected_conditions.staleness_of(button))
    # While the redirected page loads, chromium may report an element of the page being replaced
    # ("Node with given id does not belong to the document"): a WebDriverException, not a stale
    # reference. Both mean "look again"; a page that never shows HALTED still fails the wait.
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[data-trading-state]").text == "HALTED")
    stored = SafetyRepository(app.extensions["db_engine"]).get_trading_state()
    assert (stored.state, stored.reason) == ("HALTED", "CPI release")
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-halted.png"))

    # Sign out: the cookie leaves the browser, and a copy kept of it is refused by the server.
    browser.get(f"{base}/dashboard?refresh=300")
    kept = browser.get_cookie("er_admin")["value"]
    button = browser.find_element(By.CSS_SELECTOR, "#logout button")
    button.click()
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2).until(expected_conditions.staleness_of(button))
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.find_elements(By.ID, "signed-out"))
    assert browser.get_cookie("er_admin") is None
    assert requests.get(f"{base}/dashboard", cookies={"er_admin": kept}, timeout=10).status_code == 401
