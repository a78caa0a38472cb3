"""Sizing modes per program: RISK (the formula), FIXED and ALERT counts, each under every cap and
stop check, with the mode named in the details; and their variables refused when inconsistent."""
from __future__ import annotations

from decimal import Decimal

import pytest

from config import ConfigError, get_program_scaling_rules, parse_settings
from program_engine import calculate_program_sizing
from tests.conftest import STEP2_ENV

NQ = {"entry_price": 16500.0, "stop_loss": 16475.0, "symbol": "NQ"}  # a 25-point stop: $500 per NQ contract
NO_STOP = {"entry_price": 16500.0, "symbol": "NQ"}


def size(payload=None, **rules):
    return calculate_program_sizing("FTMO", 1, {"account_size": 100000, "max_contracts": 5, **rules},
                                    dict(NQ) if payload is None else payload)


def test_fixed_trades_its_configured_count_and_names_the_mode():
    result = size(sizing_mode="FIXED", fixed_contracts=3)
    assert (result.status, result.contracts) == ("APPROVED", 3)
    assert result.details == {"sizing_mode": "FIXED", "fixed_contracts": 3, "calculated_contracts": 3,
                              "point_value": 20.0, "max_contracts": 5, "final_contracts": 3,
                              "risk_distance": 25.0, "risk_at_stop": 1500.0}


@pytest.mark.parametrize(("contracts", "multiplier", "expected"), [
    (2, None, 2), (2, "1.5", 3), (3, "0.5", 1), ("4", 2, 5),  # floored, then max_contracts 5
])
def test_alert_trades_the_alerts_quantity_times_the_multiplier_floored(contracts, multiplier, expected):
    result = size(dict(NQ, contracts=contracts), sizing_mode="ALERT", quantity_multiplier=multiplier)
    assert (result.status, result.contracts) == ("APPROVED", expected)
    assert result.details["sizing_mode"] == "ALERT" and result.details["alert_contracts"] == int(contracts)


def test_an_alert_quantity_that_floors_to_zero_sizes_nothing():
    result = size(dict(NQ, contracts=1), sizing_mode="ALERT", quantity_multiplier="0.5")
    assert (result.status, result.rule, result.contracts) == ("REJECTED", "BELOW_ONE_CONTRACT", 0)
    assert result.reason == "ALERT sizing gives 0.5 contracts: less than one."


@pytest.mark.parametrize(("rules", "capped_by", "final"), [
    ({"max_contracts": 4}, "max_contracts", 4),
    ({"position_capacity": 2}, "position_capacity", 2),
    ({"max_contracts": 50, "max_contracts_per_order": 6}, "max_contracts_per_order", 6),
])
def test_every_cap_still_applies_to_a_count(rules, capped_by, final):
    fixed = size(**{"sizing_mode": "FIXED", "fixed_contracts": 9, **rules})
    alert = size(dict(NQ, contracts=9), **{"sizing_mode": "ALERT", **rules})
    for result in (fixed, alert):
        assert result.contracts == final and result.details["capped_by"] == capped_by


@pytest.mark.parametrize(("rules", "rule"), [
    ({"max_contracts": 0}, "MAX_CONTRACTS_ZERO"),
    ({"position_capacity": 0}, "POSITION_CAPACITY_EXHAUSTED"),
])
def test_a_zero_cap_refuses_a_count_with_its_own_rule(rules, rule):
    assert size(**{"sizing_mode": "FIXED", "fixed_contracts": 2, **rules}).rule == rule


def test_a_stop_inside_one_tick_is_refused_in_every_mode():
    tight = dict(NQ, stop_loss=16499.9, contracts=1)  # NQ's tick is 0.25
    for rules in ({"risk_per_trade": 0.01}, {"sizing_mode": "FIXED", "fixed_contracts": 1},
                  {"sizing_mode": "ALERT"}):
        assert size(tight, **rules).rule == "STOP_INSIDE_ONE_TICK"


def test_an_entry_without_a_stop_is_refused_unless_the_program_allows_it():
    assert size(dict(NO_STOP), risk_per_trade=0.01).rule == "MISSING_PRICE"  # RISK: measured to the stop
    refused = size(dict(NO_STOP), sizing_mode="FIXED", fixed_contracts=2)
    assert (refused.status, refused.rule, refused.contracts) == ("REJECTED", "NO_STOP_LOSS", 0)
    assert refused.reason == ("Signal has no stop_loss: FIXED sizing sends an entry without a stop only where the "
                              "program allows it (FTMO_1_ALLOW_NO_STOP=true).")
    assert size(dict(NO_STOP, contracts=2), sizing_mode="ALERT").rule == "NO_STOP_LOSS"
    allowed = size(dict(NO_STOP), sizing_mode="FIXED", fixed_contracts=2, allow_no_stop=True)
    assert (allowed.status, allowed.contracts) == ("APPROVED", 2)
    assert allowed.details["stop_loss"] is None and "risk_at_stop" not in allowed.details
    alert = size(dict(NO_STOP, contracts=3), sizing_mode="ALERT", allow_no_stop=True)
    assert (alert.status, alert.contracts) == ("APPROVED", 3)


def test_alert_mode_without_the_alerts_quantity_is_refused():
    result = size(sizing_mode="ALERT")
    assert (result.status, result.rule) == ("REJECTED", "NO_ALERT_QUANTITY")
    assert result.reason == "Signal has no contracts: ALERT sizing trades the alert's quantity."
    assert size(dict(NQ, contracts="two"), sizing_mode="ALERT").rule == "INVALID_ALERT_QUANTITY"
    assert size(sizing_mode="FIXED").rule == "NO_FIXED_CONTRACTS"
    assert size(sizing_mode="SOMETIMES").rule == "INVALID_SIZING_MODE"


def test_risk_mode_from_the_settings_names_the_mode_and_sizes_as_before():
    rules = get_program_scaling_rules("FTMO", 1, parse_settings(STEP2_ENV))
    result = calculate_program_sizing("FTMO", 1, rules, NQ)
    assert result.contracts == 2 and result.details["sizing_mode"] == "RISK"


def test_the_settings_carry_each_programs_mode_to_the_engine():
    s = parse_settings(dict(STEP2_ENV, FTMO_1_SIZING_MODE="fixed", FTMO_1_FIXED_CONTRACTS="2",
                            APEX_1_SIZING_MODE="ALERT", APEX_1_QUANTITY_MULTIPLIER="0.5", APEX_1_ALLOW_NO_STOP="true"))
    ftmo, apex = get_program_scaling_rules("FTMO", 1, s), get_program_scaling_rules("APEX", 1, s)
    assert (ftmo.mode, ftmo.fixed_contracts, ftmo.allow_no_stop) == ("FIXED", 2, False)
    assert (apex.mode, apex.quantity_multiplier, apex.allow_no_stop) == ("ALERT", Decimal("0.5"), True)
    assert s.sources["APEX.1.quantity_multiplier"] == "APEX_1_QUANTITY_MULTIPLIER"


def test_risk_per_trade_is_required_only_for_risk_sizing():
    env = {k: v for k, v in STEP2_ENV.items() if k != "FTMO_1_RISK_PER_TRADE"}
    assert parse_settings(dict(env, FTMO_1_SIZING_MODE="FIXED", FTMO_1_FIXED_CONTRACTS="1")).firms["FTMO"]
    with pytest.raises(ConfigError, match="FTMO_1_RISK_PER_TRADE: required"):
        parse_settings(env)


@pytest.mark.parametrize(("env", "problem"), [
    ({"FTMO_1_SIZING_MODE": "KELLY"}, "FTMO_1_SIZING_MODE='KELLY': must be one of RISK, FIXED, ALERT"),
    ({"FTMO_1_SIZING_MODE": "FIXED"}, "FTMO_1_FIXED_CONTRACTS: required, because FTMO_1_SIZING_MODE=FIXED"),
    ({"FTMO_1_SIZING_MODE": "FIXED", "FTMO_1_FIXED_CONTRACTS": "0"}, "FTMO_1_FIXED_CONTRACTS='0': must be a whole "
     "number of contracts between 1 and 1000 (Input should be greater than or equal to 1)"),
    ({"FTMO_1_FIXED_CONTRACTS": "2"}, "FTMO_1_FIXED_CONTRACTS: only used when FTMO_1_SIZING_MODE=FIXED (it is RISK)"),
    ({"FTMO_1_SIZING_MODE": "FIXED", "FTMO_1_FIXED_CONTRACTS": "2", "FTMO_1_QUANTITY_MULTIPLIER": "2"},
     "FTMO_1_QUANTITY_MULTIPLIER: only used when FTMO_1_SIZING_MODE=ALERT (it is FIXED)"),
    ({"FTMO_1_SIZING_MODE": "ALERT", "FTMO_1_QUANTITY_MULTIPLIER": "0"}, "FTMO_1_QUANTITY_MULTIPLIER='0': must be "
     "a positive number up to 1000, e.g. 0.5 or 2 (Input should be greater than 0)"),
    ({"FTMO_1_SIZING_MODE": "ALERT", "FTMO_1_ALLOW_NO_STOP": "maybe"}, "FTMO_1_ALLOW_NO_STOP='maybe': must be true "
     "or false"),
    ({"FTMO_1_ALLOW_NO_STOP": "true"}, "FTMO_1_ALLOW_NO_STOP: RISK sizing measures the risk to the stop, so it "
     "needs one; set FTMO_1_SIZING_MODE=FIXED or ALERT, or remove it"),
])
def test_start_up_refuses_inconsistent_sizing_variables_naming_them(env, problem):
    with pytest.raises(ConfigError) as info:
        parse_settings(dict(STEP2_ENV, **env))
    assert info.value.problems == [problem]
