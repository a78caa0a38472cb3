"""Live start-up checks: refuse to start, naming every missing or bad variable."""
from __future__ import annotations

import logging

from pydantic import SecretStr

from config import parse_settings
from simulator import DEFAULT_CREDENTIALS
from tests.conftest import STEP2_ENV
from tests.e2e.live_support import live_env
from web_server import startup_problems

URL = "http://127.0.0.1:9"


def problems(**env: str) -> list[str]:
    return startup_problems(parse_settings({k: v for k, v in {**STEP2_ENV, **env}.items() if v}))


def test_complete_live_configuration_starts():
    assert problems(**live_env(URL)) == []


def test_live_without_secret_or_credentials_names_every_missing_variable():
    found = problems(EXECUTION_DRY_RUN="false", ROUTE_TO_FIRMS="FTMO,APEX")
    text = "\n".join(found)
    for name in ("WEBHOOK_SECRET", "FTMO_API_URL", "FTMO_API_KEY", "FTMO_1_ACCOUNT_ID", "FTMO_SYMBOL_MAP",
                 "FTMO_1_LOTS_PER_CONTRACT", "APEX_USERNAME", "APEX_PASSWORD", "APEX_APP_ID", "APEX_CID",
                 "APEX_API_SECRET", "APEX_1_ACCOUNT_ID", "APEX_ALLOW_AUTOMATION"):
        assert f"{name}" in text, name
    assert found[0].startswith("WEBHOOK_SECRET: required")


def test_dry_run_firms_need_no_credentials():
    env = {k: v for k, v in live_env(URL, EXECUTION_DRY_RUN="true", APEX_DRY_RUN="false").items()
           if not k.startswith(("FTMO_API", "TOPSTEP_API"))}
    assert problems(**env) == []


def test_malformed_live_values_are_named():
    found = problems(**live_env(URL, FTMO_SYMBOL_MAP="NQ=US100", FTMO_1_LOTS_PER_CONTRACT="-2",
                                APEX_ACCOUNT_ID="abc", TOPSTEP_API_URL="ftp://x"))
    text = "\n".join(found)
    assert "FTMO_SYMBOL_MAP: 'NQ=US100' is not ROOT:SYMBOL" in text
    assert "FTMO_1_LOTS_PER_CONTRACT: '-2' must be a positive number" in text
    assert "APEX_1_ACCOUNT_ID='abc': must be the firm's numeric account id" in text
    assert "TOPSTEP_API_URL='ftp://x': must start with http:// or https://" in text


def test_automation_restricted_firm_needs_explicit_opt_in_and_warns(caplog):
    refused = problems(**live_env(URL, APEX_ALLOW_AUTOMATION="", TOPSTEP_ALLOW_AUTOMATION=""))
    assert any(p.startswith("APEX_ALLOW_AUTOMATION: Apex Trader Funding's rules (FORBIDDEN)") for p in refused)
    assert any(p.startswith("TOPSTEP_ALLOW_AUTOMATION:") for p in refused)
    caplog.set_level(logging.WARNING)
    assert problems(**live_env(URL)) == []
    assert "APEX is routed live although its rules (FORBIDDEN)" in caplog.text


def test_rithmic_firms_cannot_go_live_and_say_why():
    found = problems(**live_env(URL, ROUTE_TO_FIRMS="BULENOX", BULENOX_PROGRAM_IDS="1",
                                BULENOX_1_ACCOUNT_SIZE="50000", BULENOX_1_RISK_PER_TRADE="0.01"))
    assert len(found) == 1 and "Rithmic, which has no public REST API" in found[0]


def test_credentials_are_secrets_in_settings():
    firm = parse_settings({**STEP2_ENV, **live_env(URL)}).firms["APEX"]
    assert {"PASSWORD", "API_SECRET"} <= set(firm.secrets)
    assert isinstance(firm.live.password, SecretStr) and isinstance(firm.live.api_secret, SecretStr)
    assert DEFAULT_CREDENTIALS["APEX_PASSWORD"] not in repr(firm)


def test_two_apex_or_topstep_programs_on_one_account_are_refused_unless_accepted():
    """APEX/TOPSTEP net by account and contract: program 2's exit would close program 1's contracts."""
    shared = dict(APEX_PROGRAM_IDS="1,2", APEX_2_ACCOUNT_SIZE="150000", APEX_2_RISK_PER_TRADE="0.01",
                  APEX_2_MAX_CONTRACTS="10")
    found = problems(**live_env(URL, **shared))  # both fall back to APEX_ACCOUNT_ID=201
    (line,) = [p for p in found if "share" in p]
    assert line.startswith("APEX_1_ACCOUNT_ID: programs 1, 2 share APEX account 201.")
    assert "APEX_1_ACCOUNT_ID, APEX_2_ACCOUNT_ID" in line and "APEX_ALLOW_SHARED_ACCOUNT=true" in line
    assert problems(**live_env(URL, **shared, APEX_2_ACCOUNT_ID="202")) == []
    assert any("share APEX account 201" in p for p in problems(**live_env(URL, **shared, APEX_2_ACCOUNT_ID="0201")))
    assert problems(**live_env(URL, **shared, APEX_ALLOW_SHARED_ACCOUNT="true")) == []
    # FTMO closes by position id, not by account: sharing is fine there
    assert problems(**live_env(URL, FTMO_PROGRAM_IDS="1,2", FTMO_2_ACCOUNT_SIZE="100000", FTMO_2_RISK_PER_TRADE="0.01",
                               FTMO_2_LOTS_PER_CONTRACT="20", FTMO_2_MAX_CONTRACTS="5")) == []


def test_a_live_program_without_max_contracts_does_not_start():
    """The documented live TOPSTEP setup had only ACCOUNT_SIZE and RISK_PER_TRADE: a stop a hair
    from the entry then sized millions of contracts. A live account needs its own cap."""
    found = problems(**live_env(URL, TOPSTEP_1_MAX_CONTRACTS=""))
    (line,) = [p for p in found if p.startswith("TOPSTEP_1_MAX_CONTRACTS")]
    assert "required to route program 1 live" in line
    dry = {k: v for k, v in live_env(URL, TOPSTEP_1_MAX_CONTRACTS="", TOPSTEP_DRY_RUN="true").items()}
    assert not any(p.startswith("TOPSTEP_1_MAX_CONTRACTS") for p in problems(**dry))  # dry-run needs none
