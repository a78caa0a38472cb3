"""Unit tests for account_engine.evaluate_account_breach (guide section 7)."""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from account_engine import evaluate_account_breach
from engine_common.verdict import ProgramVerdict


# --- The guide's "Unit Testing" example, verbatim -------------------------------------------
def test_guide_unit_testing_example() -> None:
    from account_engine import evaluate_account_breach

    # Test daily loss breach
    result = evaluate_account_breach(
        firm_code="FTMO",
        program_id=1,
        account_metrics={"day_pl": -1200.0},
        breach_rules={"max_daily_loss": 1000.0}
    )
    assert result.status == "REJECTED"
    assert result.rule == "MAX_DAILY_LOSS"


def test_guide_result_formats() -> None:
    approved = evaluate_account_breach("FTMO", 1, {"day_pl": -500.0}, {"max_daily_loss": 1000.0})
    assert approved.to_dict() == {
        "firm_code": "FTMO", "program_id": 1, "status": "APPROVED",
        "rule": None, "reason": None, "details": None,
    }
    rejected = evaluate_account_breach("FTMO", 1, {"day_pl": -1200.0}, {"max_daily_loss": 1000.0})
    assert rejected.to_dict() == {
        "firm_code": "FTMO",
        "program_id": 1,
        "status": "REJECTED",
        "rule": "MAX_DAILY_LOSS",
        "reason": "Daily loss -1200.0 exceeds max_daily_loss 1000.0.",
        "details": {"day_pl": -1200.0, "max_daily_loss": 1000.0},
    }


def test_guide_metrics_example_is_healthy() -> None:
    metrics = {"day_pl": -500.0, "total_pl": -2000.0, "drawdown": -1500.0}
    rules = {"max_daily_loss": 1000.0, "max_total_loss": 5000.0, "max_drawdown": 2000.0}
    assert evaluate_account_breach("FTMO", 1, metrics, rules).status == "APPROVED"


def test_result_is_frozen() -> None:
    result = evaluate_account_breach("FTMO", 1, None, None)
    assert isinstance(result, ProgramVerdict)
    with pytest.raises(AttributeError):
        result.status = "REJECTED"  # type: ignore[misc]


# --- Each rule at, below and above its limit ------------------------------------------------
RULES = [
    ("max_daily_loss", "day_pl", "MAX_DAILY_LOSS", "Daily loss"),
    ("max_total_loss", "total_pl", "MAX_TOTAL_LOSS", "Total loss"),
    ("max_drawdown", "drawdown", "MAX_DRAWDOWN", "Drawdown"),
]


@pytest.mark.parametrize(("limit_key", "metric_key", "rule", "label"), RULES)
@pytest.mark.parametrize(
    ("limit", "value", "status", "verb"),
    [
        (2000.0, -1999.99, "APPROVED", None),       # just below
        (2000.0, -2000.0, "REJECTED", "reaches"),   # at limit: no room left
        (2000.0, -2000.01, "REJECTED", "exceeds"),  # just above
        (2000, -2100, "REJECTED", "exceeds"),
        ("2000", "-2000", "REJECTED", "reaches"),   # strings
        (Decimal("2000.00"), Decimal("-1999.999"), "APPROVED", None),
        (0.3, -0.3, "REJECTED", "reaches"),         # Decimal via str(): no binary rounding
        (2000.0, 0, "APPROVED", None),
        (None, -1e9, "APPROVED", None),             # rule disabled
        (2000.0, None, "APPROVED", None),           # metric missing: no data
    ],
)
def test_limits(
    limit_key: str, metric_key: str, rule: str, label: str,
    limit: Any, value: Any, status: str, verb: str | None,
) -> None:
    result = evaluate_account_breach("FTMO", 7, {metric_key: value}, {limit_key: limit})
    assert result.status == status
    assert result.program_id == 7
    if status == "REJECTED":
        shown = Decimal(str(value))
        limit_dec = Decimal(str(limit))
        assert result.rule == rule
        assert result.reason == (
            f"{label} {_fmt(shown)} {verb} {limit_key} {_fmt(limit_dec)}."
        )
        assert result.details == {metric_key: float(shown), limit_key: float(limit_dec)}
    else:
        assert (result.rule, result.reason, result.details) == (None, None, None)


def _fmt(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text if "." in text else text + ".0"


@pytest.mark.parametrize(
    ("metrics", "rules", "rule", "reason", "details"),
    [
        ({"day_pl": -1200.0}, {"max_daily_loss": 1000.0}, "MAX_DAILY_LOSS",
         "Daily loss -1200.0 exceeds max_daily_loss 1000.0.",
         {"day_pl": -1200.0, "max_daily_loss": 1000.0}),
        ({"day_pl": -1000.0}, {"max_daily_loss": 1000.0}, "MAX_DAILY_LOSS",
         "Daily loss -1000.0 reaches max_daily_loss 1000.0.",
         {"day_pl": -1000.0, "max_daily_loss": 1000.0}),
        ({"total_pl": -5200.0}, {"max_total_loss": 5000.0}, "MAX_TOTAL_LOSS",
         "Total loss -5200.0 exceeds max_total_loss 5000.0.",
         {"total_pl": -5200.0, "max_total_loss": 5000.0}),
        ({"drawdown": -2100.0}, {"max_drawdown": 2000.0}, "MAX_DRAWDOWN",
         "Drawdown -2100.0 exceeds max_drawdown 2000.0.",
         {"drawdown": -2100.0, "max_drawdown": 2000.0}),
        # drawdown given as a positive magnitude is the same loss
        ({"drawdown": 2100.0}, {"max_drawdown": 2000.0}, "MAX_DRAWDOWN",
         "Drawdown -2100.0 exceeds max_drawdown 2000.0.",
         {"drawdown": -2100.0, "max_drawdown": 2000.0}),
        ({"drawdown": "2000"}, {"max_drawdown": "2000"}, "MAX_DRAWDOWN",
         "Drawdown -2000.0 reaches max_drawdown 2000.0.",
         {"drawdown": -2000.0, "max_drawdown": 2000.0}),
    ],
)
def test_reasons_verbatim(
    metrics: dict[str, Any], rules: dict[str, Any], rule: str, reason: str,
    details: dict[str, float],
) -> None:
    result = evaluate_account_breach("FTMO", 1, metrics, rules)
    assert (result.status, result.rule, result.reason, result.details) == (
        "REJECTED", rule, reason, details,
    )


@pytest.mark.parametrize("drawdown", [1999.99, -1999.99, "1999.99"])
def test_positive_drawdown_below_limit_approves(drawdown: Any) -> None:
    result = evaluate_account_breach("FTMO", 1, {"drawdown": drawdown}, {"max_drawdown": 2000})
    assert result.status == "APPROVED"


def test_first_breached_rule_wins() -> None:
    rules = {"max_daily_loss": 1000, "max_total_loss": 5000, "max_drawdown": 2000}
    all_bad = {"day_pl": -1500, "total_pl": -6000, "drawdown": -3000}
    assert evaluate_account_breach("FTMO", 1, all_bad, rules).rule == "MAX_DAILY_LOSS"
    assert evaluate_account_breach(
        "FTMO", 1, {**all_bad, "day_pl": -10}, rules
    ).rule == "MAX_TOTAL_LOSS"
    assert evaluate_account_breach(
        "FTMO", 1, {**all_bad, "day_pl": -10, "total_pl": -10}, rules
    ).rule == "MAX_DRAWDOWN"


@pytest.mark.parametrize(
    ("metrics", "rules"),
    [
        (None, {"max_daily_loss": 1000, "max_total_loss": 5000, "max_drawdown": 2000}),
        ({}, {"max_daily_loss": 1000, "max_total_loss": 5000, "max_drawdown": 2000}),
        ({"day_pl": None, "total_pl": None, "drawdown": None}, {"max_daily_loss": 1000}),
        ({"day_pl": -1e6, "total_pl": -1e6, "drawdown": -1e6}, None),
        ({"day_pl": -1e6, "total_pl": -1e6, "drawdown": -1e6}, {}),
        ({"day_pl": -1e6}, {"max_daily_loss": None, "max_total_loss": None, "max_drawdown": None}),
    ],
)
def test_missing_data_or_rules_approve(metrics: Any, rules: Any) -> None:
    assert evaluate_account_breach("FTMO", 1, metrics, rules).status == "APPROVED"


# --- ERROR: fail closed ---------------------------------------------------------------------
class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("metrics", "rules", "rule", "key"),
    [
        ({}, {"max_daily_loss": "abc"}, "INVALID_RULE", "max_daily_loss"),
        ({}, {"max_daily_loss": NAN}, "INVALID_RULE", "max_daily_loss"),
        ({}, {"max_daily_loss": -1000}, "INVALID_RULE", "max_daily_loss"),
        ({}, {"max_daily_loss": 0}, "INVALID_RULE", "max_daily_loss"),
        ({}, {"max_total_loss": INF}, "INVALID_RULE", "max_total_loss"),
        ({}, {"max_total_loss": True}, "INVALID_RULE", "max_total_loss"),
        ({}, {"max_drawdown": ""}, "INVALID_RULE", "max_drawdown"),
        ({}, {"max_drawdown": "NaN"}, "INVALID_RULE", "max_drawdown"),
        ({}, {"max_drawdown": _Unprintable()}, "INVALID_RULE", "max_drawdown"),
        ({"day_pl": "abc"}, {"max_daily_loss": 1000}, "INVALID_METRIC", "day_pl"),
        ({"day_pl": NAN}, {"max_daily_loss": 1000}, "INVALID_METRIC", "day_pl"),
        ({"total_pl": -INF}, {"max_total_loss": 1000}, "INVALID_METRIC", "total_pl"),
        ({"total_pl": False}, {"max_total_loss": 1000}, "INVALID_METRIC", "total_pl"),
        ({"drawdown": "-inf"}, {"max_drawdown": 1000}, "INVALID_METRIC", "drawdown"),
        ({"drawdown": [1]}, {}, "INVALID_METRIC", "drawdown"),  # broken data, no rule
    ],
)
def test_invalid_inputs_are_errors(metrics: Any, rules: Any, rule: str, key: str) -> None:
    result = evaluate_account_breach("FTMO", 1, metrics, rules)
    assert (result.status, result.rule) == ("ERROR", rule)
    assert result.details is not None and result.details["key"] == key
    assert "value" in result.details and "error" in result.details
    assert result.reason and key in result.reason


class _ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("metrics backend down")

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("metrics backend down")


@pytest.mark.parametrize(
    ("metrics", "rules"),
    [
        ({"day_pl": -1200.0}, [("max_daily_loss", 1000.0)]),  # rules not a dict
        ("day_pl=-1200", {"max_daily_loss": 1000.0}),
        (_ExplodingMapping(), {"max_daily_loss": 1000.0}),
        ({"day_pl": -1.0}, _ExplodingMapping()),
    ],
)
def test_exceptions_are_engine_errors(metrics: Any, rules: Any) -> None:
    result = evaluate_account_breach("FTMO", 1, metrics, rules)
    assert (result.status, result.rule) == ("ERROR", "ENGINE_ERROR")
    assert result.details is not None and result.details["error"]
    assert result.reason


_any_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(alphabet="0123456789.-+eE nafiNIx_", max_size=10),
    st.decimals(allow_nan=True, allow_infinity=True),
)


@given(
    st.dictionaries(st.sampled_from(["day_pl", "total_pl", "drawdown"]), _any_value),
    st.dictionaries(
        st.sampled_from(["max_daily_loss", "max_total_loss", "max_drawdown"]), _any_value
    ),
)
def test_never_raises_on_arbitrary_input(metrics: Any, rules: Any) -> None:
    result = evaluate_account_breach("FTMO", 1, metrics, rules)
    assert result.status in {"APPROVED", "REJECTED", "ERROR"}
    if result.status == "APPROVED":
        assert (result.rule, result.reason, result.details) == (None, None, None)
    else:
        assert result.rule and result.reason and result.details is not None
