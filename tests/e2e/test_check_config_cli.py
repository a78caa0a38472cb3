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
