"""The equity curve and daily bars (dashboard/equity_curve.py) on the real ledger engine, the SVG
geometry (dashboard/charts.py), execution analytics (dashboard/analytics.py), the stages as
shown (dashboard/stages.py), the time display and the form's return address."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from account_engine.ledger import LedgerEntry, compute_account_state
from dashboard.analytics import OrderTiming, analyse, percentile
from dashboard.blueprint import safe_back
from dashboard.charts import _nice_step, bar_chart, line_chart
from dashboard.equity_curve import curve, daily_bars, states_from
from dashboard.stages import StageStatus, lanes
from dashboard.times import zoned

D = Decimal
PRAGUE = "Europe/Prague"
MIDNIGHT = time(0, 0)
# FTMO program 1 of the guide's Step 2: 100,000, daily limit 1000, trailing drawdown 2000.
NOW = datetime(2026, 3, 12, 12, 0, tzinfo=timezone.utc)
EVENTS = [
    LedgerEntry("CLOSE", D(-800), datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc), True, "A"),
    LedgerEntry("CLOSE", D(1500), datetime(2026, 3, 11, 9, 0, tzinfo=timezone.utc), True, "B"),
    LedgerEntry("CLOSE", D(-400), datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc), True, "C"),
]


def state_at(at):
    return compute_account_state(firm_code="FTMO", program_id=1, account_size=D(100000), entries=EVENTS,
                                 open_contracts=0, now=at, day_start=MIDNIGHT, day_timezone=PRAGUE,
                                 max_drawdown=D(2000))


def test_every_point_is_the_ledger_balance_then_and_the_limit_lines_follow_it():
    final = state_at(NOW)
    points = curve(state_at, [(e.occurred_at, e.kind) for e in EVENTS], since=NOW - timedelta(days=30), now=NOW,
                   final=final, day_start=MIDNIGHT, zone=PRAGUE, max_daily_loss=D(1000))
    closes = [p for p in points if p.kind == "CLOSE"]
    assert [p.equity for p in closes] == [D(99200), D(100700), D(100300)]  # 100000 -800, +1500, -400
    assert [p.floor for p in closes] == [D(98000), D(98700), D(98700)]  # trails the high 100700 less 2000
    # the daily loss line: the day's opening balance less 1000 (Prague days)
    assert [p.daily_line for p in closes] == [D(99000), D(98200), D(99700)]
    assert points[0].kind == "START" and points[0].equity == D(100000) and points[-1].kind == "NOW"
    starts = [p.at for p in points if p.kind == "DAY_START"]
    assert datetime(2026, 3, 11, 23, 0, tzinfo=timezone.utc) in starts  # midnight in Prague (CET)
    assert [p.at for p in points] == sorted(p.at for p in points)


def test_a_long_history_draws_its_newest_events_from_just_before_the_first_of_them(monkeypatch):
    monkeypatch.setattr("dashboard.equity_curve.MAX_POINTS", 2)
    points = curve(state_at, [(e.occurred_at, e.kind) for e in EVENTS], since=NOW - timedelta(days=30), now=NOW,
                   final=state_at(NOW), day_start=MIDNIGHT, zone=PRAGUE, max_daily_loss=D(1000))
    assert points[0].kind == "START" and points[0].equity == D(99200)  # after the first close, before the second
    assert [p.equity for p in points if p.kind == "CLOSE"] == [D(100700), D(100300)]


def test_states_are_folded_from_the_entries_up_to_each_instant_once():
    calls = []

    def fold(entries, at):
        calls.append((len(entries), at))
        return state_at(at)

    at = states_from(fold, reversed(EVENTS))
    assert at(EVENTS[1].occurred_at).equity == D(100700) and at(EVENTS[1].occurred_at).equity == D(100700)
    assert calls == [(2, EVENTS[1].occurred_at)]  # the two entries up to then, folded once


def test_daily_bars_are_each_days_pl_as_the_daily_check_read_it():
    bars = daily_bars(state_at, since=NOW - timedelta(days=3), now=NOW, final=state_at(NOW), day_start=MIDNIGHT,
                      zone=PRAGUE)
    by_day = {b.day: b.pl for b in bars}
    assert by_day[date(2026, 3, 10)] == D(-800) and by_day[date(2026, 3, 11)] == D(1500)
    assert by_day[date(2026, 3, 12)] == D(-400) and bars[-1].today and not bars[0].today
    assert by_day[date(2026, 3, 9)] == 0


def test_chart_geometry_draws_steps_within_the_plot_and_round_ticks():
    final = state_at(NOW)
    since = NOW - timedelta(days=3)
    points = curve(state_at, [(e.occurred_at, e.kind) for e in EVENTS], since=since, now=NOW, final=final,
                   day_start=MIDNIGHT, zone=PRAGUE, max_daily_loss=D(1000))
    chart = line_chart(points, lambda t: t.strftime("%d"))
    xs = [d.x for d in chart.dots]
    assert xs == sorted(xs) and chart.left <= xs[0] and xs[-1] <= chart.right
    assert all(0 <= d.y <= chart.height for d in chart.dots)
    higher = {d.point.equity: d.y for d in chart.dots}
    assert higher[D(100700)] < higher[D(99200)]  # more equity is drawn higher up
    assert len(chart.equity.split()) == 2 * len(points) - 1  # a step (two corners) per change
    assert [t.label for t in chart.y_ticks][:2] == ["98,000", "99,000"]  # a span of ~3,100 in steps of 1,000
    assert (_nice_step(7.0), _nice_step(3000), _nice_step(0.3)) == (2, 1000, 0.1)
    bars = bar_chart(daily_bars(state_at, since=since, now=NOW, final=final, day_start=MIDNIGHT, zone=PRAGUE),
                     lambda b: str(b.day))
    loss, gain = bars.bars[1], bars.bars[2]  # 03-10 lost 800, 03-11 made 1500
    assert loss.y == bars.zero and gain.y + gain.height == bars.zero and gain.height > loss.height


def timing(firm, ms, status="SUCCESS", reason=None):
    t0 = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
    return OrderTiming(firm, status, reason, t0, t0 + timedelta(milliseconds=ms))


def test_analytics_counts_outcomes_latency_and_slippage():
    def result(status, reason=None, mode="LIVE", fill=None, side="BUY", price=16500.0, contracts=2):
        item = {"firm_code": "APEX", "program_id": 1, "status": status, "reason": reason, "mode": mode,
                "details": {"side": side, "entry_price": price, "contracts": contracts, "symbol": "NQ"}}
        return item if fill is None else dict(item, fill_price=fill)

    docs = [{"action": "ENTRY", "risk_checks": [{"firm_code": "APEX", "status": "APPROVED"}],
             "program_sizing": [{"firm_code": "APEX", "program_id": 1, "status": "APPROVED", "contracts": 2}],
             "account_breaches": [{"firm_code": "APEX", "program_id": 1, "status": "APPROVED"}],
             "connector_results": [r]} for r in (
        result("SUCCESS", fill=16500.5),  # bought 0.5 worse: 0.5 x 2 x 20 = $20
        result("SUCCESS", fill=16499.75, side="SELL", price=16500.0),  # sold 0.25 worse: $10
        result("FAILED", "ORDER_REJECTED"), result("UNKNOWN", "TIMEOUT"),
        result("SKIPPED", "GLOBAL_DRY_RUN_ENABLED", mode="DRY_RUN"))]
    timings = [timing("APEX", ms) for ms in (120, 80, 300, 100)] + [timing("APEX", 9000, reason="RECONCILED_FOUND")]
    apex = analyse(docs, timings, lambda symbol: D(20))["APEX"]
    assert apex["orders"] == {"attempts": 5, "sent": 4, "success": 2, "failed": 1, "unknown": 1, "skipped": 1,
                              "success_rate": 50.0}
    assert apex["modes"] == {"DRY_RUN": 1, "LIVE": 4}
    assert {(r["status"], r["reason"]) for r in apex["outcome_reasons"]} == {
        ("FAILED", "ORDER_REJECTED"), ("UNKNOWN", "TIMEOUT"), ("SKIPPED", "GLOBAL_DRY_RUN_ENABLED")}
    assert apex["latency_ms"] == {"samples": 4, "p50": 100.0, "p95": 300.0}  # the reconciled order has no ack time
    assert apex["slippage"] == {"fills": 2, "avg_points": 0.375, "avg_dollars": 15.0, "total_dollars": 30.0}


def test_nothing_to_measure_is_none_not_zero():
    skipped = {"firm_code": "FTMO", "program_id": 1, "status": "SKIPPED", "mode": "DRY_RUN", "details": {}}
    ftmo = analyse([{"action": "EXIT", "connector_results": [skipped]}], [], lambda s: None)["FTMO"]
    assert ftmo["orders"]["success_rate"] is None and ftmo["latency_ms"]["p50"] is None
    assert ftmo["slippage"]["avg_points"] is None and percentile([], 0.5) is None


def test_lanes_show_a_breach_after_a_sizing_refusal_as_not_run_and_keep_a_breach_rejection():
    doc = {"risk_checks": [{"firm_code": "FTMO", "status": "APPROVED"}, {"firm_code": "APEX", "status": "REJECTED"}],
           "program_sizing": [{"firm_code": "FTMO", "program_id": 1, "status": "REJECTED", "contracts": 0},
                              {"firm_code": "FTMO", "program_id": 2, "status": "REJECTED", "contracts": 0}],
           "account_breaches": [{"firm_code": "FTMO", "program_id": 1, "status": "APPROVED"},
                                {"firm_code": "FTMO", "program_id": 2, "status": "REJECTED", "rule": "MAX_DRAWDOWN"}]}
    one, two, apex = lanes(doc)
    assert (one.breach.status, one.breach.recorded) == (StageStatus.NOT_RUN, "APPROVED")
    assert two.breach.status == StageStatus.REJECTED and two.breach.rule == "MAX_DRAWDOWN"
    assert (apex.firm_code, apex.program_id, apex.sizing.status, apex.connector) == ("APEX", None, "NOT_RUN", None)


def test_times_show_the_firm_zone_and_utc():
    at = datetime(2026, 3, 10, 23, 30, tzinfo=timezone.utc)
    html = str(zoned(at, PRAGUE))
    assert "2026-03-11 00:30:00 CET" in html and "2026-03-10 23:30:00 UTC" in html  # the UTC date differs
    assert "19:30:00 EDT" in str(zoned(at, "America/New_York")) and "23:30:00 UTC" in str(zoned(at, "America/New_York"))


@pytest.mark.parametrize("target, expected", [
    ("/dashboard/trades?firm=FTMO", "/dashboard/trades?firm=FTMO"), ("/dashboard", "/dashboard"),
    ("//evil.example/dashboard", None), ("https://evil.example/dashboard", None), ("/dashboard\\..", None),
    ("/dashboard//evil.example", None), ("/dashboard\r\nSet-Cookie: x=1", None), ("/api/stats", None), ("", None),
])
def test_a_form_returns_only_to_a_dashboard_page(target, expected):
    assert safe_back(target) == expected
