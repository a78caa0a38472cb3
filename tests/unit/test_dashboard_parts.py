"""Pure parts of the dashboard: loss-limit bars and the summary statistics (stages not run apart)."""
from __future__ import annotations

import pytest

from dashboard.account_view import used_fraction
from dashboard.stats import summarize


@pytest.mark.parametrize("pl, limit, expected", [
    (-250.0, 1000.0, 0.25), (-1000.0, 1000.0, 1.0), (-5000.0, 1000.0, 1.0),  # capped at the limit
    (400.0, 1000.0, 0.0),  # a profit uses none of the loss limit
    (None, 1000.0, None), (-100.0, None, None),  # no data / no rule: no bar value, never 0
])
def test_used_fraction(pl, limit, expected):
    assert used_fraction(pl, limit) == expected


def test_summarize_counts_each_stage_once_and_not_run_stages_apart():
    docs = [
        {"routed": True, "action": "ENTRY",
         "risk_checks": [{"firm_code": "FTMO", "status": "APPROVED"}, {"firm_code": "APEX", "status": "REJECTED",
                                                                         "rule": "MAX_DAILY_LOSS"}],
         "program_sizing": [{"firm_code": "FTMO", "program_id": 1, "status": "REJECTED", "rule": "BELOW_ONE_CONTRACT",
                             "contracts": 0},
                            {"firm_code": "FTMO", "program_id": 2, "status": "APPROVED", "contracts": 1}],
         "account_breaches": [{"firm_code": "FTMO", "program_id": 1, "status": "APPROVED"},
                              {"firm_code": "FTMO", "program_id": 2, "status": "APPROVED"}],
         "connector_results": [{"firm_code": "FTMO", "program_id": 2, "status": "UNKNOWN"}]},
        {"error": "RuntimeError: x", "action": "ENTRY", "risk_checks": [], "connector_results": []},
        {"action": "EXIT", "connector_results": [{"firm_code": "FTMO", "program_id": 2, "status": "SUCCESS"}]},
    ]
    s = summarize(docs)
    assert (s["executions"], s["routed"], s["failed"]) == (3, 1, 1)
    ftmo, apex = s["firms"]["FTMO"], s["firms"]["APEX"]
    assert (ftmo["risk_approved"], ftmo["sizing_approved"], ftmo["sizing_rejected"]) == (1, 1, 1)  # risk once, not per program
    # program 1's breach "APPROVED" came after its sizing refused it: not run, not an approval
    assert (ftmo["breach_approved"], ftmo["breach_rejected"], ftmo["breach_not_run"]) == (1, 0, 1)
    assert (apex["risk_rejected"], apex["sizing_not_run"], apex["breach_not_run"]) == (1, 1, 1)
    assert (ftmo["connector_unknown"], ftmo["connector_success"], ftmo["orders_sent"], ftmo["success_rate"]) == (1, 1, 2, 50.0)
    assert apex["orders_sent"] == 0 and apex["success_rate"] is None  # nothing sent: no rate, not 0.00
    assert s["rejections_by_rule"] == [
        {"firm_code": "APEX", "stage": "risk", "rule": "MAX_DAILY_LOSS", "count": 1},
        {"firm_code": "FTMO", "stage": "sizing", "rule": "BELOW_ONE_CONTRACT", "count": 1}]


def test_a_dry_run_day_has_no_success_rate():
    skipped = {"firm_code": "FTMO", "program_id": 1, "status": "SKIPPED", "reason": "GLOBAL_DRY_RUN_ENABLED",
               "mode": "DRY_RUN"}
    s = summarize([{"action": "EXIT", "connector_results": [skipped]}] * 3)
    assert s["firms"]["FTMO"]["connector_skipped"] == 3 and s["firms"]["FTMO"]["success_rate"] is None


def test_bars_render_used_loss_against_the_limit(make_app):
    from flask import get_template_attribute

    app = make_app()
    row = {"pl_source": "LEDGER", "open_pl_source": "MARK"}
    with app.test_request_context():
        bar = get_template_attribute("_macros.html", "limit_bar")
        daily = str(bar(0.85, -850.0, 1000.0, 150.0, row))
        drawdown = str(bar(0.25, -500.0, 2000.0, 1500.0, row))
        missing = str(bar(None, None, 1000.0, None, row))
    assert 'class="bar bad"><span style="width: 85.0%">' in daily and "-850.00 / 1000.00 (85.0%)" in daily
    assert "room 150.00 · LEDGER + MARK open P&amp;L" in daily
    assert 'class="bar "><span style="width: 25.0%">' in drawdown and "-500.00 / 2000.00 (25.0%)" in drawdown
    assert "no data" in missing and "0.00 / 1000.00" not in missing
