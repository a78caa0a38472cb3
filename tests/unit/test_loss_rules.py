"""Loss rules measured as each firm measures them, in the pure ledger engine: daily loss on equity
since the firm's day start, the intraday and the end-of-day trail (each with the variant that
stops at the starting balance), the static maximum loss, and the paper and live books."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from account_engine import evaluate_account_breach
from account_engine.ledger import CLOSE, NEW_DAY, LedgerEntry, compute_account_state
from config import ConfigError, parse_settings
from config.report import routing_table
from prop_firm_registry import get_firm_registry
from tests.conftest import STEP2_ENV

D = Decimal
UTC = timezone.utc
# Topstep's day starts 17:00 America/Chicago (22:00 UTC in June): DAY1 09:00 UTC is inside the
# trading day that began June 9 22:00 UTC.
DAY1 = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


def state(entries, now, *, firm="TOPSTEP", size=D(50000), max_dd=D(2000), mode="TRAILING", trail="INTRADAY", **kw):
    info = get_firm_registry()[firm]
    return compute_account_state(
        firm_code=firm, program_id=1, account_size=size, entries=entries, open_contracts=0, now=now,
        day_start=info.trading_day_start, day_timezone=info.trading_day_timezone,
        drawdown_mode=mode, drawdown_trail=trail, max_drawdown=max_dd, **kw)


def close(amount, at, simulated=False):
    return LedgerEntry(CLOSE, D(str(amount)), at, simulated)


def day(n, hour=0):
    return DAY1 + timedelta(days=n, hours=hour)


def test_the_end_of_day_trail_moves_only_at_the_day_boundary_the_intraday_one_at_once():
    ledger = [close(1500, day(0)), close(-1000, day(0, 1))]
    intraday, eod = (state(ledger, day(0, 2), trail=t) for t in ("INTRADAY", "END_OF_DAY"))
    assert (intraday.high_water_mark, intraday.drawdown, intraday.drawdown_floor) == (D(51500), D(-1000), D(49500))
    assert (eod.high_water_mark, eod.drawdown, eod.drawdown_floor) == (D(50000), D(0), D(48000))  # no day closed yet
    eod_next = state(ledger, day(1))  # default trail stays intraday
    assert eod_next.high_water_mark == D(51500)
    eod_next = state(ledger, day(1), trail="END_OF_DAY")
    assert (eod_next.high_water_mark, eod_next.drawdown_floor) == (D(50500), D(48500))  # the day closed at 50,500


def test_open_profit_raises_the_intraday_mark_but_never_the_end_of_day_one():
    ledger = [close(500, day(0))]
    intraday = state(ledger, day(1), open_pl=D(1200))
    eod = state(ledger, day(1), open_pl=D(1200), trail="END_OF_DAY")
    assert (intraday.equity, intraday.high_water_mark, intraday.drawdown) == (D(51700), D(51700), D(0))
    assert (eod.high_water_mark, eod.drawdown, eod.drawdown_floor) == (D(50500), D(0), D(48500))
    # the open profit turns into an open loss: the end-of-day floor is measured on equity
    eod_loss = state(ledger, day(1), open_pl=D(-2000), trail="END_OF_DAY")
    assert (eod_loss.equity, eod_loss.drawdown) == (D(48500), D(-2000))
    assert evaluate_account_breach("TOPSTEP", 1, eod_loss.metrics(), {"max_drawdown": D(2000)}).rule == "MAX_DRAWDOWN"


def test_topsteps_published_example_end_of_day_trail_stopping_at_the_starting_balance():
    """help.topstep.com "What is the Maximum Loss Limit?": $50K, $2,000: +500 on day 1 -> floor
    48,500; -500 on day 2 -> still 48,500; +2,500 on day 3 (52,500) -> floor 50,000 and stays."""
    rule = dict(mode="TRAILING_UNTIL_START", trail="END_OF_DAY")
    ledger = [close(500, day(0))]
    assert state(ledger, day(1), **rule).drawdown_floor == D(48500)
    ledger.append(close(-500, day(1)))
    assert state(ledger, day(2), **rule).drawdown_floor == D(48500)
    ledger.append(close(2500, day(2)))
    during_day3 = state(ledger, day(2, 1), **rule)
    assert during_day3.drawdown_floor == D(48500) and not during_day3.trailing_locked
    after = state(ledger, day(3), **rule)
    assert (after.drawdown_floor, after.trailing_locked, after.drawdown) == (D(50000), True, D(0))
    ledger.append(close(3000, day(3)))
    assert state(ledger, day(5), **rule).drawdown_floor == D(50000)  # stays at the starting balance


def test_the_intraday_trail_can_also_stop_at_the_starting_balance():
    ledger = [close(2500, day(0))]
    s = state(ledger, day(0, 1), mode="TRAILING_UNTIL_START", open_pl=D(-1000))
    assert (s.trailing_locked, s.drawdown_floor, s.drawdown) == (True, D(50000), D(-500))  # 51,500 - 52,000


def test_the_static_maximum_loss_counts_open_loss_and_never_trails():
    """FTMO's Maximum Loss: equity never below 90% of the initial balance; a $92,000 balance with a
    $2,001 floating loss breaches (academy.ftmo.com, "Maximum Loss")."""
    ledger = [close(5000, day(0)), close(-13000, day(1))]
    s = state(ledger, day(1, 1), firm="FTMO", size=D(100000), max_dd=D(10000), mode="STATIC", open_pl=D(-2001))
    assert (s.balance, s.equity, s.drawdown, s.drawdown_floor) == (D(92000), D(89999), D(-10001), D(90000))
    breach = evaluate_account_breach("FTMO", 1, s.metrics(), {"max_drawdown": D(10000), "max_total_loss": D(10000)})
    assert breach.rule == "MAX_TOTAL_LOSS"
    assert evaluate_account_breach("FTMO", 1, s.metrics(), {"max_drawdown": D(10000)}).rule == "MAX_DRAWDOWN"
    for trail in ("INTRADAY", "END_OF_DAY"):  # the trail means nothing to a static limit
        other = state(ledger, day(1, 1), firm="FTMO", size=D(100000), max_dd=D(10000), mode="STATIC", trail=trail,
                      open_pl=D(-2001))
        assert (other.drawdown, other.drawdown_floor) == (D(-10001), D(90000))


def test_daily_loss_is_on_equity_since_the_firms_day_start():
    """FTMO's example ($200K, 5%): +4,000 closed on Monday leaves room for a 13,000 floating loss
    until midnight CE(S)T; from midnight that same floating loss breaches the daily limit."""
    monday = datetime(2026, 6, 8, 12, 0, tzinfo=UTC)  # 14:00 in Prague
    ledger = [close(4000, monday)]
    rules = {"max_daily_loss": D(10000)}
    s = state(ledger, monday + timedelta(hours=1), firm="FTMO", size=D(200000), open_pl=D(-13000))
    assert s.day_pl == D(-9000) and evaluate_account_breach("FTMO", 1, s.metrics(), rules).status == "APPROVED"
    tuesday = datetime(2026, 6, 8, 22, 0, tzinfo=UTC)  # 00:00 in Prague
    s = state(ledger, tuesday, firm="FTMO", size=D(200000), open_pl=D(-13000))
    assert s.day_pl == D(-13000) and evaluate_account_breach("FTMO", 1, s.metrics(), rules).rule == "MAX_DAILY_LOSS"


def test_the_live_book_never_reads_paper_and_a_paper_reset_starts_the_paper_book_clean():
    ledger = [close(-700, day(0)), close(3000, day(0, 1), simulated=True)]
    live, paper = state(ledger, day(0, 2), live_book=True), state(ledger, day(0, 2))
    assert (live.realized_pl, live.day_pl, live.simulated) == (D(-700), D(-700), False)
    assert (paper.realized_pl, paper.day_pl, paper.simulated) == (D(2300), D(2300), True)
    ledger += [LedgerEntry(NEW_DAY, None, day(0, 3), True), close(-100, day(0, 4), simulated=True)]
    live, paper = state(ledger, day(0, 5), live_book=True), state(ledger, day(0, 5))
    assert (live.realized_pl, live.day_pl, live.trading_day_start) == (D(-700), D(-700), datetime(2026, 6, 9, 22, 0, tzinfo=UTC))
    assert (paper.realized_pl, paper.day_pl, paper.high_water_mark, paper.trading_day_start) == (
        D(-100), D(-100), D(50000), day(0, 3))


def test_drawdown_trail_settings_and_the_firms_published_rule():
    settings = parse_settings(dict(STEP2_ENV, FTMO_1_DRAWDOWN_TRAIL="end_of_day", APEX_1_DRAWDOWN_MODE="firm"))
    ftmo, apex = settings.firms["FTMO"].programs[1], settings.firms["APEX"].programs[1]
    assert (ftmo.drawdown_mode, ftmo.drawdown_trail) == ("TRAILING", "END_OF_DAY")
    assert (apex.drawdown_mode, apex.drawdown_trail) == ("TRAILING", "INTRADAY")
    table = routing_table(settings)
    assert "END_OF_DAY  FTMO_1_DRAWDOWN_TRAIL" in table and "APEX_1_DRAWDOWN_MODE=FIRM" in table
    firm = parse_settings(dict(STEP2_ENV, FTMO_1_DRAWDOWN_MODE="FIRM")).firms["FTMO"].programs[1]
    assert (firm.drawdown_mode, firm.drawdown_trail) == ("STATIC", "INTRADAY")
    topstep = parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS="TOPSTEP", TOPSTEP_PROGRAM_IDS="1", TOPSTEP_1_ACCOUNT_SIZE="50000",
                                  TOPSTEP_1_RISK_PER_TRADE="0.01", TOPSTEP_1_DRAWDOWN_MODE="FIRM"))
    assert (topstep.firms["TOPSTEP"].programs[1].drawdown_mode, topstep.firms["TOPSTEP"].programs[1].drawdown_trail) == (
        "TRAILING_UNTIL_START", "END_OF_DAY")
    explicit = parse_settings(dict(STEP2_ENV, FTMO_1_DRAWDOWN_MODE="FIRM", FTMO_1_DRAWDOWN_TRAIL="END_OF_DAY"))
    assert explicit.firms["FTMO"].programs[1].drawdown_trail == "END_OF_DAY"


@pytest.mark.parametrize("name, value", [("FTMO_1_DRAWDOWN_TRAIL", "NIGHTLY"),
                                         ("APEX_1_DRAWDOWN_MODE", "FIRMS")])
def test_a_bad_trail_stops_start_up_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        parse_settings(dict(STEP2_ENV, **{name: value}))
    assert any(p.startswith(f"{name}=") for p in info.value.problems)


def test_the_engine_refuses_an_unknown_trail():
    with pytest.raises(ValueError, match="drawdown_trail"):
        state([], day(0), trail="WEEKLY")
