"""The engines' typed rules: parsed on construction, nonsense refused naming the field, and an
engine decides the same on typed rules as on the guide's dicts."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from account_engine import BreachRules, evaluate_account_breach
from engine_common.numbers import InvalidInput
from program_engine import ScalingRules, calculate_program_sizing
from risk_engine import RiskRules, evaluate_risk


def test_numbers_are_parsed_once_into_decimals_and_counts() -> None:
    rules = RiskRules(max_position_size="10", max_daily_loss=0.1, max_total_loss="5000")  # type: ignore[arg-type]
    assert rules == RiskRules(max_position_size=10, max_daily_loss=Decimal("0.1"), max_total_loss=Decimal(5000))
    assert type(rules.max_position_size) is int and isinstance(rules.max_daily_loss, Decimal)


def test_rules_are_frozen_and_replace_sets_the_position_capacity() -> None:
    rules = ScalingRules(account_size=Decimal(50000), risk_per_trade=Decimal("0.01"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.position_capacity = 3  # type: ignore[misc]
    assert dataclasses.replace(rules, position_capacity="3").position_capacity == 3  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="position_capacity must not be negative"):
        dataclasses.replace(rules, position_capacity=-1)


@pytest.mark.parametrize(
    ("build", "rule", "message"),
    [
        (lambda: RiskRules(max_daily_loss=Decimal(0)), "INVALID_RULE",
         "Risk rule max_daily_loss must be greater than zero (got Decimal('0'))."),
        (lambda: RiskRules(max_position_size=True), "INVALID_RULE",
         "Risk rule max_position_size is a boolean, not a number (got True)."),
        (lambda: RiskRules(max_position_size=2.5), "INVALID_RULE",
         "Risk rule max_position_size is not a whole number of contracts (got 2.5)."),
        (lambda: BreachRules(max_drawdown=float("nan")), "INVALID_RULE",
         "Breach rule max_drawdown is not a finite number (got nan)."),
        (lambda: ScalingRules(risk_per_trade=Decimal(1)), "INVALID_RISK_PER_TRADE",
         "Scaling rule risk_per_trade must be a fraction below 1 (0.01 = 1%) (got Decimal('1'))."),
        (lambda: ScalingRules(account_size=-5), "INVALID_ACCOUNT_SIZE",
         "Scaling rule account_size must not be negative (got -5)."),
        (lambda: ScalingRules(max_contracts_per_order="many"), "INVALID_ORDER_CEILING",
         "Scaling rule max_contracts_per_order is not a number (got 'many')."),
    ],
)
def test_nonsense_is_refused_naming_the_field(build: Any, rule: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build()
    assert (info.value.rule, str(info.value)) == (rule, message)


def test_point_value_overrides_must_be_a_mapping_and_are_checked_per_root() -> None:
    with pytest.raises(TypeError, match="point_value_overrides must be a mapping"):
        ScalingRules(point_value_overrides=[("NQ", 5)])  # type: ignore[arg-type]
    rules = ScalingRules(point_value_overrides={"NQ": Decimal(5), "ES": "abc"})
    assert rules.point_value("NQ") == Decimal(5) and rules.point_value("YM") is None
    with pytest.raises(InvalidInput, match="ES_POINT_VALUE"):
        rules.point_value("ES")


def test_from_mapping_ignores_unknown_keys_and_reads_missing_ones_as_disabled() -> None:
    assert RiskRules.from_mapping({"max_daily_loss": 1000, "colour": "red"}) == RiskRules(max_daily_loss=Decimal(1000))
    assert BreachRules.from_mapping(None) == BreachRules()


@pytest.mark.parametrize(
    "rules",
    [{}, {"max_position_size": 10}, {"max_position_size": 3, "max_daily_loss": "1000"},
     {"max_total_loss": 500.5}, {"max_position_size": 0}],
)
def test_risk_decides_the_same_on_typed_rules_and_dicts(rules: dict[str, Any]) -> None:
    payload, metrics = {"contracts": 4}, {"open_contracts": 1, "day_pl": -1000, "total_pl": -600}
    typed = evaluate_risk("FTMO", RiskRules.from_mapping(rules), payload, metrics)
    assert typed.to_dict() == evaluate_risk("FTMO", rules, payload, metrics).to_dict()


@pytest.mark.parametrize(
    "rules",
    [{}, {"max_daily_loss": 1000}, {"max_total_loss": "5000", "max_drawdown": 1500}],
)
def test_breach_decides_the_same_on_typed_rules_and_dicts(rules: dict[str, Any]) -> None:
    metrics = {"day_pl": -1000, "total_pl": -600, "drawdown": 1500}
    typed = evaluate_account_breach("FTMO", 1, metrics, BreachRules.from_mapping(rules))
    assert typed.to_dict() == evaluate_account_breach("FTMO", 1, metrics, rules).to_dict()


@pytest.mark.parametrize(
    "rules",
    [{"account_size": 100000, "risk_per_trade": "0.01"},
     {"account_size": 100000, "risk_per_trade": 0.01, "max_contracts": 1, "position_capacity": 4},
     {"account_size": 100000, "risk_per_trade": 0.01, "point_value_overrides": {"NQ": 5}},
     {"risk_per_trade": 0.01}],
)
def test_sizing_decides_the_same_on_typed_rules_and_dicts(rules: dict[str, Any]) -> None:
    payload = {"entry_price": 16500.0, "stop_loss": 16475.0, "symbol": "NQ"}
    typed = calculate_program_sizing("FTMO", 1, ScalingRules.from_mapping(rules), payload)
    assert typed.to_dict() == calculate_program_sizing("FTMO", 1, rules, payload).to_dict()
