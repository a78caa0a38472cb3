"""The words the risk, sizing and breach engines decide with, each defined once.

They are `StrEnum`s: a member equals its text (`VerdictStatus.APPROVED == "APPROVED"`) and
serialises to it, so the JSON stored in execution_logs and read by the dashboard is the same
text it always was, while code that produces a verdict cannot misspell one.
"""
from __future__ import annotations

from enum import StrEnum


class VerdictStatus(StrEnum):
    """APPROVED lets the order through; REJECTED and ERROR both block it. ERROR says the check
    itself could not be trusted (bad input, a crash), so the operator looks at the data, not the trade."""

    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ERROR = "ERROR"


class ReasonCode(StrEnum):
    """What a verdict's `rule` names: the rule that denied, or why no rule could be checked."""

    # risk and breach rules, in the order the engines check them
    MAX_POSITION_SIZE = "MAX_POSITION_SIZE"
    MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
    MAX_TOTAL_LOSS = "MAX_TOTAL_LOSS"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"
    # inputs the risk and breach engines cannot use (status ERROR)
    INVALID_RULE = "INVALID_RULE"
    INVALID_METRIC = "INVALID_METRIC"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    ACCOUNT_SNAPSHOT_UNAVAILABLE = "ACCOUNT_SNAPSHOT_UNAVAILABLE"
    # sizing: why no contract can be sized (status REJECTED)
    NO_ACCOUNT_SIZE = "NO_ACCOUNT_SIZE"
    INVALID_ACCOUNT_SIZE = "INVALID_ACCOUNT_SIZE"
    INVALID_RISK_PER_TRADE = "INVALID_RISK_PER_TRADE"
    INVALID_MAX_CONTRACTS = "INVALID_MAX_CONTRACTS"
    INVALID_POSITION_CAPACITY = "INVALID_POSITION_CAPACITY"
    INVALID_ORDER_CEILING = "INVALID_ORDER_CEILING"
    MISSING_PRICE = "MISSING_PRICE"
    INVALID_PRICE = "INVALID_PRICE"
    ZERO_STOP_DISTANCE = "ZERO_STOP_DISTANCE"
    STOP_INSIDE_ONE_TICK = "STOP_INSIDE_ONE_TICK"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_POINT_VALUE = "INVALID_POINT_VALUE"
    BELOW_ONE_CONTRACT = "BELOW_ONE_CONTRACT"
    POSITION_CAPACITY_EXHAUSTED = "POSITION_CAPACITY_EXHAUSTED"
    MAX_CONTRACTS_ZERO = "MAX_CONTRACTS_ZERO"
    NO_STOP_LOSS = "NO_STOP_LOSS"
    NO_ALERT_QUANTITY = "NO_ALERT_QUANTITY"
    NO_FIXED_CONTRACTS = "NO_FIXED_CONTRACTS"
    NO_LOSS_ROOM = "NO_LOSS_ROOM"
    INVALID_SIZING_MODE = "INVALID_SIZING_MODE"
    INVALID_QUANTITY_MULTIPLIER = "INVALID_QUANTITY_MULTIPLIER"
    INVALID_ALERT_QUANTITY = "INVALID_ALERT_QUANTITY"
    # any engine: the check raised (status ERROR)
    ENGINE_ERROR = "ENGINE_ERROR"
