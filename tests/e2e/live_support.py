"""Shared set-up for live-mode tests: the firm simulator and an environment routing to it."""
from __future__ import annotations

import json

import pytest

from simulator import DEFAULT_CREDENTIALS, Simulator

WEBHOOK = "/api/automated-signals/webhook"
WEBHOOK_SECRET = "whsec-live-test-4242"

ENTRY = {"event_type": "SIGNAL_CREATED", "trade_id": "20251122_143000_BULLISH", "direction": "Bullish",
         "entry_price": 16500.0, "stop_loss": 16475.0, "symbol": "NQ1!"}
EXIT = {"event_type": "EXIT_STOP_LOSS", "trade_id": ENTRY["trade_id"], "exit_price": 16475.0}


def live_env(url: str, **overrides: str) -> dict[str, str]:
    """Every firm live against the simulator, with the guide's Step 2 sizing plus TOPSTEP."""
    env = {
        "EXECUTION_DRY_RUN": "false", "WEBHOOK_SECRET": WEBHOOK_SECRET, "ROUTE_TO_FIRMS": "FTMO,APEX,TOPSTEP",
        "FTMO_API_URL": url, "FTMO_ACCOUNT_ID": "sim-mt5-1", "FTMO_SYMBOL_MAP": "NQ:US100.cash,ES:US500.cash",
        "FTMO_1_LOTS_PER_CONTRACT": "20",
        "APEX_API_URL": url + "/v1", "APEX_ACCOUNT_ID": "201", "APEX_ALLOW_AUTOMATION": "true",
        # These tests' subject is the order path, not Apex's stop-and-target rule (test_firm_rules_live.py).
        "APEX_REQUIRE_STOP_AND_TARGET": "false",
        "TOPSTEP_API_URL": url, "TOPSTEP_ACCOUNT_ID": "301", "TOPSTEP_ALLOW_AUTOMATION": "true",
        "TOPSTEP_PROGRAM_IDS": "1", "TOPSTEP_1_ACCOUNT_SIZE": "50000", "TOPSTEP_1_RISK_PER_TRADE": "0.01",
        "TOPSTEP_1_MAX_CONTRACTS": "5",
        **DEFAULT_CREDENTIALS,
    }
    env.update(overrides)
    return env


def post(client, payload):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json",
                       headers={"X-Webhook-Secret": WEBHOOK_SECRET})


def by_firm(items):
    return {i["firm_code"]: i for i in items}


@pytest.fixture
def backend():
    """Live routing is exercised on PostgreSQL, the production store (overrides the conftest's
    sqlite/postgresql parametrisation in the modules that import it)."""
    return "postgresql"


@pytest.fixture
def sim():
    """The firms' API simulator on a free 127.0.0.1 port."""
    simulator = Simulator()
    simulator.start(0)
    yield simulator
    simulator.stop()
