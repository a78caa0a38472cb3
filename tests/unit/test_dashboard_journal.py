"""The journal fold (dashboard/journal.py): one row per trade and firm/program from its position
and ledger rows. NQ is $20 a point (instruments/); the amounts below are what the router books
for each close: (exit - entry) x contracts x 20, negated for SHORT."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from dashboard.journal import CSV_COLUMNS, Outcome, journal_rows, totals
from instruments import get_contract_spec

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
D = Decimal


def point_value(symbol):
    spec = get_contract_spec(symbol)
    return spec.point_value if spec else None


def position(pid=1, trade_id="T1", side="LONG", contracts=2, open_=0, status="CLOSED", dry_run=True, entry="16500",
             stop="16475", firm="FTMO"):
    return {"id": pid, "trade_id": trade_id, "firm_code": firm, "program_id": 1, "symbol": "NQ", "side": side,
            "contracts_opened": contracts, "contracts_open": open_, "entry_price": D(entry),
            "stop_price": D(stop) if stop else None, "status": status, "dry_run": dry_run, "created_at": T0,
            "opened_task_id": 1, "strategy": "FVG"}


_ids = iter(range(1, 1000))


def event(kind, amount, *, pid=1, task=2, contracts=1, exit_price=None, minutes=10, trade_id="T1", firm="FTMO"):
    return {"id": next(_ids), "kind": kind, "amount": D(amount) if amount is not None else None, "position_id": pid,
            "task_id": task, "contracts": contracts, "exit_price": D(exit_price) if exit_price else None,
            "occurred_at": T0 + timedelta(minutes=minutes), "trade_id": trade_id, "firm_code": firm, "program_id": 1}


def test_partial_exits_add_up_with_a_weighted_exit_price_and_r_multiple():
    # 1 @ 16520: +20 x 1 x 20 = +400; 1 @ 16490: -10 x 1 x 20 = -200; risk 25 x 2 x 20 = 1000
    rows = journal_rows([position()], [event("CLOSE", "400", exit_price="16520"),
                                       event("CLOSE", "-200", task=3, exit_price="16490", minutes=20)], point_value)
    row, = rows
    assert (row.realized_pl, row.exit_price, row.risk, row.r_multiple, row.outcome) == (
        D(200), D(16505), D(1000), D("0.20"), Outcome.WIN)
    assert [x.contracts for x in row.exits] == [1, 1] and row.closed_at == T0 + timedelta(minutes=20)


def test_a_short_loss_and_its_r():
    # short 16400 stop 16425, out at 16410: -(16410 - 16400) x 2 x 20 = -400; risk 25 x 2 x 20 = 1000
    row, = journal_rows([position(side="SHORT", entry="16400", stop="16425")],
                        [event("CLOSE", "-400", contracts=2, exit_price="16410")], point_value)
    assert (row.realized_pl, row.r_multiple, row.outcome) == (D(-400), D("-0.40"), Outcome.LOSS)


def test_a_reversed_close_cancels_its_close_and_the_trade_is_open_again():
    row, = journal_rows([position(open_=2, status="OPEN")],
                        [event("CLOSE", "-500", contracts=2, exit_price="16487.5"),
                         event("CLOSE_REVERSED", "500", contracts=2, exit_price="16487.5")], point_value)
    assert row.outcome == Outcome.OPEN and row.realized_pl is None and row.exit_price is None
    assert [x.reversed for x in row.exits] == [True, False]


def test_an_open_trade_shows_what_its_partial_exit_booked_but_no_r_yet():
    row, = journal_rows([position(open_=1, status="OPEN")], [event("CLOSE", "400", exit_price="16520")], point_value)
    assert (row.outcome, row.realized_pl, row.r_multiple, row.contracts_open) == (Outcome.OPEN, D(400), None, 1)


def test_an_unknown_close_is_unknown_until_an_adjustment_naming_the_trade_settles_it():
    unknown = event("CLOSE", None, contracts=2)
    row, = journal_rows([position()], [unknown], point_value)
    assert (row.outcome, row.realized_pl, row.r_multiple) == (Outcome.UNKNOWN, None, None)
    adjusted = dict(event("ADJUSTMENT", "-310", minutes=30), position_id=None, task_id=None, contracts=None)
    row, = journal_rows([position()], [unknown, adjusted], point_value)
    assert (row.outcome, row.realized_pl) == (Outcome.LOSS, D(-310))
    other_firm = dict(adjusted, firm_code="APEX")  # another account's adjustment is not this row's
    row, = journal_rows([position()], [unknown, other_firm], point_value)
    assert row.outcome == Outcome.UNKNOWN


def test_an_entry_whose_order_failed_opened_nothing():
    row, = journal_rows([position(status="RELEASED", open_=0)], [], point_value)
    assert (row.outcome, row.contracts, row.realized_pl) == (Outcome.NOT_OPENED, 0, None)


def test_paper_and_live_never_share_a_total():
    rows = journal_rows(
        [position(pid=1, dry_run=True), position(pid=2, trade_id="T2", dry_run=False),
         position(pid=3, trade_id="T3", dry_run=False)],
        [event("CLOSE", "1000", pid=1, contracts=2), event("CLOSE", "-200", pid=2, contracts=2, trade_id="T2"),
         event("CLOSE", "300", pid=3, contracts=2, trade_id="T3")], point_value)
    t = totals(rows)
    assert (t["PAPER"]["realized_pl"], t["PAPER"]["wins"]) == (D(1000), 1)
    assert (t["LIVE"]["realized_pl"], t["LIVE"]["trades"], t["LIVE"]["win_rate"]) == (D(100), 2, 50.0)


def test_csv_rows_keep_the_columns_and_neutralise_formulas():
    hostile = position(trade_id="=HYPERLINK(\"http://x\")")
    row, = journal_rows([hostile], [event("CLOSE", "-200", contracts=2, exit_price="16495", trade_id=hostile["trade_id"])],
                        point_value)
    out = io.StringIO()
    csv.writer(out).writerows([CSV_COLUMNS, row.csv_row()])
    header, line = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["trade_id", "firm_code", "program_id", "symbol", "side", "contracts", "entry_price", "exit_price",
                      "realized_pl", "mode"]
    assert line == ["'=HYPERLINK(\"http://x\")", "FTMO", "1", "NQ", "LONG", "2", "16500", "16495", "-200", "PAPER"]
