"""The dashboard's accounts, journal, trade and analytics pages and `GET /api/stats` over HTTP
(Flask client) on SQLite and PostgreSQL, after the history of tests/e2e/trading_history.py went
through the real webhook (dry-run: FTMO and APEX of the guide's Step 2)."""
from __future__ import annotations

import base64
import csv
import io
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.conftest import ShortLivedConnections
from tests.e2e.trading_history import (CONTRACTS, EXIT_PRICE, HOSTILE_STRATEGY, REALIZED, RISK, T_LOSS, T_OPEN,
                                       T_REFUSED, T_WIN, seed)

TOKEN = "pages-token-for-tests"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"trader:{TOKEN}".encode()).decode()}
PAGES = ("/dashboard/accounts", "/dashboard/trades", "/dashboard/trades.csv", f"/dashboard/trades/{T_WIN}",
         "/dashboard/analytics")


@pytest.fixture
def history(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()

    def post(payload):
        response = client.post("/api/automated-signals/webhook", data=json.dumps(payload),
                               content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    seed(post)
    return app, client


def get(client, url, status=200, **kwargs):
    response = client.get(url, headers=AUTH, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def csv_rows(client, query=""):
    response = get(client, f"/dashboard/trades.csv{query}")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("url", PAGES)
def test_every_new_page_needs_the_admin_token(history, make_app, url):
    app, client = history
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Basic " + base64.b64encode(b"x:wrong").decode()}).status_code == 401
    assert client.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    login = app.test_client()
    assert login.get(f"{url}?token={TOKEN}").status_code == 303 and login.get(url).status_code == 200  # the cookie
    assert make_app().test_client().get(url, headers=AUTH).status_code == 403  # no ADMIN_TOKEN: closed


def test_the_csv_has_one_row_per_trade_and_account_with_the_hand_calculated_pl(history):
    _, client = history
    rows = csv_rows(client)
    assert list(rows[0]) == ["trade_id", "firm_code", "program_id", "symbol", "side", "contracts", "entry_price",
                             "exit_price", "realized_pl", "mode"]
    got = {(r["trade_id"], r["firm_code"]): r for r in rows}
    assert set(got) == {(t, f) for t in (T_WIN, T_LOSS, T_OPEN) for f in ("FTMO", "APEX")}  # the refused one opened nothing
    for key, pl in REALIZED.items():
        if key[1] == "TOPSTEP":
            continue
        row = got[key]
        assert Decimal(row["realized_pl"]) == pl and int(row["contracts"]) == CONTRACTS[key], row
        assert Decimal(row["exit_price"]) == EXIT_PRICE[key] and row["mode"] == "PAPER" and row["program_id"] == "1"
    assert (got[(T_LOSS, "APEX")]["symbol"], got[(T_LOSS, "APEX")]["side"]) == ("ES", "SHORT")
    open_row = got[(T_OPEN, "FTMO")]
    assert (open_row["contracts"], open_row["exit_price"], open_row["realized_pl"]) == ("5", "", "")


@pytest.mark.parametrize("query, expected", [
    ("?firm=apex", {(T_WIN, "APEX"), (T_LOSS, "APEX"), (T_OPEN, "APEX")}),
    ("?symbol=ES1!", {(T_LOSS, "FTMO"), (T_LOSS, "APEX")}),
    ("?outcome=loss", {(T_LOSS, "FTMO"), (T_LOSS, "APEX")}),
    ("?outcome=WIN&firm=FTMO", {(T_WIN, "FTMO")}),
    ("?outcome=OPEN", {(T_OPEN, "FTMO"), (T_OPEN, "APEX")}),
    ("?strategy=nq_fvg_core", {(T_WIN, "FTMO"), (T_WIN, "APEX"), (T_OPEN, "FTMO"), (T_OPEN, "APEX")}),
    (f"?strategy={HOSTILE_STRATEGY}", {(T_LOSS, "FTMO"), (T_LOSS, "APEX")}),
    ("?program=1&mode=paper", {(t, f) for t in (T_WIN, T_LOSS, T_OPEN) for f in ("FTMO", "APEX")}),
    ("?mode=LIVE", set()),
    ("?program=2", set()),
    ("?since=2000-01-01&until=2999-01-01", {(t, f) for t in (T_WIN, T_LOSS, T_OPEN) for f in ("FTMO", "APEX")}),
    ("?since=2999-01-01", set()),
    ("?firm=&symbol=&outcome=LOSS", {(T_LOSS, "FTMO"), (T_LOSS, "APEX")}),  # a form's empty fields mean "any"
])
def test_filters_choose_the_same_rows_on_the_page_and_in_the_csv(history, query, expected):
    _, client = history
    assert {(r["trade_id"], r["firm_code"]) for r in csv_rows(client, query)} == expected
    html = get(client, f"/dashboard/trades{query}").get_data(as_text=True)
    shown = set(re.findall(r'data-journal-row="([^|"]+)\|([A-Z]+)\|1"', html))
    assert shown == expected


@pytest.mark.parametrize("query, field", [
    ("?firm=NOPE", "firm"), ("?outcome=MAYBE", "outcome"), ("?symbol=XYZ123", "symbol"), ("?program=0", "program"),
    ("?mode=DEMO", "mode"), ("?since=yesterday", "since"), ("?since=2025-02-01&until=2025-01-01", "until"),
    ("?stauts=WIN", "stauts"), ("?strategy=a%00b", "strategy"), ("?limit=0", "limit"),
])
def test_a_bad_filter_is_a_400_naming_it(history, query, field):
    _, client = history
    for url in (f"/dashboard/trades{query}", f"/dashboard/trades.csv{query}"):
        if "limit" in query and url.endswith(".csv" + query):
            continue
        body = get(client, url, 400).get_json()
        assert body["error"] == "invalid_query" and field in body["fields"], body
    assert get(client, "/dashboard/trades.csv?limit=5", 400).get_json()["fields"] == {"limit": "unknown parameter"}


def test_the_journal_page_shows_pl_r_and_separate_paper_totals(history):
    _, client = history
    html = get(client, "/dashboard/trades").get_data(as_text=True)
    row = re.search(rf'data-journal-row="{T_WIN}\|APEX\|1".*?</tr>', html, re.S).group(0)
    assert 'data-outcome="WIN"' in row and "<td class=\"num\" data-realized>+2000.00</td>" in row
    r = REALIZED[(T_WIN, "APEX")] / RISK[(T_WIN, "APEX")]  # 2000 / (25 x 3 x 20) = 1.33
    assert f'data-r>{r:+.2f}</td>' in row
    assert "1 @ 16520" in row and "2 @ 16540" in row
    paper = re.search(r'data-totals="PAPER">.*?</div>', html, re.S).group(0)
    # FTMO +1200 - 600, APEX +2000 - 900: +1700, all paper
    assert "data-realized>+1700.00<" in paper and "not money" in paper and 'data-totals="LIVE"' not in html


def test_user_supplied_text_is_escaped_everywhere(history):
    _, client = history
    for url in ("/dashboard/trades", f"/dashboard/trades/{T_LOSS}", f"/dashboard/trades?strategy={HOSTILE_STRATEGY}"):
        html = get(client, url).get_data(as_text=True)
        assert HOSTILE_STRATEGY not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, url
    hostile_id = '"><script>alert(1)</script>'
    html = get(client, "/dashboard/trades/" + hostile_id, 404).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="no-trade"' in html
    assert get(client, "/dashboard/trades/a%00b", 400).get_json()["fields"] == {
        "trade_id": "at most 255 characters, no NUL"}


def test_a_trades_page_tells_its_whole_story(history):
    _, client = history
    html = get(client, f"/dashboard/trades/{T_WIN}").get_data(as_text=True)
    assert html.count("data-signal=") == 3  # entry, partial exit, take profit
    signals = re.findall(r'data-signal="\d+".*?<strong>(\w+)</strong>', html, re.S)
    assert signals == ["ENTRY", "EXIT_PARTIAL", "EXIT_TAKE_PROFIT"]
    assert "GLOBAL_DRY_RUN_ENABLED" in html and "not checked (exits close" in html
    ledger = re.search(r'id="trade-ledger">.*?</table>', html, re.S).group(0)
    assert ledger.count("data-event=") == 4 and "+800.00" in ledger and "-600.00" not in ledger  # its own rows only
    assert "No live order was sent for this trade" in html
    refused = get(client, f"/dashboard/trades/{T_REFUSED}").get_data(as_text=True)
    assert "STOP_INSIDE_ONE_TICK" in refused and "NOT RUN" in refused and "No account opened this trade." in refused
    assert get(client, "/dashboard/trades/never-seen", 404).status_code == 404


def test_a_breach_after_a_refused_sizing_is_not_run_on_the_overview_and_in_the_stats(history):
    _, client = history
    html = get(client, "/dashboard").get_data(as_text=True)
    row = re.search(rf'data-trade="{T_REFUSED}".*?</tr>', html, re.S).group(0)
    breach = re.search(r'data-stage="breach" data-lane="FTMO/1">(.*?)</div>\s*(?=<div|</td>)', row, re.S).group(1)
    assert "NOT RUN" in breach and "APPROVED" not in breach
    stats = client.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    ftmo = stats["firms"]["FTMO"]
    # 3 entries checked; the refused one's breach decided nothing
    assert (ftmo["breach_approved"], ftmo["breach_not_run"], ftmo["sizing_rejected"]) == (3, 1, 1)
    assert ftmo["success_rate"] is None and ftmo["orders_sent"] == 0  # dry-run: nothing sent, no rate
    assert re.search(r'data-firm-stats="FTMO">.*?data-success-rate=""', html, re.S)
    analytics = stats["analytics"]["FTMO"]
    assert analytics["orders"]["skipped"] == 6 and analytics["orders"]["success_rate"] is None  # 3 entries, 3 exits
    assert analytics["modes"] == {"DRY_RUN": 6} and analytics["latency_ms"]["samples"] == 0
    assert {"firm_code": "FTMO", "stage": "sizing", "rule": "STOP_INSIDE_ONE_TICK", "count": 1} in stats["rejections_by_rule"]
    page = get(client, "/dashboard/analytics?days=7").get_data(as_text=True)
    assert 'data-analytics="FTMO" data-sent="0" data-success-rate=""' in page
    assert get(client, "/dashboard/analytics?days=7&since=2025-01-01", 400).get_json()["fields"]["days"]


def test_the_accounts_page_draws_the_ledger(history):
    app, client = history
    db = ShortLivedConnections(app.extensions["db_engine"])
    html = get(client, "/dashboard/accounts").get_data(as_text=True)
    card = re.search(r'data-account-card="APEX-1".*?</section>', html, re.S).group(0)
    assert 'data-book="PAPER"' in card and "data-balance>151100.00<" in card  # 150000 + 2000 - 900
    chart = re.search(r'data-chart="30-days".*?</svg>', card, re.S).group(0)
    closes = [Decimal(v) for v in re.findall(r'data-kind="CLOSE"[^>]*data-equity="([-\d.]+)"', chart)]
    amounts = [r.amount for r in db.execute(text(
        "SELECT amount FROM account_events WHERE firm_code = 'APEX' ORDER BY occurred_at, id"))]
    running, expected = Decimal(150000), []
    for amount in amounts:
        running += Decimal(amount)
        expected.append(running)
    assert closes == expected == [Decimal(150400), Decimal(152000), Decimal(151100)]
    floors = re.findall(r'data-kind="CLOSE"[^>]*data-floor="([-\d.]+)"', chart)
    assert [Decimal(f) for f in floors] == [Decimal(147400), Decimal(149000), Decimal(149000)]  # HWM less 3000
    bars = re.findall(r'data-day="[^"]+" data-pl="([-\d.]+)" data-today', card)
    assert bars == ["1100.00"]  # today's P&L, as the daily check reads it


def test_the_trading_state_switch_is_on_every_page_and_returns_to_it(history):
    app, client = history
    client.get(f"/dashboard?token={TOKEN}")
    for url in PAGES[:2] + PAGES[3:]:
        html = client.get(url).get_data(as_text=True)
        assert 'action="/dashboard/trading-state"' in html and 'data-firm-mode="FTMO"' in html, url
    html = client.get("/dashboard/trades?firm=FTMO").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    back = re.search(r'name="back" value="([^"]+)"', html).group(1)
    done = client.post("/dashboard/trading-state", data={"state": "REDUCING", "why": "lunch", "csrf": csrf, "back": back})
    assert done.status_code == 303 and done.headers["Location"] == "/dashboard/trades?firm=FTMO"
    elsewhere = client.post("/dashboard/trading-state", data={"state": "ACTIVE", "why": "back", "csrf": csrf,
                                                              "back": "//evil.example/"})
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/dashboard"


def test_the_stats_answer_matches_its_openapi_schema_for_generated_queries(history):
    """schemathesis cases for GET /api/stats from /openapi.json: never a 5xx, always a documented
    status, and every 200 shaped as the document says (null rates included)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    app, _ = history
    operation = schemathesis.openapi.from_wsgi("/openapi.json", app)["/api/stats"]["GET"]

    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(case=operation.as_strategy())
    def run(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                               checks=[not_a_server_error, status_code_conformance, response_schema_conformance])

    run()
    body = app.test_client().get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert body["analytics"]["APEX"]["orders"]["success_rate"] is None
