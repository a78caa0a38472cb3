"""Pre-trade risk checks for one prop firm: a pure function from rules + signal + metrics to a result.

Rules run in order MAX_POSITION_SIZE, MAX_DAILY_LOSS, MAX_TOTAL_LOSS; the first failing rule
wins. A rule that is missing or None is disabled (as in the guide); a metric that is missing is
"no data" and its rule passes.

Fail closed (DESIGN.md Decision 1). The original guide returned APPROVED when a check raised and
parsed bad values "with fallbacks". Here every input is parsed before any rule runs, and a rule
value, metric or contract count that is unparseable, NaN, infinite, a bool, negative (limits and
counts) or fractional (counts) gives status ERROR (`INVALID_RULE`, `INVALID_METRIC`,
`INVALID_PAYLOAD`); any exception gives ERROR with `ENGINE_ERROR`. ERROR blocks the order like
REJECTED does, but tells the operator the check itself could not be trusted. A value that is
present but broken is an error even if no enabled rule reads it: it means the data feeding the
router is broken. Loss limits must be positive; 0 is treated as a misconfiguration.

Boundaries:
- A loss exactly equal to max_daily_loss / max_total_loss REJECTS ("reaches"): the account has
  no room left, and any further adverse tick on a new position breaches the firm's limit.
- A position exactly equal to max_position_size is APPROVED (10 of 10 is allowed): the firm's
  limit is the largest size it permits, not one past it.

Money is compared as Decimal; see `engine_common.numbers`.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from engine_common.loss_limits import check_loss_limit
from engine_common.numbers import (
    InvalidInput,
    as_mapping,
    describe_exception,
    parse_count,
    parse_decimal,
    parse_positive_decimal,
    read_number,
)

APPROVED = "APPROVED"
REJECTED = "REJECTED"
ERROR = "ERROR"

MAX_POSITION_SIZE = "MAX_POSITION_SIZE"
MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
MAX_TOTAL_LOSS = "MAX_TOTAL_LOSS"
INVALID_RULE = "INVALID_RULE"
INVALID_METRIC = "INVALID_METRIC"
INVALID_PAYLOAD = "INVALID_PAYLOAD"
ENGINE_ERROR = "ENGINE_ERROR"


@dataclass(frozen=True)
class RiskResult:
    """Outcome of the risk checks for one firm; approval carries no rule, reason or details."""

    firm_code: str
    status: str
    rule: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None

    @property
    def approved(self) -> bool:
        return self.status == APPROVED

    def to_dict(self) -> dict[str, Any]:
        return {
            "firm_code": self.firm_code,
            "status": self.status,
            "rule": self.rule,
            "reason": self.reason,
            "details": dict(self.details) if self.details is not None else None,
        }


@dataclass(frozen=True)
class _Inputs:
    max_position_size: int | None
    max_daily_loss: Decimal | None
    max_total_loss: Decimal | None
    requested: int
    open_contracts: int
    day_pl: Decimal | None
    total_pl: Decimal | None


def evaluate_risk(
    firm_code: str,
    risk_rules: Mapping[str, Any] | None,
    task_payload: Mapping[str, Any] | None,
    account_metrics: Mapping[str, Any] | None = None,
) -> RiskResult:
    """Check one entry signal against one firm's risk rules; never raises, never approves on error."""
    try:
        inputs = _parse_inputs(risk_rules, task_payload, account_metrics)
        for check in (_check_max_position_size, _check_max_daily_loss, _check_max_total_loss):
            rejection = check(firm_code, inputs)
            if rejection is not None:
                return rejection
        return RiskResult(firm_code=firm_code, status=APPROVED)
    except InvalidInput as exc:
        return RiskResult(firm_code, ERROR, exc.rule, exc.reason, exc.details)
    except Exception as exc:  # fail closed: a crashed check is never a green light
        error = describe_exception(exc)
        return RiskResult(
            firm_code, ERROR, ENGINE_ERROR, f"Risk engine failed: {error}.", {"error": error}
        )


def _parse_inputs(
    risk_rules: object, task_payload: object, account_metrics: object
) -> _Inputs:
    rules = as_mapping(risk_rules, "risk_rules")
    payload = as_mapping(task_payload, "task_payload")
    metrics = as_mapping(account_metrics, "account_metrics")

    def rule(key: str, parser: Any) -> Any:
        return read_number(rules, key, parser, rule=INVALID_RULE, subject="Risk rule")

    def metric(key: str, parser: Any) -> Any:
        return read_number(metrics, key, parser, rule=INVALID_METRIC, subject="Account metric")

    requested = read_number(
        payload, "contracts", parse_count, rule=INVALID_PAYLOAD, subject="Signal field"
    )
    return _Inputs(
        max_position_size=rule("max_position_size", parse_count),
        max_daily_loss=rule("max_daily_loss", parse_positive_decimal),
        max_total_loss=rule("max_total_loss", parse_positive_decimal),
        requested=requested or 0,
        open_contracts=metric("open_contracts", parse_count) or 0,
        day_pl=metric("day_pl", parse_decimal),
        total_pl=metric("total_pl", parse_decimal),
    )


def _check_max_position_size(firm_code: str, inputs: _Inputs) -> RiskResult | None:
    limit = inputs.max_position_size
    if limit is None:
        return None
    requested, open_contracts = inputs.requested, inputs.open_contracts
    if requested + open_contracts <= limit:
        return None
    noun = "contract" if requested == 1 else "contracts"
    opened = f" plus {open_contracts} open" if open_contracts else ""
    details: dict[str, Any] = {"requested_contracts": requested, "max_position_size": limit}
    if open_contracts:
        details["open_contracts"] = open_contracts
    return RiskResult(
        firm_code,
        REJECTED,
        MAX_POSITION_SIZE,
        f"Requested {requested} {noun}{opened} exceeds max_position_size {limit}.",
        details,
    )


def _check_max_daily_loss(firm_code: str, inputs: _Inputs) -> RiskResult | None:
    return _loss_check(
        firm_code, MAX_DAILY_LOSS, "Daily loss", "day_pl", inputs.day_pl,
        "max_daily_loss", inputs.max_daily_loss,
    )


def _check_max_total_loss(firm_code: str, inputs: _Inputs) -> RiskResult | None:
    return _loss_check(
        firm_code, MAX_TOTAL_LOSS, "Total loss", "total_pl", inputs.total_pl,
        "max_total_loss", inputs.max_total_loss,
    )


def _loss_check(
    firm_code: str,
    rule: str,
    label: str,
    metric_key: str,
    pl: Decimal | None,
    limit_key: str,
    limit: Decimal | None,
) -> RiskResult | None:
    if limit is None or pl is None:  # rule disabled, or no data for it
        return None
    breach = check_loss_limit(
        rule=rule, label=label, metric_key=metric_key, pl=pl, limit_key=limit_key, limit=limit
    )
    if breach is None:
        return None
    return RiskResult(firm_code, REJECTED, breach.rule, breach.reason, breach.details)
