"""The dashboard with a live firm (PostgreSQL): TOPSTEP's orders go to the firm simulator over
HTTP (ProjectX Gateway), FTMO and APEX stay dry-run. The journal keeps paper and live apart, the
trade's page shows each order's firm id, and the analytics count the live orders and their
acknowledgement latency from the order journal."""
from __future__ import annotations

import base64
import csv
import io
import re
from decimal import Decimal

import pytest

from tests.e2e.live_support import backend, sim, live_env, post  # noqa: F401 (fixtures)
from tests.e2e.trading_history import REALIZED, T_LOSS, T_WIN, seed

TOKEN = "live-pages-token"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"t:{TOKEN}".encode()).decode()}


@pytest.fixture
def history(make_app, sim):
    app = make_app(**live_env(sim.url, ADMIN_TOKEN=TOKEN, FTMO_DRY_RUN="true", APEX_DRY_RUN="true"))
    client = app.test_client()

    def send(payload):
        response = post(client, payload)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    results = seed(send)
    assert results[0]["firm_modes"] == {"FTMO": "DRY_RUN", "APEX": "DRY_RUN", "TOPSTEP": "LIVE"}
    return client


def test_live_orders_are_counted_with_their_latency_and_paper_ones_never_sent(history, sim):
    stats = history.get("/api/stats", headers=AUTH).get_json()
    topstep, ftmo = stats["analytics"]["TOPSTEP"], stats["analytics"]["FTMO"]
    sent = len([o for o in sim.orders_for("TOPSTEP") if o["kind"] in ("OPEN", "CLOSE")])  # not the bracket cancels
    # entries T_WIN, T_LOSS, T_OPEN and the exits that had a contract to close (partial, stop loss)
    assert topstep["orders"]["sent"] == topstep["orders"]["success"] == sent == 5
    assert topstep["orders"]["success_rate"] == 100.0 and topstep["modes"]["LIVE"] == 5
    assert topstep["latency_ms"]["samples"] == 5 and topstep["latency_ms"]["p50"] is not None
    assert 0 <= topstep["latency_ms"]["p50"] <= topstep["latency_ms"]["p95"] < 10_000
    assert topstep["slippage"]["fills"] == 0  # the firm's order answer carries no fill price
    assert ftmo["orders"]["sent"] == 0 and ftmo["orders"]["success_rate"] is None
    page = history.get("/dashboard/analytics", headers=AUTH).get_data(as_text=True)
    assert re.search(r'data-analytics="TOPSTEP" data-sent="5" data-success-rate="100.0"', page)


def test_the_journal_keeps_paper_and_live_apart(history):
    rows = list(csv.DictReader(io.StringIO(history.get("/dashboard/trades.csv?mode=live", headers=AUTH).get_data(as_text=True))))
    assert {(r["trade_id"], r["firm_code"], r["mode"]) for r in rows} >= {(T_WIN, "TOPSTEP", "LIVE"), (T_LOSS, "TOPSTEP", "LIVE")}
    assert {r["firm_code"] for r in rows} == {"TOPSTEP"}
    by_trade = {r["trade_id"]: r for r in rows}
    assert Decimal(by_trade[T_WIN]["realized_pl"]) == REALIZED[(T_WIN, "TOPSTEP")]
    assert Decimal(by_trade[T_LOSS]["realized_pl"]) == REALIZED[(T_LOSS, "TOPSTEP")]
    html = history.get("/dashboard/trades", headers=AUTH).get_data(as_text=True)
    live = re.search(r'data-totals="LIVE">.*?</div>', html, re.S).group(0)
    paper = re.search(r'data-totals="PAPER">.*?</div>', html, re.S).group(0)
    assert "data-realized>+100.00<" in live  # TOPSTEP +400 - 300: live money only
    assert "data-realized>+1700.00<" in paper  # FTMO and APEX, paper


def test_the_trade_page_shows_the_firms_order_ids(history, sim):
    html = history.get(f"/dashboard/trades/{T_WIN}", headers=AUTH).get_data(as_text=True)
    orders = re.search(r'id="trade-orders">.*?</table>', html, re.S).group(0)
    ids = re.findall(r"<td>(ENTRY|EXIT)</td>.*?data-firm-order-id>([^<]*)<", orders, re.S)
    # the entry's order id from ProjectX's order/place answer; its position close answers no id
    assert [action for action, _ in ids] == ["ENTRY", "EXIT"] and ids[0][1].isdigit()
    assert orders.count('class="pill SUCCESS"') == 2
    account = re.search(r'data-account-card="TOPSTEP-1".*?</section>', history.get(
        "/dashboard/accounts", headers=AUTH).get_data(as_text=True), re.S).group(0)
    assert 'data-book="LIVE"' in account and 'data-source="' in account
