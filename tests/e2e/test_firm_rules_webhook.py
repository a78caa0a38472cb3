"""The firm rules over time and the daily locks through the webhook (Flask client) on SQLite and
PostgreSQL, with the router's clock scripted: trading windows across America/Chicago's DST
changes and across midnight, the flat-by cutoff, news blackouts (inline and from a file), the
profit target and trade count resetting at Topstep's 17:00 CT day start, Apex's stop-and-target
warning in dry-run, and check-config's lines.

TOPSTEP program 1: $50,000 x 1% = $500 at risk; NQ 25-point stop x $20 = $500 per contract: 1
contract. An exit 20 points up books (16520 - 16500) x 1 x 20 = +$400.
"""
from __future__ import annotations

import time as wall
from datetime import datetime, time, timedelta, timezone

import pytest

from account_engine.trading_day import next_trading_day_start
from tests.e2e.test_check_config_cli import check_config
from tests.e2e.scripted import Clock
from tests.e2e.test_trading_day_ledger import post

UTC = timezone.utc
TOPSTEP = {"ROUTE_TO_FIRMS": "TOPSTEP", "TOPSTEP_PROGRAM_IDS": "1", "TOPSTEP_1_ACCOUNT_SIZE": "50000",
           "TOPSTEP_1_RISK_PER_TRADE": "0.01"}


def entry(trade_id, **extra):
    return {"event_type": "ENTRY", "trade_id": trade_id, "direction": "Bullish", "entry_price": 16500,
            "stop_loss": 16475, "symbol": "NQ1!", **extra}


def result_of(body, firm="TOPSTEP"):
    return next(r for r in body["connector_results"] if r["firm_code"] == firm)


def scripted(make_app, now: datetime, **env):
    app = make_app(**{**TOPSTEP, **env})
    clock = Clock(now)
    app.extensions["execution_router"].clock = clock
    return app.test_client(), clock


def assert_refused(body, rule, until: datetime):
    result = result_of(body)
    assert (result["status"], result["reason"], result["rule"]) == ("SKIPPED", rule, rule)
    (check,) = body["safety_checks"]
    assert (check["rule"], check["status"], check["until"]) == (rule, "REJECTED", until.isoformat())
    assert body["routed"] is False


def assert_approved(body):
    assert result_of(body)["reason"] == "GLOBAL_DRY_RUN_ENABLED", body["connector_results"]
    assert body["safety_checks"] == []


def test_a_trading_window_follows_chicago_across_the_fall_dst_change(make_app):
    client, clock = scripted(make_app, datetime(2026, 10, 30, 13, 45, tzinfo=UTC),  # Friday 08:45 CDT
                             TOPSTEP_1_TRADING_WINDOWS="08:30-11:30")
    assert_approved(post(client, entry("FRI")))
    clock.now = datetime(2026, 11, 2, 13, 45, tzinfo=UTC)  # the same UTC time is Monday 07:45 CST
    assert_refused(post(client, entry("MON_EARLY")), "OUTSIDE_TRADING_WINDOW", datetime(2026, 11, 2, 14, 30, tzinfo=UTC))
    # Exits always pass: Friday's trade closes outside the window.
    closed = post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": "FRI", "exit_price": 16490})
    assert [c["contracts"] for c in closed["account_closes"]] == [1]
    clock.now = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)  # 08:30 CST
    assert_approved(post(client, entry("MON_OPEN")))


def test_a_window_crossing_midnight_opens_sunday_evening_across_the_spring_change(make_app):
    client, clock = scripted(make_app, datetime(2027, 3, 14, 21, 59, tzinfo=UTC),  # Sunday 16:59 CDT
                             TOPSTEP_1_TRADING_WINDOWS="17:00-16:00", TOPSTEP_1_TRADING_DAYS="MON-FRI")
    assert_refused(post(client, entry("SUN_EARLY")), "OUTSIDE_TRADING_WINDOW", datetime(2027, 3, 14, 22, 0, tzinfo=UTC))
    clock.now = datetime(2027, 3, 14, 22, 0, tzinfo=UTC)  # 17:00 CDT opens Monday's session
    assert_approved(post(client, entry("SUN_OPEN")))
    clock.now = datetime(2027, 3, 19, 21, 30, tzinfo=UTC)  # Friday 16:30 CDT: the week is over
    assert_refused(post(client, entry("FRI_LATE")), "OUTSIDE_TRADING_WINDOW", datetime(2027, 3, 21, 22, 0, tzinfo=UTC))


def test_flat_by_refuses_entries_until_the_next_session_and_lets_exits_out(make_app):
    client, clock = scripted(make_app, datetime(2026, 11, 2, 21, 9, tzinfo=UTC),  # Monday 15:09 CST
                             TOPSTEP_1_FLAT_BY="default")
    assert_approved(post(client, entry("BEFORE")))
    clock.now = datetime(2026, 11, 2, 21, 10, tzinfo=UTC)  # 15:10 CST: Topstep's flat-by
    body = post(client, entry("AFTER"))
    assert_refused(body, "FLAT_BY_CUTOFF", datetime(2026, 11, 2, 23, 0, tzinfo=UTC))
    assert "15:10 America/Chicago" in result_of(body)["message"]
    assert [c["contracts"] for c in post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": "BEFORE",
                                                  "exit_price": 16510})["account_closes"]] == [1]
    clock.now = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)  # 17:00 CST: the next trading day
    assert_approved(post(client, entry("NEXT_DAY")))


@pytest.mark.parametrize("source", ["inline", "file"])
def test_entries_inside_a_news_blackout_are_refused_until_its_end(make_app, tmp_path, source):
    blackouts = "2026-12-10T13:30Z/30/15/FOMC"
    if source == "file":
        path = tmp_path / "news.txt"
        path.write_text(f"# FOMC rate decision\n{blackouts}  # 08:30 ET\n")
        env = {"NEWS_BLACKOUTS_FILE": str(path)}
    else:
        env = {"NEWS_BLACKOUTS": blackouts}
    client, clock = scripted(make_app, datetime(2026, 12, 10, 12, 59, tzinfo=UTC), **env)
    assert_approved(post(client, entry("BEFORE_NEWS")))
    clock.now = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)
    body = post(client, entry("IN_NEWS"))
    assert_refused(body, "NEWS_BLACKOUT", datetime(2026, 12, 10, 13, 45, tzinfo=UTC))
    assert "FOMC" in result_of(body)["message"]
    clock.now = datetime(2026, 12, 10, 13, 45, tzinfo=UTC)
    assert_approved(post(client, entry("AFTER_NEWS")))


def test_the_daily_profit_target_locks_entries_until_topsteps_day_start(make_app):
    client, clock = scripted(make_app, datetime(2026, 11, 2, 15, 0, tzinfo=UTC),  # Monday 09:00 CST
                             TOPSTEP_1_DAILY_PROFIT_TARGET="400")
    assert_approved(post(client, entry("WIN")))
    clock.now += timedelta(minutes=30)
    post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": "WIN", "exit_price": 16520})
    clock.now += timedelta(minutes=30)
    body = post(client, entry("AFTER_TARGET"))
    assert_refused(body, "DAILY_PROFIT_TARGET", datetime(2026, 11, 2, 23, 0, tzinfo=UTC))  # 17:00 CST
    assert body["account_states"][0]["day_pl"] == 400.0
    clock.now = datetime(2026, 11, 2, 22, 59, tzinfo=UTC)
    assert_refused(post(client, entry("STILL_TODAY")), "DAILY_PROFIT_TARGET", datetime(2026, 11, 2, 23, 0, tzinfo=UTC))
    clock.now = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    assert_approved(post(client, entry("NEXT_DAY")))


def _now_clear_of_the_boundary() -> datetime:
    """Now, at least a minute before Topstep's next day start: the positions' reservation time is
    the database's clock, so the count test runs on real time (docs/configuration.md)."""
    now = datetime.now(UTC)
    boundary = next_trading_day_start(now, time(17), "America/Chicago")
    if boundary - now < timedelta(minutes=1):
        wall.sleep((boundary - now).total_seconds() + 1)
        now = datetime.now(UTC)
    return now


def test_max_trades_per_day_counts_opened_entries_and_resets_at_the_day_start(make_app):
    now = _now_clear_of_the_boundary()
    client, clock = scripted(make_app, now, TOPSTEP_1_MAX_TRADES_PER_DAY="2")
    nxt = next_trading_day_start(now, time(17), "America/Chicago")
    assert_approved(post(client, entry("T1")))
    post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": "T1", "exit_price": 16490})  # closed: still counts
    refused_by_sizing = post(client, entry("TOO_TIGHT", stop_loss=16499.9))  # no order, no count
    assert refused_by_sizing["connector_results"] == []
    assert_approved(post(client, entry("T2")))
    body = post(client, entry("T3"))
    assert_refused(body, "MAX_TRADES_PER_DAY", nxt)
    assert "2 trade(s) opened today reaches the limit of 2" in result_of(body)["message"]
    assert_refused(post(client, entry("T4")), "MAX_TRADES_PER_DAY", nxt)  # a refused entry opened nothing
    clock.now = nxt
    assert_approved(post(client, entry("T5")))


def test_apex_dry_run_entry_without_a_target_is_allowed_and_warned(make_app):
    client = make_app().test_client()  # the guide's Step 2: FTMO and APEX, dry-run
    body = post(client, entry("NO_TARGET"))
    assert result_of(body, "APEX")["reason"] == "GLOBAL_DRY_RUN_ENABLED"
    (warning,) = body["warnings"]
    assert (warning["firm_code"], warning["program_id"], warning["rule"]) == ("APEX", 1, "STOP_AND_TARGET_REQUIRED")
    assert "has no target: live, it would be refused" in warning["details"]
    with_target = post(client, entry("WITH_TARGET", take_profit=16550))
    assert "warnings" not in with_target and result_of(with_target, "APEX")["reason"] == "GLOBAL_DRY_RUN_ENABLED"


def test_check_config_prints_each_programs_windows_flat_by_locks_and_next_blackout(tmp_path):
    done = check_config(tmp_path, **TOPSTEP, TOPSTEP_1_TRADING_WINDOWS="08:30-11:30", TOPSTEP_1_FLAT_BY="default",
                        TOPSTEP_1_MAX_TRADES_PER_DAY="3", TOPSTEP_1_DAILY_PROFIT_TARGET="1500",
                        NEWS_BLACKOUTS="2099-01-09T13:30Z/30/15/NFP", TOPSTEP_1_FLATTEN_BEFORE_NEWS="true",
                        TOPSTEP_1_MAX_DAILY_LOSS="1000", TOPSTEP_1_GUARD_BUFFER="250")
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert any(line.startswith("trading_windows        08:30-11:30 MON,TUE,WED,THU,FRI America/Chicago") for line in lines)
    assert any(line.startswith("flat_by                15:10 America/Chicago (next ") and
               line.endswith("TOPSTEP_1_FLAT_BY=default (15:10 America/Chicago)") for line in lines)
    assert "max_trades_per_day                3  TOPSTEP_1_MAX_TRADES_PER_DAY" in lines
    assert "daily_profit_target        1,500.00  TOPSTEP_1_DAILY_PROFIT_TARGET" in lines
    assert "guard_buffer                 250.00  TOPSTEP_1_GUARD_BUFFER" in lines
    assert "next_blackout          2099-01-09T13:30Z -30/+15 min NFP (flattens before it)" in lines
    assert any(line.startswith("session_close    positions flat by 3:10 PM CT") for line in lines)
    assert "News blackouts: 1 (NEWS_BLACKOUTS / NEWS_BLACKOUTS_FILE)" in lines


def test_check_config_warns_where_the_firm_requires_a_flat_by_not_set(tmp_path):
    done = check_config(tmp_path, **TOPSTEP)
    assert done.returncode == 0, done.stderr
    assert any(line.strip().startswith("TOPSTEP: the firm requires flat positions by 15:10 America/Chicago")
               for line in done.stdout.splitlines())
    silenced = check_config(tmp_path, **TOPSTEP, TOPSTEP_1_FLAT_BY="off")
    assert "TOPSTEP: the firm requires" not in silenced.stdout
