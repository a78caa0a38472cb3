"""The pure ledger engine: P&L from contract specs, trading days across DST, drawdown modes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from account_engine import evaluate_account_breach
from account_engine.ledger import (
    ADJUSTMENT,
    CLOSE,
    CLOSE_REVERSED,
    NEW_DAY,
    SET_BALANCE,
    LedgerEntry,
    compute_account_state,
    realized_pl,
)
from instruments import CONTRACT_SPECS
from prop_firm_registry import get_firm_registry

D = Decimal
UTC = timezone.utc
T0 = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def state(entries, now=T0, *, mode="TRAILING", max_dd=D(2000), size=D(100000), firm="FTMO", **kw):
    info = get_firm_registry()[firm]
    return compute_account_state(
        firm_code=firm, program_id=1, account_size=size, entries=entries, open_contracts=0, now=now,
        day_start=info.trading_day_start, day_timezone=info.trading_day_timezone,
        drawdown_mode=mode, max_drawdown=max_dd, **kw,
    )


def close(amount, at, simulated=True):
    return LedgerEntry(CLOSE, None if amount is None else D(str(amount)), at, simulated)


@pytest.mark.parametrize(
    "root, side, entry, exit_, contracts, expected",
    [
        ("NQ", "LONG", "16500", "16480", 2, "-800"),
        ("NQ", "SHORT", "16400", "16410", 2, "-400"),
        ("MNQ", "LONG", "16500.25", "16510.75", 3, "63"),
        ("ES", "SHORT", "5000", "4990.25", 1, "487.5"),
        ("MYM", "LONG", "40000", "39999", 5, "-2.5"),
        ("CL", "LONG", "70.01", "70.02", 1, "10"),
        ("GC", "SHORT", "2000.1", "2000.0", 4, "40"),
    ],
)
def test_realized_pl_is_exact_from_contract_specs(root, side, entry, exit_, contracts, expected):
    pl = realized_pl(side, D(entry), D(exit_), contracts, CONTRACT_SPECS[root].point_value)
    assert pl == D(expected)


def test_realized_pl_refuses_an_unknown_side():
    with pytest.raises(ValueError):
        realized_pl("BUY", D(1), D(2), 1, D(20))


# Boundaries on the days clocks change, computed by hand (not by the code under test).
DST_BOUNDARIES = [
    ("FTMO", datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),   # 00:00 CET, Mar 29 (spring forward that night)
    ("FTMO", datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),   # 00:00 CEST, Mar 30
    ("FTMO", datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # 00:00 CEST, Oct 25 (fall back that night)
    ("FTMO", datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),  # 00:00 CET, Oct 26
    ("APEX", datetime(2026, 3, 7, 23, 0, tzinfo=UTC)),    # 18:00 EST, Mar 7
    ("APEX", datetime(2026, 3, 8, 22, 0, tzinfo=UTC)),    # 18:00 EDT, Mar 8 (DST began 02:00)
    ("APEX", datetime(2026, 10, 31, 22, 0, tzinfo=UTC)),  # 18:00 EDT, Oct 31
    ("APEX", datetime(2026, 11, 1, 23, 0, tzinfo=UTC)),   # 18:00 EST, Nov 1 (DST ended 02:00)
    *[(firm, at) for firm in ("TOPSTEP", "BULENOX", "LEELOO") for at in (
        datetime(2026, 3, 7, 23, 0, tzinfo=UTC),          # 17:00 CST
        datetime(2026, 3, 8, 22, 0, tzinfo=UTC),          # 17:00 CDT
        datetime(2026, 10, 31, 22, 0, tzinfo=UTC),        # 17:00 CDT
        datetime(2026, 11, 1, 23, 0, tzinfo=UTC),         # 17:00 CST
    )],
]


@pytest.mark.parametrize("firm, boundary", DST_BOUNDARIES)
def test_day_pl_restarts_at_each_firms_local_boundary_across_dst(firm, boundary):
    """A loss 30 minutes before the boundary is yesterday's, one 30 minutes after is today's; a
    fixed UTC offset would be an hour off on these days and count both or neither."""
    entries = [close(-300, boundary - timedelta(minutes=30)), close(-200, boundary + timedelta(minutes=30))]
    before = state(entries, boundary - timedelta(minutes=1), firm=firm)
    assert before.day_pl == D(-300) and before.next_trading_day_start == boundary
    after = state(entries, boundary + timedelta(minutes=45), firm=firm)
    assert after.trading_day_start == boundary
    assert after.day_pl == D(-200) and after.total_pl == D(-500)


def test_events_after_now_are_ignored_and_operator_new_day_resets_day_pl():
    entries = [close(-700, T0 - timedelta(hours=2)), LedgerEntry(NEW_DAY, None, T0 - timedelta(hours=1)),
               close(-100, T0 - timedelta(minutes=30)), close(-999, T0 + timedelta(minutes=1))]
    s = state(entries)
    assert s.day_pl == D(-100) and s.total_pl == D(-800)
    assert s.trading_day_start == T0 - timedelta(hours=1)


def test_set_balance_adjustments_and_reversals():
    entries = [
        close(-500, T0 - timedelta(hours=3)),
        LedgerEntry(SET_BALANCE, D(50000), T0 - timedelta(hours=2)),
        LedgerEntry(ADJUSTMENT, D("-12.50"), T0 - timedelta(hours=1)),
        close(-300, T0 - timedelta(minutes=20)),
        LedgerEntry(CLOSE_REVERSED, D(300), T0 - timedelta(minutes=20)),
    ]
    s = state(entries)
    assert (s.starting_balance, s.starting_balance_source) == (D(50000), "SET_BALANCE")
    assert s.realized_pl == D(-500) and s.adjustments == D("-12.50")
    assert s.balance == D("49487.50") and s.total_pl == D("-512.50")
    assert s.closed_trades == 1


def test_unknown_pl_is_counted_not_zeroed_until_an_adjustment_settles_it():
    unknown = LedgerEntry(CLOSE, None, T0 - timedelta(minutes=5), True, "T1")
    s = state([unknown, close(-100, T0 - timedelta(minutes=4))])
    assert s.unknown_pl_closes == 1 and s.realized_pl == D(-100)
    assert s.notes and "unknown P&L" in s.notes[0]
    other = LedgerEntry(ADJUSTMENT, D(-50), T0 - timedelta(minutes=3), False, "T2")
    assert state([unknown, other]).unknown_pl_closes == 1
    settle = LedgerEntry(ADJUSTMENT, D(-50), T0 - timedelta(minutes=3), False, "T1")
    s = state([unknown, settle])
    assert s.unknown_pl_closes == 0 and s.total_pl == D(-50) and s.notes == ()


def _path(*amounts):
    return [close(a, T0 - timedelta(minutes=60 - i)) for i, a in enumerate(amounts)]


def test_trailing_drawdown_measures_from_the_high_water_mark():
    s = state(_path(1500, -1000))
    assert (s.high_water_mark, s.balance, s.drawdown, s.drawdown_floor) == (D(101500), D(100500), D(-1000), D(99500))
    s = state(_path(1500, -1000, -1000), mode="TRAILING")
    assert s.drawdown == D(-2000)
    breach = evaluate_account_breach("FTMO", 1, s.metrics(), {"max_drawdown": D(2000)})
    assert breach.status == "REJECTED" and breach.rule == "MAX_DRAWDOWN"


def test_static_drawdown_measures_from_the_starting_balance():
    s = state(_path(1500, -1000, -1000), mode="STATIC")
    assert s.drawdown == D(-500) and s.drawdown_floor == D(98000)
    assert evaluate_account_breach("FTMO", 1, s.metrics(), {"max_drawdown": D(2000)}).status == "APPROVED"
    assert state(_path(700), mode="STATIC").drawdown == 0


def test_trailing_until_start_trails_then_locks_the_floor_at_the_starting_balance():
    # Floor 99000 (HWM 101000 - 2000) is below the start: still trailing.
    s = state(_path(1000, -1000), mode="TRAILING_UNTIL_START")
    assert (s.trailing_locked, s.drawdown, s.drawdown_floor) == (False, D(-1000), D(99000))
    # HWM 103000 would put the floor at 101000: it stops at the starting balance 100000.
    s = state(_path(3000, -2500), mode="TRAILING_UNTIL_START")
    assert (s.trailing_locked, s.drawdown_floor, s.drawdown) == (True, D(100000), D(-1500))
    assert state(_path(3000, -2500), mode="TRAILING").drawdown == D(-2500)  # plain trailing would breach
    s = state(_path(3000, -2500, -500), mode="TRAILING_UNTIL_START")
    assert s.equity == D(100000) and s.drawdown == D(-2000)
    assert evaluate_account_breach("FTMO", 1, s.metrics(), {"max_drawdown": D(2000)}).rule == "MAX_DRAWDOWN"


def test_snapshot_equity_and_open_pl_take_part():
    s = state(_path(-300), open_pl=D(-250), equity=D("99440"))
    assert s.equity == D(99440) and s.total_pl == D(-560) and s.day_pl == D(-550)
    assert s.open_pl == D(-250)


def test_bad_mode_and_naive_now_are_refused():
    with pytest.raises(ValueError):
        state([], mode="SOMETIMES")
    with pytest.raises(ValueError):
        state([], now=datetime(2026, 1, 1))


_amounts = st.lists(st.decimals(min_value=-3000, max_value=3000, places=2, allow_nan=False, allow_infinity=False),
                    max_size=25)


@hsettings(max_examples=200, deadline=None)
@given(_amounts)
def test_drawdown_modes_order_and_totals_hold_for_any_path(amounts):
    entries = _path(*amounts)
    static, trailing, until = (state(entries, mode=m) for m in ("STATIC", "TRAILING", "TRAILING_UNTIL_START"))
    assert trailing.total_pl == sum(amounts, D(0)) == static.total_pl
    assert trailing.high_water_mark >= max(D(100000), trailing.equity)
    # The high-water mark is never below the start, so trailing is the strictest measure and the
    # variant that stops trailing at the start lies between the two.
    assert trailing.drawdown <= until.drawdown <= 0 and static.drawdown <= 0
    assert until.drawdown_floor <= D(100000) or not until.trailing_locked
    assert until.drawdown_floor is not None and until.drawdown_floor <= trailing.drawdown_floor


@pytest.mark.parametrize("mode, high, hwm, floor, drawdown, locked", [
    ("TRAILING", D(101000), D(101000), D(99000), D(-1500), False),  # the marked high is the HWM
    ("TRAILING", D(99000), D(100000), D(98000), D(-500), False),  # below the ledger's own high: no effect
    ("TRAILING_UNTIL_START", D(102500), D(102500), D(100000), D(-2500), True),  # floor stops at the start
    ("STATIC", D(101000), D(101000), D(98000), D(-500), False),  # STATIC measures from the start anyway
])
def test_an_intraday_equity_high_raises_the_high_water_mark(mode, high, hwm, floor, drawdown, locked):
    """Equity 99,500 now (open -500), after a marked equity high between events."""
    s = state([], mode=mode, open_pl=D(-500), equity_high=high)
    assert (s.equity, s.high_water_mark, s.drawdown_floor, s.drawdown, s.trailing_locked) == (
        D(99500), hwm, floor, drawdown, locked)
