"""Unit tests for risk_engine.evaluate_risk (guide section 5) and the shared number helpers."""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine_common.numbers import InvalidNumber, format_amount, parse_count, parse_decimal
from engine_common.verdict import Verdict
from risk_engine import evaluate_risk


# --- The guide's "Unit Testing" example, verbatim -------------------------------------------
def test_guide_unit_testing_example() -> None:
    from risk_engine import evaluate_risk

    # Test max position size
    result = evaluate_risk(
        firm_code="FTMO",
        risk_rules={"max_position_size": 10},
        task_payload={"contracts": 15}
    )
    assert result.status == "REJECTED"
    assert result.rule == "MAX_POSITION_SIZE"

    # Test approval
    result = evaluate_risk(
        firm_code="FTMO",
        risk_rules={"max_position_size": 10},
        task_payload={"contracts": 5}
    )
    assert result.status == "APPROVED"


def test_guide_result_formats() -> None:
    approved = evaluate_risk("FTMO", {"max_position_size": 10}, {"contracts": 5})
    assert approved.to_dict() == {
        "firm_code": "FTMO", "status": "APPROVED", "rule": None, "reason": None, "details": None,
    }
    rejected = evaluate_risk("FTMO", {"max_position_size": 10}, {"contracts": 15})
    assert rejected.to_dict() == {
        "firm_code": "FTMO",
        "status": "REJECTED",
        "rule": "MAX_POSITION_SIZE",
        "reason": "Requested 15 contracts exceeds max_position_size 10.",
        "details": {"requested_contracts": 15, "max_position_size": 10},
    }


def test_result_is_frozen() -> None:
    result = evaluate_risk("FTMO", {}, {})
    assert isinstance(result, Verdict)
    with pytest.raises(AttributeError):
        result.status = "REJECTED"  # type: ignore[misc]


# --- MAX_POSITION_SIZE ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("max_size", "contracts", "open_contracts", "status"),
    [
        (10, 9, None, "APPROVED"),      # just below
        (10, 10, None, "APPROVED"),     # at limit: 10 of 10 is allowed
        (10, 11, None, "REJECTED"),     # just above
        (10, "10", None, "APPROVED"),   # numeric strings
        (10, "11", None, "REJECTED"),
        ("10", 11, None, "REJECTED"),
        (10, 15.0, None, "REJECTED"),   # integral float is a count
        (Decimal("10"), 10, None, "APPROVED"),
        (10, 2, 8, "APPROVED"),         # open contracts count: at limit
        (10, 3, 8, "REJECTED"),         # open contracts count: just above
        (10, 1, "8", "APPROVED"),
        (10, None, 11, "REJECTED"),     # no contracts in payload: open alone exceeds
        (10, None, 10, "APPROVED"),
        (0, 1, None, "REJECTED"),       # max 0: nothing may be opened
        (0, 0, None, "APPROVED"),
        (None, 10_000, None, "APPROVED"),  # rule disabled
    ],
)
def test_max_position_size(max_size: Any, contracts: Any, open_contracts: Any, status: str) -> None:
    payload = {} if contracts is None else {"contracts": contracts}
    metrics = None if open_contracts is None else {"open_contracts": open_contracts}
    result = evaluate_risk("FTMO", {"max_position_size": max_size}, payload, metrics)
    assert result.status == status
    assert result.rule == (None if status == "APPROVED" else "MAX_POSITION_SIZE")


@pytest.mark.parametrize(
    ("contracts", "open_contracts", "reason", "details"),
    [
        (15, 0, "Requested 15 contracts exceeds max_position_size 10.",
         {"requested_contracts": 15, "max_position_size": 10}),
        (3, 8, "Requested 3 contracts plus 8 open exceeds max_position_size 10.",
         {"requested_contracts": 3, "max_position_size": 10, "open_contracts": 8}),
        (1, 10, "Requested 1 contract plus 10 open exceeds max_position_size 10.",
         {"requested_contracts": 1, "max_position_size": 10, "open_contracts": 10}),
    ],
)
def test_max_position_size_reason(
    contracts: int, open_contracts: int, reason: str, details: dict[str, int]
) -> None:
    result = evaluate_risk(
        "FTMO", {"max_position_size": 10}, {"contracts": contracts},
        {"open_contracts": open_contracts},
    )
    assert (result.status, result.reason, result.details) == ("REJECTED", reason, details)


# --- MAX_DAILY_LOSS / MAX_TOTAL_LOSS --------------------------------------------------------
LOSS_RULES = [
    ("max_daily_loss", "day_pl", "MAX_DAILY_LOSS", "Daily loss"),
    ("max_total_loss", "total_pl", "MAX_TOTAL_LOSS", "Total loss"),
]


@pytest.mark.parametrize(("limit_key", "metric_key", "rule", "label"), LOSS_RULES)
@pytest.mark.parametrize(
    ("limit", "pl", "status", "verb"),
    [
        (1000.0, -999.99, "APPROVED", None),      # just below
        (1000.0, -1000.0, "REJECTED", "reaches"),  # at limit: no room left
        (1000.0, -1000.01, "REJECTED", "exceeds"), # just above
        (1000, -1200, "REJECTED", "exceeds"),
        ("1000", "-1000", "REJECTED", "reaches"),  # strings
        ("1000.00", "-999.999", "APPROVED", None),
        (Decimal("1000"), Decimal("-1000.0"), "REJECTED", "reaches"),
        (1000.0, 0, "APPROVED", None),
        (1000.0, 2500.5, "APPROVED", None),        # profit
        (0.1, -0.1, "REJECTED", "reaches"),        # Decimal via str(): no binary rounding
        (None, -1e9, "APPROVED", None),            # rule disabled
        (1000.0, None, "APPROVED", None),          # no data for the rule
    ],
)
def test_loss_limits(
    limit_key: str, metric_key: str, rule: str, label: str,
    limit: Any, pl: Any, status: str, verb: str | None,
) -> None:
    result = evaluate_risk("FTMO", {limit_key: limit}, {"contracts": 1}, {metric_key: pl})
    assert result.status == status
    if status == "REJECTED":
        assert result.rule == rule
        assert result.reason == (
            f"{label} {format_amount(Decimal(str(pl)))} {verb} {limit_key} "
            f"{format_amount(Decimal(str(limit)))}."
        )
        assert result.details == {metric_key: float(Decimal(str(pl))), limit_key: float(limit)}
    else:
        assert (result.rule, result.reason, result.details) == (None, None, None)


@pytest.mark.parametrize(
    ("rules", "metrics", "reason"),
    [
        ({"max_daily_loss": 1000.0}, {"day_pl": -1200.0},
         "Daily loss -1200.0 exceeds max_daily_loss 1000.0."),
        ({"max_daily_loss": 1000.0}, {"day_pl": -1000.0},
         "Daily loss -1000.0 reaches max_daily_loss 1000.0."),
        ({"max_total_loss": 5000.0}, {"total_pl": -5200.0},
         "Total loss -5200.0 exceeds max_total_loss 5000.0."),
        ({"max_total_loss": 1234.56}, {"total_pl": -1234.56},
         "Total loss -1234.56 reaches max_total_loss 1234.56."),
    ],
)
def test_loss_reasons_verbatim(rules: dict[str, Any], metrics: dict[str, Any], reason: str) -> None:
    assert evaluate_risk("FTMO", rules, {"contracts": 1}, metrics).reason == reason


def test_first_failing_rule_wins() -> None:
    rules = {"max_position_size": 10, "max_daily_loss": 1000, "max_total_loss": 5000}
    metrics = {"day_pl": -2000, "total_pl": -6000}
    assert evaluate_risk("FTMO", rules, {"contracts": 11}, metrics).rule == "MAX_POSITION_SIZE"
    assert evaluate_risk("FTMO", rules, {"contracts": 1}, metrics).rule == "MAX_DAILY_LOSS"
    assert (
        evaluate_risk("FTMO", rules, {"contracts": 1}, {"total_pl": -6000}).rule
        == "MAX_TOTAL_LOSS"
    )


@pytest.mark.parametrize(
    ("rules", "payload", "metrics"),
    [
        ({}, {}, None),
        (None, None, None),
        ({"max_position_size": None, "max_daily_loss": None, "max_total_loss": None},
         {"contracts": 99}, {"day_pl": -1e6, "total_pl": -1e6}),
        ({"max_daily_loss": 1000, "max_total_loss": 5000}, {"contracts": 1}, {}),
    ],
)
def test_disabled_rules_and_missing_data_approve(rules: Any, payload: Any, metrics: Any) -> None:
    assert evaluate_risk("FTMO", rules, payload, metrics).status == "APPROVED"


# --- ERROR: fail closed ---------------------------------------------------------------------
class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("rules", "payload", "metrics", "rule", "key"),
    [
        ({"max_position_size": "abc"}, {"contracts": 1}, None, "INVALID_RULE", "max_position_size"),
        ({"max_position_size": -1}, {"contracts": 1}, None, "INVALID_RULE", "max_position_size"),
        ({"max_position_size": 2.5}, {"contracts": 1}, None, "INVALID_RULE", "max_position_size"),
        ({"max_position_size": True}, {"contracts": 1}, None, "INVALID_RULE", "max_position_size"),
        ({"max_position_size": NAN}, {"contracts": 1}, None, "INVALID_RULE", "max_position_size"),
        ({"max_position_size": INF}, {"contracts": 1}, None, "INVALID_RULE", "max_position_size"),
        ({"max_daily_loss": "abc"}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": ""}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": NAN}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": "NaN"}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": "Infinity"}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": -1000}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": 0}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_daily_loss": False}, {}, None, "INVALID_RULE", "max_daily_loss"),
        ({"max_total_loss": INF}, {}, None, "INVALID_RULE", "max_total_loss"),
        ({"max_total_loss": [5000]}, {}, None, "INVALID_RULE", "max_total_loss"),
        ({"max_total_loss": _Unprintable()}, {}, None, "INVALID_RULE", "max_total_loss"),
        ({}, {"contracts": 2.5}, None, "INVALID_PAYLOAD", "contracts"),
        ({}, {"contracts": "2.5"}, None, "INVALID_PAYLOAD", "contracts"),
        ({}, {"contracts": -1}, None, "INVALID_PAYLOAD", "contracts"),
        ({}, {"contracts": True}, None, "INVALID_PAYLOAD", "contracts"),
        ({}, {"contracts": "ten"}, None, "INVALID_PAYLOAD", "contracts"),
        ({}, {"contracts": NAN}, None, "INVALID_PAYLOAD", "contracts"),
        ({}, {"contracts": "1e999999"}, None, "INVALID_PAYLOAD", "contracts"),
        ({"max_position_size": 10}, {"contracts": 1}, {"open_contracts": -2},
         "INVALID_METRIC", "open_contracts"),
        ({"max_position_size": 10}, {"contracts": 1}, {"open_contracts": 1.5},
         "INVALID_METRIC", "open_contracts"),
        ({"max_daily_loss": 1000}, {}, {"day_pl": "abc"}, "INVALID_METRIC", "day_pl"),
        ({"max_daily_loss": 1000}, {}, {"day_pl": NAN}, "INVALID_METRIC", "day_pl"),
        ({"max_daily_loss": 1000}, {}, {"day_pl": -INF}, "INVALID_METRIC", "day_pl"),
        ({"max_total_loss": 1000}, {}, {"total_pl": True}, "INVALID_METRIC", "total_pl"),
        ({}, {}, {"total_pl": "broken"}, "INVALID_METRIC", "total_pl"),  # broken data, no rule
    ],
)
def test_invalid_inputs_are_errors(
    rules: Any, payload: Any, metrics: Any, rule: str, key: str
) -> None:
    result = evaluate_risk("FTMO", rules, payload, metrics)
    assert result.status == "ERROR"
    assert result.rule == rule
    assert result.details is not None and result.details["key"] == key
    assert "value" in result.details and "error" in result.details
    assert result.reason and key in result.reason


def test_invalid_input_wins_over_rejection() -> None:
    """All inputs are parsed before any rule runs: a broken limit is reported, not masked."""
    result = evaluate_risk(
        "FTMO", {"max_position_size": 10, "max_total_loss": "oops"}, {"contracts": 50}
    )
    assert (result.status, result.rule) == ("ERROR", "INVALID_RULE")


class _ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("config backend down")

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("config backend down")


@pytest.mark.parametrize(
    ("rules", "payload", "metrics"),
    [
        ([("max_position_size", 10)], {"contracts": 1}, None),  # rules not a dict
        ({"max_position_size": 10}, "contracts=1", None),
        ({"max_position_size": 10}, {"contracts": 1}, 42),
        (_ExplodingMapping(), {"contracts": 1}, None),
        ({"max_position_size": 10}, _ExplodingMapping(), None),
    ],
)
def test_exceptions_are_engine_errors(rules: Any, payload: Any, metrics: Any) -> None:
    result = evaluate_risk("FTMO", rules, payload, metrics)
    assert (result.status, result.rule) == ("ERROR", "ENGINE_ERROR")
    assert result.details is not None and result.details["error"]
    assert result.reason
    assert result.to_dict()["status"] == "ERROR"


_any_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(alphabet="0123456789.-+eE nafiNIx_", max_size=10),
    st.decimals(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2),
)


@given(
    st.dictionaries(
        st.sampled_from(["max_position_size", "max_daily_loss", "max_total_loss"]), _any_value
    ),
    st.dictionaries(st.just("contracts"), _any_value),
    st.dictionaries(st.sampled_from(["open_contracts", "day_pl", "total_pl"]), _any_value),
)
def test_never_raises_on_arbitrary_input(rules: Any, payload: Any, metrics: Any) -> None:
    result = evaluate_risk("FTMO", rules, payload, metrics)
    assert result.status in {"APPROVED", "REJECTED", "ERROR"}
    assert set(result.to_dict()) == {"firm_code", "status", "rule", "reason", "details"}
    if result.status == "APPROVED":
        assert (result.rule, result.reason, result.details) == (None, None, None)
    else:
        assert result.rule and result.reason


# --- shared helpers (engine_common.numbers) -------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("-1200"), "-1200.0"), (1000, "1000.0"), (1000.0, "1000.0"),
        (Decimal("1234.56"), "1234.56"), (Decimal("1000.00"), "1000.0"), (0, "0.0"),
        (Decimal("-0"), "0.0"), (0.1, "0.1"), (Decimal("-0.05"), "-0.05"),
    ],
)
def test_format_amount(value: Any, text: str) -> None:
    assert format_amount(value) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.1, Decimal("0.1")), ("16500.25", Decimal("16500.25")), (" 5 ", Decimal(5)), (7, Decimal(7))],
)
def test_parse_decimal(value: Any, expected: Decimal) -> None:
    assert parse_decimal(value) == expected


@pytest.mark.parametrize(
    "value", [True, None, "", "abc", "nan", "-inf", "sNaN", NAN, INF, Decimal("NaN"), [1], object()]
)
def test_parse_decimal_rejects(value: Any) -> None:
    with pytest.raises(InvalidNumber):
        parse_decimal(value)


@pytest.mark.parametrize("value", [2.5, "0.5", -1, True, 10**7])
def test_parse_count_rejects(value: Any) -> None:
    with pytest.raises(InvalidNumber):
        parse_count(value)
