"""Reading alert dialects and deciding the trade of an alert without a trade_id (pure)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from signals import SignalError, parse_signal
from signals.dialects import detect_dialect, read_alert
from signals.trade_identity import OpenTrade, plan_steps, side_looked_up

TV_LONG = {"strategy": "ORB", "ticker": "NQ1!", "action": "buy", "market_position": "long", "contracts": "1",
           "position_size": "1", "price": "16500.25", "stop_loss": "16480", "time": "2026-01-05T14:30:00Z",
           "order_id": "Long entry"}


@pytest.mark.parametrize("body,dialect", [
    ({"event_type": "ENTRY"}, "ours"),
    ({"trade_id": "T"}, "ours"),
    ({"action": "buy", "market_position": "long"}, "tradingview"),
    ({"ticker": "NQ", "action": "buy"}, "traderspost"),
    ({"ticker": "NQ", "action": "buy", "sentiment": "long"}, "traderspost"),
    ({"dialect": "TradingView", "ticker": "NQ", "action": "buy"}, "tradingview"),
])
def test_the_dialect_is_told_by_explicit_keys(body, dialect):
    assert detect_dialect(body) == dialect


@pytest.mark.parametrize("body", [{}, {"ticker": "NQ"}, {"action": "buy"}, {"trade_id": "T", "sentiment": "long"},
                                  {"market_position": "long", "sentiment": "long"}, {"dialect": 3}])
def test_an_unknown_or_ambiguous_body_is_refused_naming_what_was_expected(body):
    with pytest.raises(SignalError) as exc:
        detect_dialect(body)
    assert "expected" in next(iter(exc.value.fields.values())) or "ambiguous" in str(exc.value)


def test_a_tradingview_entry_becomes_our_entry_fields():
    alert = read_alert(TV_LONG)
    assert (alert.intent, alert.side, alert.strategy, alert.root) == ("OPEN", "LONG", "ORB", "NQ")
    assert alert.stamp == "2026-01-05T14_30_00Z-Long_entry"
    signal = parse_signal({**alert.fields, "trade_id": "X"})
    assert (signal.direction, signal.entry_price, signal.stop_loss, signal.contracts) == (
        "LONG", Decimal("16500.25"), Decimal("16480"), 1)
    assert signal.strategy_name == "ORB"


def test_tradingview_flat_closes_and_a_sale_against_the_position_reduces_by_the_part_sold():
    flat = read_alert(dict(TV_LONG, action="sell", market_position="flat"))
    assert flat.intent == "CLOSE" and flat.fields["event_type"] == "EXIT"
    cut = read_alert(dict(TV_LONG, action="sell", market_position="long", contracts="1", position_size="3"))
    assert cut.intent == "REDUCE" and cut.fields["exit_fraction"] == Decimal("0.25")
    reversal = read_alert(dict(TV_LONG, contracts="3", position_size="2"))  # 1 closes the short, 2 open
    assert reversal.fields["contracts"] == Decimal(2)


@pytest.mark.parametrize("stop,target,want_stop,want_target", [
    ({"type": "stop", "stopPrice": 90}, {"limitPrice": 110}, Decimal(90), Decimal(110)),
    ({"type": "stop", "amount": 10}, {"amount": 20}, Decimal(90), Decimal(120)),
    ({"type": "trailing_stop", "percent": 5}, {"percent": 10}, Decimal(95), Decimal(110)),
])
def test_traderspost_stop_and_target_are_prices_or_distances_from_the_entry(stop, target, want_stop, want_target):
    alert = read_alert({"ticker": "ES1!", "action": "buy", "price": 100, "stopLoss": stop, "takeProfit": target})
    assert (alert.fields["stop_loss"], alert.fields["take_profit"]) == (want_stop, want_target)
    short = read_alert({"ticker": "ES1!", "action": "sell", "price": 100, "stopLoss": {"amount": 10}})
    assert short.fields["stop_loss"] == Decimal(110)


@pytest.mark.parametrize("body,field", [
    ({"ticker": "NQ", "action": "cancel"}, "action"),
    ({"ticker": "NQ", "action": "buy", "stopLoss": {"percent": 5}}, "stopLoss"),  # a distance needs a price
    ({"ticker": "NQ", "action": "buy", "price": 1, "stopLoss": {"type": "market"}}, "stopLoss.type"),
    ({"ticker": "NQ", "action": "buy", "price": "abc"}, "price"),
    ({"ticker": "AAPL", "action": "exit"}, "ticker"),
])
def test_traderspost_problems_are_named(body, field):
    with pytest.raises(SignalError) as exc:
        read_alert(body)
    assert field in exc.value.fields


def test_an_entry_opens_a_trade_named_by_the_alert_and_a_repeat_names_the_open_one():
    alert = read_alert(TV_LONG)
    (entry,) = plan_steps(alert, TV_LONG, None)
    assert entry.fields["trade_id"] == "orb:NQ:2026-01-05T14_30_00Z-Long_entry" and entry.key is None
    (repeat,) = plan_steps(alert, TV_LONG, OpenTrade("orb:NQ:older", "LONG"))
    assert repeat.fields["trade_id"] == "orb:NQ:older"


def test_a_reversal_closes_the_open_trade_first_under_the_alerts_own_key():
    alert = read_alert(dict(TV_LONG, action="sell", market_position="short", stop_loss="16520"))
    close, entry = plan_steps(alert, {}, OpenTrade("orb:NQ:older", "LONG"))
    assert (close.role, close.fields["trade_id"], close.fields["event_type"]) == ("reversal_exit", "orb:NQ:older", "EXIT")
    assert close.key == "alert:orb:NQ:2026-01-05T14_30_00Z-Long_entry:EXIT"
    assert entry.fields["direction"] == "SHORT" and entry.fields["trade_id"].startswith("orb:NQ:")
    assert plan_steps(alert, {}, OpenTrade("orb:NQ:older", "LONG"), "hdr:k")[0].key == "hdr:k:close"


def test_an_exit_without_a_stamp_is_keyed_by_the_trade_it_closes_and_one_matching_nothing_says_so():
    body = {"ticker": "NQ", "action": "exit"}
    alert = read_alert(body)
    (exit_,) = plan_steps(alert, body, OpenTrade("traderspost:NQ:h1", "LONG"))
    assert exit_.fields["trade_id"] == "traderspost:NQ:h1" and exit_.key is None
    (unmatched,) = plan_steps(alert, body, None)
    assert unmatched.fields["unmatched_strategy"] == "traderspost on NQ"
    assert side_looked_up(alert) is None  # `exit` closes either side
    assert unmatched.fields["trade_id"].startswith("traderspost:NQ:h")


def test_a_flat_looks_only_for_the_side_its_order_closed():
    assert side_looked_up(read_alert(dict(TV_LONG, action="sell", market_position="flat"))) == "LONG"
    assert side_looked_up(read_alert({"ticker": "NQ", "action": "buy", "sentiment": "flat"})) == "SHORT"
    assert side_looked_up(read_alert(TV_LONG)) is None  # an entry: a repeat or a reversal
