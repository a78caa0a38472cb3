"""Unit tests for program_engine.calculate_program_sizing (guide section 6, DESIGN "Money math")."""
from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.contract_specs import CONTRACT_SPECS
from engine_common.verdict import SizingVerdict
from program_engine import calculate_program_sizing

GUIDE_RULES = {"account_size": 100000.0, "risk_per_trade": 0.01, "max_contracts": 5}
GUIDE_PAYLOAD = {"entry_price": 16500.0, "stop_loss": 16475.0, "symbol": "NQ"}

POINT_VALUES = {
    "NQ": 20, "MNQ": 2, "ES": 50, "MES": 5, "YM": 5, "MYM": 0.5,
    "RTY": 50, "M2K": 5, "CL": 1000, "MCL": 100, "GC": 100, "MGC": 10,
}


def size(rules: Any = None, payload: Any = None, **overrides: Any) -> SizingVerdict:
    merged_rules = dict(GUIDE_RULES) if rules is None else rules
    merged_payload = dict(GUIDE_PAYLOAD) if payload is None else payload
    for key, value in overrides.items():
        target = merged_payload if key in {"entry_price", "stop_loss", "symbol"} else merged_rules
        if value is _DROP:
            target.pop(key, None)
        else:
            target[key] = value
    return calculate_program_sizing("FTMO", 1, merged_rules, merged_payload)


_DROP = object()


# --- The guide's "Unit Testing" example, verbatim -------------------------------------------
def test_guide_unit_testing_example() -> None:
    from program_engine import calculate_program_sizing

    # Test sizing calculation
    result = calculate_program_sizing(
        firm_code="FTMO",
        program_id=1,
        scaling_rules={
            "account_size": 100000.0,
            "risk_per_trade": 0.01,
            "max_contracts": 5
        },
        task_payload={
            "entry_price": 16500.0,
            "stop_loss": 16475.0,
            "symbol": "NQ"
        }
    )
    assert result.status == "APPROVED"
    assert result.contracts > 0


def test_guide_example_full_result_with_correct_point_value() -> None:
    """The guide's own 2 contracts only holds at NQ = 20 dollars per point (not its 5.0)."""
    result = size()
    assert result.to_dict() == {
        "firm_code": "FTMO",
        "program_id": 1,
        "status": "APPROVED",
        "contracts": 2,
        "rule": None,
        "reason": None,
        "details": {
            "account_size": 100000.0,
            "risk_per_trade": 0.01,
            "risk_amount": 1000.0,
            "risk_distance": 25.0,
            "point_value": 20.0,
            "calculated_contracts": 2.0,
            "max_contracts": 5,
            "final_contracts": 2,
        },
    }


def test_point_value_override_reproduces_guide_numbers() -> None:
    """With NQ_POINT_VALUE=5 (the guide's config) calculated is 8.0, capped at max 5."""
    result = size(point_value_overrides={"NQ": Decimal("5")})
    assert (result.status, result.contracts) == ("APPROVED", 5)
    assert result.details is not None
    assert result.details["point_value"] == 5.0
    assert result.details["calculated_contracts"] == 8.0


def test_result_is_frozen() -> None:
    with pytest.raises(AttributeError):
        size().contracts = 99  # type: ignore[misc]


# --- Symbols and point values ---------------------------------------------------------------
@pytest.mark.parametrize("root", sorted(POINT_VALUES))
def test_every_root_uses_its_point_value(root: str) -> None:
    # 2-point stop; risk 100000 x 0.05 = 5000 dollars.
    result = size(
        {"account_size": 100000, "risk_per_trade": 0.05},
        {"entry_price": 102, "stop_loss": 100, "symbol": root},
    )
    pv = Decimal(str(POINT_VALUES[root]))
    assert result.details is not None and result.details["point_value"] == float(pv)
    assert result.contracts == math.floor(Decimal(5000) / (2 * pv))
    assert result.status == "APPROVED"


def test_point_value_table_matches_contract_specs() -> None:
    assert {r: float(s.point_value) for r, s in CONTRACT_SPECS.items()} == {
        r: float(v) for r, v in POINT_VALUES.items()
    }


@pytest.mark.parametrize(
    ("symbol", "root_in_details"),
    [("NQ", None), ("nq", None), ("NQ1!", "NQ"), ("CME_MINI:NQ1!", "NQ"), ("NQZ2025", "NQ"),
     ("NQZ25", "NQ"), ("MNQ1!", "MNQ")],
)
def test_symbol_forms(symbol: str, root_in_details: str | None) -> None:
    result = size(symbol=symbol)
    assert result.status == "APPROVED"
    assert result.details is not None
    assert result.details.get("symbol_root") == root_in_details
    expected = 2 if (root_in_details or "NQ") == "NQ" else 5  # MNQ: 20 -> capped at 5
    assert result.contracts == expected


# --- Caps and boundaries --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rules", "payload", "contracts"),
    [
        # calculated exactly 1.0 / just below / just above (NQ, 25-point stop -> 500 per contract)
        ({"account_size": 50000, "risk_per_trade": 0.01}, {}, 1),
        ({"account_size": 49999.99, "risk_per_trade": 0.01}, {}, 0),
        ({"account_size": 50000.01, "risk_per_trade": 0.01}, {}, 1),
        # calculated exactly 3.0 stays 3 (no rounding down an exact integer)
        ({"account_size": 150000, "risk_per_trade": 0.01}, {}, 3),
        ({"account_size": 149999.99, "risk_per_trade": 0.01}, {}, 2),
        # max_contracts binding, at and around the calculated value
        ({"account_size": 150000, "risk_per_trade": 0.01, "max_contracts": 2}, {}, 2),
        ({"account_size": 150000, "risk_per_trade": 0.01, "max_contracts": 3}, {}, 3),
        ({"account_size": 150000, "risk_per_trade": 0.01, "max_contracts": 4}, {}, 3),
        ({"account_size": 150000, "risk_per_trade": 0.01, "max_contracts": None}, {}, 3),
        # position_capacity binding
        ({"account_size": 150000, "risk_per_trade": 0.01, "position_capacity": 1}, {}, 1),
        ({"account_size": 150000, "risk_per_trade": 0.01, "position_capacity": 3}, {}, 3),
        ({"account_size": 150000, "risk_per_trade": 0.01, "position_capacity": 9}, {}, 3),
        ({"account_size": 1e6, "risk_per_trade": 0.01, "max_contracts": 5,
          "position_capacity": 4}, {}, 4),
        ({"account_size": 1e6, "risk_per_trade": 0.01, "max_contracts": 4,
          "position_capacity": 5}, {}, 4),
        # numbers as strings
        ({"account_size": "100000", "risk_per_trade": "0.01", "max_contracts": "5"},
         {"entry_price": "16500.25", "stop_loss": "16475.25"}, 2),
        ({"account_size": "100000.0", "risk_per_trade": 0.01, "position_capacity": "1"}, {}, 1),
        # short side: stop above entry
        ({"account_size": 100000, "risk_per_trade": 0.01}, {"entry_price": 16475, "stop_loss": 16500}, 2),
        # fractional stop distance: 0.25 point on MNQ = 0.5 dollars per contract
        ({"account_size": 10000, "risk_per_trade": 0.001, "max_contracts": 50},
         {"entry_price": 100.25, "stop_loss": 100, "symbol": "MNQ"}, 20),
    ],
)
def test_sizing_table(rules: dict[str, Any], payload: dict[str, Any], contracts: int) -> None:
    result = size(rules, {**GUIDE_PAYLOAD, **payload})
    assert result.contracts == contracts
    assert result.status == ("APPROVED" if contracts else "REJECTED")
    if contracts:
        assert result.details is not None and result.details["final_contracts"] == contracts


# --- Bounded sizes: a stop inside one tick, whole ticks, the per-order ceiling ---------------
@pytest.mark.parametrize(
    ("entry", "stop", "symbol"),
    [("16500.000001", "16500", "NQ"), ("16500.01", "16500", "NQ"), ("16500.24", "16500", "NQ"),
     ("100", "99.995", "CL"), ("40000.5", "40000", "YM")],
)
def test_a_stop_inside_one_tick_sizes_nothing(entry: str, stop: str, symbol: str) -> None:
    """The documented live TOPSTEP setup sized 25,000,000 contracts for a stop 0.000001 away."""
    result = size({"account_size": 50000, "risk_per_trade": 0.01},
                  {"entry_price": entry, "stop_loss": stop, "symbol": symbol})
    assert (result.status, result.contracts, result.rule) == ("REJECTED", 0, "STOP_INSIDE_ONE_TICK")
    assert result.details is not None
    assert result.details["tick_size"] == float(CONTRACT_SPECS[symbol].tick_size)
    assert "tick" in (result.reason or "")


def test_one_tick_stop_is_sized_on_that_tick() -> None:
    result = size({"account_size": 50000, "risk_per_trade": 0.01},
                  {"entry_price": "16500.25", "stop_loss": "16500", "symbol": "NQ"})
    assert (result.status, result.contracts) == ("APPROVED", 100)  # 500 / (0.25 x 20)


def test_stop_distance_is_rounded_up_to_whole_ticks() -> None:
    """25.05 points on NQ is 100.2 ticks: sized as 101 ticks (25.25 points), never as 25.00,
    so the size cannot risk more than the account allows whichever tick the stop lands on."""
    result = size({"account_size": 101000, "risk_per_trade": 0.01},
                  {"entry_price": "16500.05", "stop_loss": "16475", "symbol": "NQ"})
    assert result.details is not None
    assert result.details["risk_distance"] == 25.25
    assert result.details["stop_distance"] == 25.05
    assert result.details["stop_ticks"] == 101
    assert result.contracts == 2  # 1010 / 505; on the raw 25.05 it would be 2.016, on 25.00 2.02
    assert result.contracts * 25.05 * 20 <= 1010


def test_order_ceiling_caps_after_every_other_cap_and_says_so() -> None:
    rules = {"account_size": 10_000_000, "risk_per_trade": 0.01, "max_contracts": 50,
             "position_capacity": 40, "max_contracts_per_order": 20}
    result = size(rules, dict(GUIDE_PAYLOAD))
    assert (result.status, result.contracts) == ("APPROVED", 20)
    assert result.details is not None
    assert result.details["max_contracts_per_order"] == 20
    assert result.details["capped_by"] == "max_contracts_per_order"
    assert result.details["final_contracts"] == 20
    smaller = size({**rules, "max_contracts": 7}, dict(GUIDE_PAYLOAD))
    assert smaller.contracts == 7 and smaller.details and smaller.details["capped_by"] == "max_contracts"
    free = size({**rules, "account_size": 100000}, dict(GUIDE_PAYLOAD))
    assert free.contracts == 2 and free.details and "capped_by" not in free.details


def test_details_keys() -> None:
    base = {"account_size", "risk_per_trade", "risk_amount", "risk_distance", "point_value",
            "calculated_contracts", "max_contracts", "final_contracts"}
    assert set(size().details or {}) == base
    with_cap = size(position_capacity=3, symbol="NQ1!")
    assert set(with_cap.details or {}) == base | {"position_capacity", "symbol_root"}
    assert with_cap.details and with_cap.details["position_capacity"] == 3


# --- Zero-contract causes and input problems (REJECTED, contracts 0) --------------------------
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"account_size": _DROP}, "NO_ACCOUNT_SIZE"),
        ({"account_size": None}, "NO_ACCOUNT_SIZE"),
        ({"account_size": 0}, "NO_ACCOUNT_SIZE"),
        ({"account_size": "0.00"}, "NO_ACCOUNT_SIZE"),
        ({"account_size": -100000}, "INVALID_ACCOUNT_SIZE"),
        ({"account_size": "lots"}, "INVALID_ACCOUNT_SIZE"),
        ({"account_size": NAN}, "INVALID_ACCOUNT_SIZE"),
        ({"account_size": True}, "INVALID_ACCOUNT_SIZE"),
        ({"risk_per_trade": _DROP}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": 0}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": 1}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": 1.5}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": -0.01}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": "1%"}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": NAN}, "INVALID_RISK_PER_TRADE"),
        ({"risk_per_trade": True}, "INVALID_RISK_PER_TRADE"),
        ({"max_contracts": 2.5}, "INVALID_MAX_CONTRACTS"),
        ({"max_contracts": -1}, "INVALID_MAX_CONTRACTS"),
        ({"max_contracts": "five"}, "INVALID_MAX_CONTRACTS"),
        ({"position_capacity": -1}, "INVALID_POSITION_CAPACITY"),
        ({"position_capacity": INF}, "INVALID_POSITION_CAPACITY"),
        ({"entry_price": _DROP}, "MISSING_PRICE"),
        ({"stop_loss": _DROP}, "MISSING_PRICE"),
        ({"stop_loss": None}, "MISSING_PRICE"),
        ({"entry_price": 0}, "INVALID_PRICE"),
        ({"entry_price": -16500}, "INVALID_PRICE"),
        ({"entry_price": "abc"}, "INVALID_PRICE"),
        ({"entry_price": ""}, "INVALID_PRICE"),
        ({"entry_price": NAN}, "INVALID_PRICE"),
        ({"stop_loss": INF}, "INVALID_PRICE"),
        ({"stop_loss": "-Infinity"}, "INVALID_PRICE"),
        ({"stop_loss": True}, "INVALID_PRICE"),
        ({"stop_loss": 16500.0}, "ZERO_STOP_DISTANCE"),
        ({"stop_loss": "16500.00"}, "ZERO_STOP_DISTANCE"),
        ({"symbol": _DROP}, "UNKNOWN_SYMBOL"),
        ({"symbol": "XYZ"}, "UNKNOWN_SYMBOL"),
        ({"symbol": "NQX"}, "UNKNOWN_SYMBOL"),
        ({"symbol": 20}, "UNKNOWN_SYMBOL"),
        ({"point_value_overrides": {"NQ": 0}}, "INVALID_POINT_VALUE"),
        ({"point_value_overrides": {"NQ": "abc"}}, "INVALID_POINT_VALUE"),
        ({"point_value_overrides": {"NQ": -5}}, "INVALID_POINT_VALUE"),
        ({"account_size": 1000}, "BELOW_ONE_CONTRACT"),
        ({"risk_per_trade": 0.004}, "BELOW_ONE_CONTRACT"),  # 400 < 500 per contract
        ({"stop_loss": 15500}, "BELOW_ONE_CONTRACT"),       # 1000-point stop
        ({"position_capacity": 0}, "POSITION_CAPACITY_EXHAUSTED"),
        ({"position_capacity": "0"}, "POSITION_CAPACITY_EXHAUSTED"),
        ({"max_contracts": 0}, "MAX_CONTRACTS_ZERO"),
    ],
)
def test_rejections(change: dict[str, Any], rule: str) -> None:
    result = size(**change)
    assert (result.status, result.contracts, result.rule) == ("REJECTED", 0, rule)
    assert isinstance(result.reason, str) and result.reason.endswith(".")
    assert result.details is not None


def test_below_one_contract_reason() -> None:
    result = size(account_size=1000)
    assert result.reason == (
        "Risk amount 10.0 is less than the 500.0 risk of one NQ contract "
        "(25.0 points x 20.0 per point)."
    )
    assert result.details and result.details["final_contracts"] == 0


def test_override_for_other_root_is_ignored() -> None:
    assert size(point_value_overrides={"ES": "abc"}).contracts == 2


# --- ERROR: exceptions ----------------------------------------------------------------------
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
    ("rules", "payload"),
    [
        ([("account_size", 100000)], GUIDE_PAYLOAD),  # rules not a dict
        (GUIDE_RULES, "entry=16500"),
        (_ExplodingMapping(), GUIDE_PAYLOAD),
        (GUIDE_RULES, _ExplodingMapping()),
        ({**GUIDE_RULES, "point_value_overrides": [("NQ", 5)]}, GUIDE_PAYLOAD),
        # a product too long to compute exactly: refuse rather than round a contract count
        ({"account_size": "1." + "1" * 600, "risk_per_trade": "0." + "1" * 600}, GUIDE_PAYLOAD),
    ],
)
def test_exceptions_are_engine_errors(rules: Any, payload: Any) -> None:
    result = calculate_program_sizing("FTMO", 1, rules, payload)
    assert (result.status, result.rule, result.contracts) == ("ERROR", "ENGINE_ERROR", 0)
    assert result.details is not None and result.details["error"]
    assert set(result.to_dict()) == {
        "firm_code", "program_id", "status", "contracts", "rule", "reason", "details"
    }


# --- Properties -----------------------------------------------------------------------------
def _exact(value: Any) -> Fraction:
    """The number the engine sees: floats via str(), like engine_common.numbers.parse_decimal."""
    return Fraction(Decimal(str(value)) if isinstance(value, float) else Decimal(value))


_money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)
_fraction = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=4)
_price = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200000"), places=2)
_cap = st.one_of(st.none(), st.integers(min_value=0, max_value=100))


def _as_input(draw: st.DrawFn, value: Decimal) -> Any:
    """Feed the same number as Decimal, float or string, as configuration and webhooks do."""
    form = draw(st.sampled_from(["decimal", "float", "str"]))
    return {"decimal": value, "float": float(value), "str": str(value)}[form]


@st.composite
def _sizing_case(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    rules: dict[str, Any] = {
        "account_size": _as_input(draw, draw(_money)),
        "risk_per_trade": _as_input(draw, draw(_fraction)),
    }
    for key in ("max_contracts", "position_capacity"):
        cap = draw(_cap)
        if cap is not None:
            rules[key] = cap
    entry, stop = draw(_price), draw(_price)
    payload = {
        "entry_price": _as_input(draw, entry),
        "stop_loss": _as_input(draw, stop),
        "symbol": draw(st.sampled_from(sorted(CONTRACT_SPECS))),
    }
    return rules, payload


@settings(max_examples=400, deadline=None)
@given(_sizing_case())
def test_sizing_properties(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    rules, payload = case
    result = calculate_program_sizing("FTMO", 1, rules, payload)

    assert type(result.contracts) is int and result.contracts >= 0
    assert result.status in {"APPROVED", "REJECTED"}  # valid input never errors
    assert (result.status == "APPROVED") == (result.contracts >= 1)
    for cap_key in ("max_contracts", "position_capacity"):
        if cap_key in rules:
            assert result.contracts <= rules[cap_key]

    risk_amount = _exact(rules["account_size"]) * _exact(rules["risk_per_trade"])
    distance = abs(_exact(payload["entry_price"]) - _exact(payload["stop_loss"]))
    point_value = Fraction(CONTRACT_SPECS[payload["symbol"]].point_value)
    assert result.contracts * distance * point_value <= risk_amount  # never over-risk

    if distance == 0:
        assert result.rule == "ZERO_STOP_DISTANCE"
        return
    tick = Fraction(CONTRACT_SPECS[payload["symbol"]].tick_size)
    if distance < tick:
        assert (result.status, result.rule) == ("REJECTED", "STOP_INSIDE_ONE_TICK")
        return
    # and it is the largest such size within the caps for the stop rounded up to whole ticks
    # (exact oracle, no float rounding)
    expected = math.floor(risk_amount / (math.ceil(distance / tick) * tick * point_value))
    for cap_key in ("max_contracts", "position_capacity"):
        if cap_key in rules:
            expected = min(expected, rules[cap_key])
    assert result.contracts == expected


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=50),
    st.sampled_from(sorted(CONTRACT_SPECS)),
)
def test_exact_integer_quotients_are_not_rounded_down(
    per_contract_ticks: int, contracts: int, root: str
) -> None:
    """When the risk buys exactly N contracts, sizing returns N (no 2.9999 -> 2)."""
    spec = CONTRACT_SPECS[root]
    distance = spec.tick_size * per_contract_ticks
    risk_amount = distance * spec.point_value * contracts
    result = calculate_program_sizing(
        "FTMO", 1,
        {"account_size": str(risk_amount * 100), "risk_per_trade": "0.01"},
        {"entry_price": str(100000 + distance), "stop_loss": "100000", "symbol": root},
    )
    assert result.contracts == contracts


_any_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(alphabet="0123456789.-+eE nafiNIQx!:_", max_size=10),
    st.decimals(allow_nan=True, allow_infinity=True),
)


@given(
    st.dictionaries(
        st.sampled_from(["account_size", "risk_per_trade", "max_contracts", "position_capacity"]),
        _any_value,
    ),
    st.dictionaries(st.sampled_from(["entry_price", "stop_loss", "symbol"]), _any_value),
)
def test_never_raises_never_fractional_on_arbitrary_input(rules: Any, payload: Any) -> None:
    result = calculate_program_sizing("FTMO", 1, rules, payload)
    assert type(result.contracts) is int and result.contracts >= 0
    assert (result.status == "APPROVED") == (result.contracts >= 1)
    if result.status != "APPROVED":
        assert result.contracts == 0 and result.rule and result.reason
