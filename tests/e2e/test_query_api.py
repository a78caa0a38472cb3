"""The admin query API over HTTP (Flask client), on SQLite and PostgreSQL."""
from __future__ import annotations

import base64

import pytest

from tests.observability_fakes import ENTRY_T1, ENTRY_T2, run_scenario_over_http

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def routed(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    run_scenario_over_http(app, client)
    return client


def test_requires_the_admin_token(routed, make_app):
    assert routed.get("/api/executions").status_code == 401
    assert routed.get("/api/executions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert routed.get("/api/executions", headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_admin_api_is_closed_without_admin_token(make_app):
    client = make_app().test_client()
    response = client.get("/api/executions", headers=AUTH)
    assert response.status_code == 403 and response.get_json()["error"] == "admin_disabled"


def test_lists_newest_first_with_paging(routed):
    body = routed.get("/api/executions?limit=2", headers=AUTH).get_json()
    assert body["total"] == 5 and len(body["items"]) == 2
    assert [i["event_type"] for i in body["items"]] == ["MFE_UPDATE", "SIGNAL_CREATED"]
    assert body["items"][1]["status"] == "FAILED" and "ledger unavailable" in body["items"][1]["error"]
    page3 = routed.get("/api/executions?limit=2&offset=4", headers=AUTH).get_json()
    assert [i["trade_id"] for i in page3["items"]] == [ENTRY_T1["trade_id"]]
    assert page3["items"][0]["result"]["connector_results"][0]["status"] == "SUCCESS"
    assert page3["items"][0]["created_at"].endswith("+00:00")


@pytest.mark.parametrize("query, expected", [
    (f"trade_id={ENTRY_T1['trade_id']}", 3),
    ("status=failed", 1),
    ("event_type=exit_stop_loss", 1),
    ("event_type=SIGNAL_CREATED", 3),
    ("firm=APEX", 2),  # T1 (order failed) and T2 (breach rejected); the FTMO-only exit is not APEX's
    ("firm=ftmo", 3),
    ("since=2000-01-01T00:00:00Z", 5),
    ("until=2000-01-01T00:00:00", 0),
])
def test_filters(routed, query, expected):
    body = routed.get(f"/api/executions?{query}", headers=AUTH).get_json()
    assert body["total"] == expected, body


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset"),
    ("status=DONE", "status"), ("firm=NOPE", "firm"), ("since=yesterday", "since"),
    ("since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "until"), ("stauts=FAILED", "stauts"),
])
def test_bad_parameters_are_400_naming_the_parameter(routed, query, field):
    response = routed.get(f"/api/executions?{query}", headers=AUTH)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]


@pytest.mark.parametrize("url, field", [
    ("/api/executions?trade_id=a%00b", "trade_id"),
    ("/api/executions?event_type=a%00b", "event_type"),
    ("/api/executions?firm=FTMO%00", "firm"),
    ("/api/executions?status=FAILED%00", "status"),
    ("/api/executions?since=2025-01-01%00", "since"),
    ("/api/executions?limit=5%00", "limit"),
    ("/api/stats?until=2025-01-01T00:00:00Z%00", "until"),
    ("/api/executions?since=0001-01-01T00:00:00%2B14:00", "since"),  # no UTC equivalent
    ("/api/stats?until=9999-12-31T23:59:59-14:00", "until"),
    ("/api/executions/2147483648", "task_id"),  # beyond the 32-bit id column
    ("/api/executions/99999999999999999999", "task_id"),
])
def test_values_the_database_cannot_take_are_400_naming_the_parameter(routed, url, field):
    """NUL characters (PostgreSQL cannot compare them), times without a UTC equivalent and ids past
    the id column's range: the same 400 on both backends, never a 500 from the driver."""
    response = routed.get(url, headers=AUTH)
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["error"] in ("invalid_query", "invalid_path") and field in body["fields"], body
    assert routed.get("/api/executions/2147483647", headers=AUTH).status_code == 404  # the largest id: a look-up


def test_one_execution_with_its_log(routed):
    listed = routed.get(f"/api/executions?trade_id={ENTRY_T2['trade_id']}", headers=AUTH).get_json()["items"][0]
    body = routed.get(f"/api/executions/{listed['task_id']}", headers=AUTH).get_json()
    assert body["payload"]["trade_id"] == ENTRY_T2["trade_id"] and body["status"] == "COMPLETED"
    breaches = body["log"]["response_body"]["account_breaches"]
    assert breaches == [{"firm_code": "APEX", "program_id": 1, "status": "REJECTED", "rule": "MAX_DAILY_LOSS",
                         "reason": "Daily loss -1600.0 exceeds max_daily_loss 1500.0.", "details": breaches[0]["details"]}]
    missing = routed.get("/api/executions/999", headers=AUTH)
    assert missing.status_code == 404 and missing.get_json()["fields"] == {"task_id": "not found"}


def test_accounts_show_limits_open_contracts_and_ledger_pl(routed):
    body = routed.get("/api/accounts", headers=AUTH).get_json()
    rows = {(a["firm_code"], a["program_id"]): a for a in body["accounts"]}
    assert rows[("FTMO", 1)]["max_daily_loss"] == 1000.0 and rows[("FTMO", 1)]["max_drawdown"] == 2000.0
    assert rows[("FTMO", 1)]["open_contracts"] == 0  # opened 2, closed by the stop-loss exit
    assert rows[("APEX", 1)]["open_contracts"] == 0  # its order failed: released
    # 2 NQ long 16500 -> stop-loss exit 16475: -25 points x 2 contracts x $20 = -1000
    assert rows[("FTMO", 1)]["day_pl"] == -1000.0 and rows[("FTMO", 1)]["total_pl"] == -1000.0
    assert rows[("FTMO", 1)]["pl_source"] == "LEDGER" and rows[("FTMO", 1)]["mode"] == "LIVE"
    assert rows[("APEX", 1)]["day_pl"] == 0.0
    assert body["trading_state"]["available"] is True and body["trading_state"]["state"] == "ACTIVE"


def test_summary_statistics(routed):
    body = routed.get("/api/stats", headers=AUTH).get_json()
    assert body["executions"] == 5 and body["routed"] == 2 and body["failed"] == 1
    assert body["tasks_by_status"] == {"COMPLETED": 4, "FAILED": 1}
    assert body["firms"]["FTMO"]["risk_rejected"] == 1 and body["firms"]["FTMO"]["connector_success"] == 2
    assert body["firms"]["APEX"]["breach_rejected"] == 1 and body["firms"]["APEX"]["connector_failed"] == 1
    assert {(r["firm_code"], r["stage"], r["rule"]) for r in body["rejections_by_rule"]} == {
        ("FTMO", "risk", "MAX_DAILY_LOSS"), ("APEX", "breach", "MAX_DAILY_LOSS")}
    assert routed.get("/api/stats?until=2000-01-01T00:00:00Z", headers=AUTH).get_json()["executions"] == 0
