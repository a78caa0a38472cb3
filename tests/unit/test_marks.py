"""Open positions marked to market, and the price webhook's body, as pure functions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from account_engine.marks import MARK, NONE, Mark, OpenPosition, mark_open_positions
from instruments import get_contract_spec, resolve_root
from signals import SignalError
from signals.price_update import parse_price_updates, why_ignored

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)


def point_value(symbol):
    spec = get_contract_spec(symbol)
    return spec.point_value if spec else None


def test_open_pl_is_mark_minus_entry_times_contracts_and_point_value_signed_by_side():
    marks = {"NQ": Mark("NQ", Decimal("16490"), NOW), "ES": Mark("ES", Decimal("5010.25"), NOW - timedelta(minutes=1))}
    positions = [OpenPosition("NQ1!", "LONG", Decimal("16500"), 2),  # -10 x 2 x 20 = -400
                 OpenPosition("CME_MINI:ES1!", "SHORT", Decimal("5000"), 1),  # -(10.25 x 50) = -512.50
                 OpenPosition("GC1!", "LONG", Decimal("2000"), 1),  # no GC mark
                 OpenPosition("NQ", "LONG", None, 1),  # entry price unknown
                 OpenPosition("NQ", "LONG", Decimal("16000"), 0)]  # nothing left open: not a position
    marked = mark_open_positions(positions, marks, resolve_root, point_value)
    assert (marked.open_pl, marked.source, marked.marked, marked.unmarked) == (Decimal("-912.50"), MARK, 2, 2)
    assert marked.oldest_mark == NOW - timedelta(minutes=1)


def test_nothing_marked_is_no_open_pl_figure():
    marked = mark_open_positions([OpenPosition("GC1!", "LONG", Decimal("2000"), 1)],
                                 {"NQ": Mark("NQ", Decimal("1"), NOW)}, resolve_root, point_value)
    assert (marked.open_pl, marked.source, marked.unmarked) == (Decimal(0), NONE, 1)


def test_a_price_body_is_one_object_or_a_list_resolved_like_signals():
    one = parse_price_updates({"symbol": " CME_MINI:NQ1! ", "price": "16480.25", "time": "2026-03-10T14:00:00Z"})
    assert [(u.symbol, u.root, u.price, u.time) for u in one] == [("CME_MINI:NQ1!", "NQ", Decimal("16480.25"), NOW)]
    many = parse_price_updates([{"symbol": "MNQZ2026", "price": 1, "time": "2026-03-10T15:00:00+01:00"}] * 2)
    assert [(u.root, u.time) for u in many] == [("MNQ", NOW)] * 2
    with pytest.raises(SignalError) as refused:
        parse_price_updates([{"symbol": "NQ", "price": 1, "time": "x"}, {"symbol": "??", "price": 0}])
    assert set(refused.value.fields) == {"0.time", "1.symbol", "1.price", "1.time"}


@pytest.mark.parametrize("offset, expected", [
    (timedelta(seconds=-300), None), (timedelta(seconds=-301), "stale: 301 s old"),
    (timedelta(seconds=60), None), (timedelta(seconds=61), "ahead of the server's clock"),
])
def test_prices_older_than_the_maximum_age_or_from_the_future_are_ignored(offset, expected):
    update = parse_price_updates({"symbol": "NQ", "price": 1, "time": (NOW + offset).isoformat()})[0]
    reason = why_ignored(update, NOW, 300)
    assert reason is None if expected is None else expected in reason
