"""Firm registry facts and contract specs: these numbers decide order sizes and day boundaries."""
from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from instruments import CONTRACT_SPECS, get_contract_spec, resolve_root
from prop_firm_registry import get_firm_by_code, get_firm_registry, is_firm_supported


@pytest.mark.parametrize("root,point_value,tick", [
    ("NQ", "20", "0.25"), ("MNQ", "2", "0.25"), ("ES", "50", "0.25"), ("MES", "5", "0.25"),
    ("YM", "5", "1"), ("MYM", "0.5", "1"), ("RTY", "50", "0.1"), ("M2K", "5", "0.1"),
    ("CL", "1000", "0.01"), ("MCL", "100", "0.01"), ("GC", "100", "0.1"), ("MGC", "10", "0.1"),
])
def test_contract_specs(root, point_value, tick):
    spec = CONTRACT_SPECS[root]
    assert spec.point_value == Decimal(point_value) and spec.tick_size == Decimal(tick)


@pytest.mark.parametrize("symbol,root", [
    ("NQ", "NQ"), ("nq", "NQ"), ("NQ1!", "NQ"), ("CME_MINI:NQ1!", "NQ"), ("NQZ2025", "NQ"), ("NQZ25", "NQ"),
    ("MNQ1!", "MNQ"), ("MNQZ2025", "MNQ"), ("ESH26", "ES"), ("M2K1!", "M2K"), (" cl1! ", "CL"), ("COMEX:GC1!", "GC"),
    ("XYZ", None), ("NQA25", None), ("", None), (None, None), (20, None), ("BTCUSD", None),
])
def test_symbol_resolution(symbol, root):
    assert resolve_root(symbol) == root


def test_point_value_override_applies_only_to_its_root():
    overrides = {"NQ": Decimal("21")}
    assert get_contract_spec("NQ1!", overrides).point_value == Decimal("21")
    assert get_contract_spec("MNQ1!", overrides).point_value == Decimal("2")
    assert get_contract_spec("BTC", overrides) is None


@pytest.mark.parametrize("code,start,zone,api", [
    ("FTMO", time(0), "Europe/Prague", True), ("APEX", time(18), "America/New_York", True),
    ("TOPSTEP", time(17), "America/Chicago", True), ("BULENOX", time(17), "America/Chicago", False),
    ("LEELOO", time(17), "America/Chicago", False),
])
def test_registry_trading_days(code, start, zone, api):
    firm = get_firm_by_code(code.lower())
    assert firm.trading_day_start == start and firm.trading_day_timezone == zone and firm.api_enabled is api
    assert is_firm_supported(code)


def test_automation_policies():
    registry = get_firm_registry()
    assert set(registry) == {"FTMO", "APEX", "TOPSTEP", "BULENOX", "LEELOO"}
    assert not registry["FTMO"].automation_forbidden
    assert registry["APEX"].automation_forbidden and registry["LEELOO"].automation_forbidden
    assert registry["TOPSTEP"].automation_forbidden  # only through its own API from a personal device
    assert not is_firm_supported("NOPE") and get_firm_by_code(None) is None
    keys = set(registry["FTMO"].to_dict())
    assert {"code", "name", "api_enabled", "supports_automated_execution", "max_daily_loss_default",
            "max_total_loss_default", "max_position_size_default"} <= keys
