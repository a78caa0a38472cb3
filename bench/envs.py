"""Environments for `make bench`: the guide's Step 2 configuration and the scaling grid."""
from __future__ import annotations

FIRMS = ("FTMO", "APEX", "TOPSTEP", "BULENOX", "LEELOO")
SECRET = "bench-secret"  # sent as X-Webhook-Secret, as a production deployment would require
SCALING = ((1, 1), (2, 2), (5, 3))  # firms x programs


def step2_env() -> dict[str, str]:
    """The guide's Step 2 variables, verbatim (shared with the test suite)."""
    from tests.conftest import STEP2_ENV

    return dict(STEP2_ENV)


def scaling_env(firms: int, programs: int) -> dict[str, str]:
    """``firms`` x ``programs`` accounts, every one sized and checked on every entry.

    No firm-wide MAX_POSITION_SIZE: with the guide's caps the risk check rejects every entry once
    a few positions are open, and rejected firms skip sizing and breach checks, so the cost of
    more programs would not show. BULENOX and LEELOO have no connector: their programs
    are still risk-checked, sized and breach-checked, then recorded SKIPPED (NO_CONNECTOR).
    """
    if not 1 <= firms <= len(FIRMS) or programs < 1:
        raise ValueError(f"need 1..{len(FIRMS)} firms and at least one program")
    codes = FIRMS[:firms]
    env = {"EXECUTION_DRY_RUN": "true", "ROUTE_TO_FIRMS": ",".join(codes)}
    for code in codes:
        env[f"{code}_PROGRAM_IDS"] = ",".join(str(p) for p in range(1, programs + 1))
        env[f"{code}_MAX_DAILY_LOSS"] = "1000.0"
        env[f"{code}_MAX_TOTAL_LOSS"] = "5000.0"
        for p in range(1, programs + 1):
            env[f"{code}_{p}_ACCOUNT_SIZE"] = "100000.0"
            env[f"{code}_{p}_RISK_PER_TRADE"] = "0.01"
            env[f"{code}_{p}_MAX_CONTRACTS"] = "5"
            env[f"{code}_{p}_MAX_DAILY_LOSS"] = "1000.0"
            env[f"{code}_{p}_MAX_TOTAL_LOSS"] = "5000.0"
            env[f"{code}_{p}_MAX_DRAWDOWN"] = "2000.0"
    return env


def entry_payload(trade_id: str) -> dict[str, object]:
    """The guide's Step 5 curl payload with a given trade_id (same body as webhook.lua)."""
    return {
        "event_type": "SIGNAL_CREATED", "trade_id": trade_id, "direction": "Bullish",
        "entry_price": 16500.0, "stop_loss": 16475.0, "symbol": "NQ",
    }
