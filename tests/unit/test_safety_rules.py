"""Pure safety rules: trading-state blocking, velocity and streak verdicts, idempotency keys."""
from __future__ import annotations

import datetime as dt

import pytest

from safety.idempotency import IdempotencyKeyError, derive_key
from safety.limits import check_streak, check_velocity, exit_outcome, losing_streak
from safety.trading_state import blocked_reason, normalize_state
from signals import parse_signal

NEXT_DAY = dt.datetime(2025, 11, 24, 23, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("state,action,reason", [
    ("ACTIVE", "ENTRY", None), ("ACTIVE", "EXIT", None),
    ("REDUCING", "ENTRY", "TRADING_REDUCING"), ("REDUCING", "EXIT", None),
    ("HALTED", "ENTRY", "TRADING_HALTED"), ("HALTED", "EXIT", "TRADING_HALTED"),
    ("GARBAGE", "EXIT", "TRADING_HALTED"),  # unknown state fails closed
])
def test_trading_state_blocks(state, action, reason):
    assert blocked_reason(state, action) == reason


def test_normalize_state():
    assert normalize_state(" halted ") == "HALTED" and normalize_state("PAUSE") is None and normalize_state(1) is None


def test_velocity_off_by_default_and_rejects_at_the_cap():
    assert check_velocity(500, None) is None
    assert check_velocity(2, 3) is None
    verdict = check_velocity(3, 3)
    assert verdict is not None and verdict.rule == "MAX_ORDERS_PER_MINUTE" and "3" in verdict.message


@pytest.mark.parametrize("event,outcome", [
    ("EXIT_STOP_LOSS", "LOSS"), ("EXIT_TAKE_PROFIT", "WIN"), ("EXIT_BREAK_EVEN", "NEUTRAL"),
    ("CANCELLED", "NEUTRAL"), ("EXIT_PARTIAL", "NEUTRAL"),
])
def test_exit_outcomes(event, outcome):
    assert exit_outcome(event) == outcome


def test_losing_streak_counts_back_to_the_last_win():
    newest_first = ["EXIT_STOP_LOSS", "EXIT_BREAK_EVEN", "EXIT_STOP_LOSS", "EXIT_TAKE_PROFIT", "EXIT_STOP_LOSS"]
    assert losing_streak(newest_first) == 2
    assert check_streak(newest_first, 3, NEXT_DAY) is None
    verdict = check_streak(newest_first, 2, NEXT_DAY)
    assert verdict is not None and verdict.until == NEXT_DAY and verdict.rule == "MAX_CONSECUTIVE_LOSSES"
    assert check_streak(newest_first, None, NEXT_DAY) is None


def _signal(**data):
    return parse_signal({"trade_id": "T1", **data})


def test_keys_for_entries_and_exits_ignore_the_payload():
    a = _signal(event_type="EXIT_SL", exit_price=1)
    b = _signal(event_type="EXIT_STOP_LOSS", exit_price=2)
    assert derive_key(a, {"x": 1}, None) == derive_key(b, {"x": 2}, None) == "T1:EXIT_STOP_LOSS"


def test_keys_for_informational_events_and_partials_include_a_payload_hash():
    s = _signal(event_type="MFE_UPDATE")
    one, two = derive_key(s, {"be_mfe": 1}, None), derive_key(s, {"be_mfe": 2}, None)
    assert one != two and one.startswith("T1:MFE_UPDATE:")
    assert derive_key(s, {"a": 1, "b": 2}, None) == derive_key(s, {"b": 2, "a": 1}, None)  # key order irrelevant
    p = _signal(event_type="EXIT_PARTIAL", exit_contracts=1)
    assert derive_key(p, {"n": 1}, None) != derive_key(p, {"n": 2}, None)


def test_header_key_and_long_trade_ids():
    s = _signal(event_type="ENTRY", symbol="NQ", direction="Bullish", entry_price=2, stop_loss=1)
    assert derive_key(s, {}, " abc ") == "hdr:abc"
    with pytest.raises(IdempotencyKeyError):
        derive_key(s, {}, "")
    long = parse_signal({"trade_id": "X" * 255, "event_type": "MFE_UPDATE"})
    key = derive_key(long, {}, None)
    assert len(key) <= 255 and key.startswith("sha256:")
