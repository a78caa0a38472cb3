"""`flask --app web_server check-config` as the operator runs it: a real process, a real
environment. Invalid configuration prints only the problems, one per line, and exits 1."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import STEP2_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_FIRM = "ROUTE_TO_FIRMS: unknown firm 'NOPE'; known firms: FTMO, APEX, TOPSTEP, BULENOX, LEELOO"
BAD_RISK = ("FTMO_1_RISK_PER_TRADE='abc': must be a fraction between 0 and 1, e.g. 0.01 for 1% "
            "(Input should be a valid decimal)")


def check_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The command run from an empty directory (no .env) with only `env` and STEP2_ENV set."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT),
                **STEP2_ENV, "SQLITE_PATH": str(tmp_path / "router.db"), **env}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "web_server", "check-config"], cwd=tmp_path,
                          env=full_env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "lines"), [
    ({"FTMO_1_RISK_PER_TRADE": "abc"}, [BAD_RISK]),
    ({"ROUTE_TO_FIRMS": "FTMO,NOPE"}, [UNKNOWN_FIRM]),
    ({"ROUTE_TO_FIRMS": "FTMO,NOPE", "FTMO_1_RISK_PER_TRADE": "abc"}, [UNKNOWN_FIRM, BAD_RISK]),
    ({"EXECUTION_DRY_RUN": "false", "ROUTE_TO_FIRMS": "BULENOX", "BULENOX_PROGRAM_IDS": "1",
      "BULENOX_1_ACCOUNT_SIZE": "50000", "BULENOX_1_RISK_PER_TRADE": "0.01"},
     ["WEBHOOK_SECRET: required when any firm routes live (EXECUTION_DRY_RUN=false or {FIRM}_DRY_RUN=false)",
      "EXECUTION_DRY_RUN: BULENOX is routed live but has no order connector. BULENOX trades on Rithmic, which has no "
      "public REST API: metadata only, place orders by hand. Set BULENOX_DRY_RUN=true or remove it from "
      "ROUTE_TO_FIRMS."]),
    ({"ROUTES": "strategy:NQ_FVG_CORE=FTMO.1,TOPSTEP.1"},
     ["ROUTES: TOPSTEP.1 in rule 'strategy:NQ_FVG_CORE=FTMO.1,TOPSTEP.1' is not configured: TOPSTEP is not in "
      "ROUTE_TO_FIRMS"]),
    ({"APEX_1_SIZING_MODE": "FIXED"}, ["APEX_1_FIXED_CONTRACTS: required, because APEX_1_SIZING_MODE=FIXED"]),
])
def test_invalid_configuration_prints_only_its_problems_and_exits_1(tmp_path, env, lines):
    done = check_config(tmp_path, **env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == lines
    assert done.stdout == ""


def test_valid_configuration_prints_the_routing_table_and_exits_0(tmp_path):
    done = check_config(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    table = done.stdout.splitlines()
    assert table[0] == "Global mode: DRY-RUN (EXECUTION_DRY_RUN)"
    assert "Routed firms: FTMO, APEX" in table
    assert any(line.startswith("FTMO  mode=DRY-RUN") for line in table)
    assert any(line.startswith("APEX  mode=DRY-RUN") for line in table)


def test_the_routing_table_shows_every_route_in_order_and_each_programs_sizing_mode(tmp_path):
    done = check_config(tmp_path, ROUTES="strategy:NQ_FVG_CORE=FTMO.1,APEX.1; symbol:es=APEX.1",
                        APEX_1_SIZING_MODE="ALERT", APEX_1_QUANTITY_MULTIPLIER="0.5")
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("\n\n")
    assert ("Routes (ROUTES; the first matching rule wins):\n"
            "  strategy:NQ_FVG_CORE  -> FTMO.1, APEX.1\n"
            "  symbol:ES             -> APEX.1\n"
            "  (no rule matches)     -> FTMO.1, APEX.1 (ROUTE_TO_FIRMS)") in table
    ftmo, apex = (next(part for part in table if part.startswith(code)) for code in ("FTMO", "APEX"))
    assert "    sizing_mode                    RISK  (default)" in ftmo.splitlines()
    assert ["    sizing_mode                   ALERT  APEX_1_SIZING_MODE",
            "    quantity_multiplier             0.5  APEX_1_QUANTITY_MULTIPLIER",
            "    allow_no_stop                 false  (default)"] == apex.splitlines()[-3:]


def test_without_routes_the_table_says_every_signal_goes_to_route_to_firms(tmp_path):
    done = check_config(tmp_path)
    assert "Routes: every signal -> FTMO.1, APEX.1 (ROUTE_TO_FIRMS; ROUTES not set)" in done.stdout.splitlines()
