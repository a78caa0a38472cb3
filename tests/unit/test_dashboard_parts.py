"""Pure parts of the dashboard: loss-limit bars and the summary statistics."""
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


def test_summarize_counts_each_stage_and_rule():
    docs = [
        {"routed": True, "risk_checks": [{"firm_code": "FTMO", "status": "APPROVED"}],
         "program_sizing": [{"firm_code": "FTMO", "status": "REJECTED", "rule": "BELOW_ONE_CONTRACT"}],
         "connector_results": [{"firm_code": "FTMO", "status": "UNKNOWN"}]},
        {"error": "RuntimeError: x", "account_breaches": [{"firm_code": "APEX", "status": "ERROR", "rule": None}]},
    ]
    s = summarize(docs)
    assert (s["executions"], s["routed"], s["failed"]) == (2, 1, 1)
    assert s["firms"]["FTMO"]["sizing_rejected"] == 1 and s["firms"]["FTMO"]["connector_other"] == 1
    assert s["rejections_by_rule"] == [
        {"firm_code": "APEX", "stage": "breach", "rule": "NONE", "count": 1},
        {"firm_code": "FTMO", "stage": "sizing", "rule": "BELOW_ONE_CONTRACT", "count": 1}]


def test_bars_render_used_loss_against_the_limit(make_app):
    """What the page shows once the ledger fills day_pl/drawdown (issue 5 wires account_rows)."""
    from flask import render_template

    app = make_app()
    row = {"firm_code": "FTMO", "program_id": 1, "mode": "DRY_RUN", "day_pl": -850.0, "max_daily_loss": 1000.0,
           "daily_used": 0.85, "drawdown": 500.0, "max_drawdown": 2000.0, "drawdown_used": 0.25,
           "open_contracts": 2, "max_contracts": 5}
    with app.test_request_context():
        html = render_template("dashboard.html", refresh=15, now=__import__("datetime").datetime.now(), executions=[],
                               executions_total=0, stats=summarize([]), accounts=[row], positions=[], firm_modes={},
                               routed_firms=(), trading_state={"available": False}, states=(), csrf="x")
    assert 'class="bar bad"><span style="width: 85.0%">' in html and "-850.00 / 1000.00 (85.0%)" in html
    assert 'class="bar "><span style="width: 25.0%">' in html and "500.00 / 2000.00 (25.0%)" in html
