"""Configuration: the guide's variable names, strict validation, errors that name the variable."""
from __future__ import annotations

from decimal import Decimal

import pytest

from config import (
    ConfigError,
    get_account_breach_rules,
    get_firm_config,
    get_firm_risk_rules,
    get_program_scaling_rules,
    get_routing_rules_for_task,
    load_settings,
    parse_settings,
)
from engine_common.rules import RiskRules
from tests.conftest import STEP2_ENV


def test_step2_environment_gives_the_guides_routing():
    s = parse_settings(STEP2_ENV)
    firm_codes, meta = get_routing_rules_for_task({"trade_id": "TEST_001", "symbol": "NQ"}, s)
    assert firm_codes == ["FTMO", "APEX"] and meta["program_ids"] == {"FTMO": [1], "APEX": [1]}
    assert get_firm_risk_rules("FTMO", s) == RiskRules(max_position_size=10, max_daily_loss=Decimal("1000.0"),
                                                       max_total_loss=Decimal("5000.0"))
    scaling = get_program_scaling_rules("APEX", 1, s)
    assert (scaling.account_size, scaling.risk_per_trade, scaling.max_contracts) == (
        Decimal("150000.0"), Decimal("0.01"), 10)
    assert get_account_breach_rules("FTMO", 1, s).max_drawdown == Decimal("2000.0")
    ftmo = get_firm_config("FTMO", s)
    assert ftmo["code"] == "FTMO" and ftmo["routed"] and ftmo["trading_day_timezone"] == "Europe/Prague"


def test_defaults_are_dry_run_and_no_routing():
    s = parse_settings({})
    assert s.dry_run is True and s.route_to_firms == () and s.entry_event_types == {"SIGNAL_CREATED", "ENTRY"}


def test_every_order_has_a_ceiling_of_20_contracts_unless_configured():
    assert get_program_scaling_rules("FTMO", 1, parse_settings(STEP2_ENV)).max_contracts_per_order == 20
    custom = parse_settings(dict(STEP2_ENV, MAX_CONTRACTS_PER_ORDER="3"))
    assert get_program_scaling_rules("APEX", 1, custom).max_contracts_per_order == 3


def test_rules_not_configured_are_disabled():
    env = {k: v for k, v in STEP2_ENV.items() if k not in ("FTMO_MAX_DAILY_LOSS", "FTMO_1_MAX_DRAWDOWN")}
    s = parse_settings(env)
    assert get_firm_risk_rules("FTMO", s).max_daily_loss is None
    assert get_account_breach_rules("FTMO", 1, s).max_drawdown is None


@pytest.mark.parametrize(
    "override,variable",
    [
        ({"EXECUTION_DRY_RUN": "maybe"}, "EXECUTION_DRY_RUN"),
        ({"ROUTE_TO_FIRMS": "FTMO,FTM0"}, "ROUTE_TO_FIRMS"),
        ({"FTMO_PROGRAM_IDS": "1,x"}, "FTMO_PROGRAM_IDS"),
        ({"FTMO_PROGRAM_IDS": None}, "FTMO_PROGRAM_IDS"),
        ({"FTMO_MAX_POSITION_SIZE": "ten"}, "FTMO_MAX_POSITION_SIZE"),
        ({"FTMO_MAX_POSITION_SIZE": "2.5"}, "FTMO_MAX_POSITION_SIZE"),
        ({"FTMO_MAX_DAILY_LOSS": "-1000"}, "FTMO_MAX_DAILY_LOSS"),
        ({"FTMO_MAX_TOTAL_LOSS": "nan"}, "FTMO_MAX_TOTAL_LOSS"),
        ({"FTMO_1_RISK_PER_TRADE": "1"}, "FTMO_1_RISK_PER_TRADE"),
        ({"FTMO_1_RISK_PER_TRADE": "1.5"}, "FTMO_1_RISK_PER_TRADE"),
        ({"FTMO_1_RISK_PER_TRADE": "0"}, "FTMO_1_RISK_PER_TRADE"),
        ({"FTMO_1_ACCOUNT_SIZE": None}, "FTMO_1_ACCOUNT_SIZE"),
        ({"FTMO_1_ACCOUNT_SIZE": "0"}, "FTMO_1_ACCOUNT_SIZE"),
        ({"APEX_1_MAX_CONTRACTS": "-3"}, "APEX_1_MAX_CONTRACTS"),
        ({"APEX_1_MAX_DRAWDOWN": "inf"}, "APEX_1_MAX_DRAWDOWN"),
        ({"NQ_POINT_VALUE": "5.0"}, "NQ_POINT_VALUE"),  # the guide's tick value: would quadruple size
        ({"ES_POINT_VALUE": "12.5"}, "ES_POINT_VALUE"),
        ({"FOO_POINT_VALUE": "3"}, "FOO_POINT_VALUE"),
        ({"FTMO_DRY_RUN": "nope"}, "FTMO_DRY_RUN"),
        ({"FTMO_TRADING_DAY_TIMEZONE": "Mars/Base"}, "FTMO_TRADING_DAY_TIMEZONE"),
        ({"ENTRY_EVENT_TYPES": "EXIT_SL"}, "ENTRY_EVENT_TYPES"),
        ({"MAX_CONTRACTS_PER_ORDER": "0"}, "MAX_CONTRACTS_PER_ORDER"),
        ({"MAX_CONTRACTS_PER_ORDER": "1001"}, "MAX_CONTRACTS_PER_ORDER"),
        ({"MAX_CONTRACTS_PER_ORDER": "2.5"}, "MAX_CONTRACTS_PER_ORDER"),
    ],
)
def test_invalid_values_are_refused_naming_the_variable(override, variable):
    env = dict(STEP2_ENV)
    for key, value in override.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    with pytest.raises(ConfigError) as info:
        parse_settings(env)
    assert any(p.startswith(variable) for p in info.value.problems), info.value.problems


def test_every_problem_is_reported_at_once():
    env = dict(STEP2_ENV, FTMO_1_RISK_PER_TRADE="2", APEX_MAX_DAILY_LOSS="lots")
    with pytest.raises(ConfigError) as info:
        parse_settings(env)
    assert len(info.value.problems) == 2


def test_valid_overrides_and_hybrid_mode():
    s = parse_settings(dict(STEP2_ENV, NQ_POINT_VALUE="20", YM_POINT_VALUE="5.0", FTMO_DRY_RUN="false"))
    assert s.point_value_overrides == {"NQ": Decimal("20"), "YM": Decimal("5.0")}
    assert s.firms["FTMO"].dry_run is False and s.firms["FTMO"].dry_run_source == "FTMO_DRY_RUN"
    assert s.firms["APEX"].dry_run is True


def test_secrets_are_not_in_repr():
    s = parse_settings(dict(STEP2_ENV, WEBHOOK_SECRET="hunter2", FTMO_API_KEY="k-123"))
    assert "hunter2" not in repr(s) and "k-123" not in repr(s)


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("ROUTE_TO_FIRMS=FTMO\nFTMO_PROGRAM_IDS=1\nFTMO_1_ACCOUNT_SIZE=50000\nFTMO_1_RISK_PER_TRADE=0.02\n")
    monkeypatch.setenv("FTMO_1_ACCOUNT_SIZE", "75000")
    s = load_settings(env_file=str(env_file))
    assert s.route_to_firms == ("FTMO",) and s.firms["FTMO"].programs[1].account_size == Decimal("75000")


def test_env_example_is_valid_and_documents_step2():
    from dotenv import dotenv_values

    values = dotenv_values(".env.example")
    for key, value in STEP2_ENV.items():
        assert values.get(key) == value, key
    parse_settings({k: v for k, v in values.items() if v is not None})
