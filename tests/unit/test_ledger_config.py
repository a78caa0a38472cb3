"""The account-state settings: drawdown mode per program, snapshot policy per firm."""
from __future__ import annotations

import pytest

from config import ConfigError, parse_settings
from config.report import routing_table
from tests.conftest import STEP2_ENV


def test_defaults_are_trailing_drawdown_and_blocking_snapshots():
    settings = parse_settings(STEP2_ENV)
    assert settings.firms["FTMO"].programs[1].drawdown_mode == "TRAILING"
    assert (settings.firms["APEX"].snapshot_policy, settings.firms["APEX"].snapshot_max_age_seconds) == ("BLOCK", 60)


def test_values_are_read_case_insensitively_and_shown_by_check_config():
    settings = parse_settings(dict(STEP2_ENV, APEX_1_DRAWDOWN_MODE="trailing_until_start",
                                   APEX_SNAPSHOT_POLICY="ledger", APEX_SNAPSHOT_MAX_AGE_SECONDS="15"))
    assert settings.firms["APEX"].programs[1].drawdown_mode == "TRAILING_UNTIL_START"
    assert (settings.firms["APEX"].snapshot_policy, settings.firms["APEX"].snapshot_max_age_seconds) == ("LEDGER", 15)
    table = routing_table(settings)
    assert "TRAILING_UNTIL_START  APEX_1_DRAWDOWN_MODE" in table and "stale after 15s" in table


@pytest.mark.parametrize("name, value", [
    ("FTMO_1_DRAWDOWN_MODE", "TRAILNG"),
    ("FTMO_SNAPSHOT_POLICY", "IGNORE"),
    ("FTMO_SNAPSHOT_MAX_AGE_SECONDS", "0"),
    ("FTMO_SNAPSHOT_MAX_AGE_SECONDS", "soon"),
])
def test_bad_values_stop_start_up_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        parse_settings(dict(STEP2_ENV, **{name: value}))
    assert any(p.startswith(f"{name}=") for p in info.value.problems)
