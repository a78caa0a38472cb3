"""Pre-trade risk checks for one prop firm: a pure function from rules + signal + metrics to a result.

Rules run in order MAX_POSITION_SIZE, MAX_DAILY_LOSS, MAX_TOTAL_LOSS; the first failing rule
wins. A rule that is missing or None is disabled (as in the guide); a metric that is missing is
"no data" and its rule passes.

Fail closed (docs/design.md Decision 1). The original guide returned APPROVED when a check raised and
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
from functools import partial
from typing import Any, Mapping

from engine_common.loss_limits import check_loss_limit
from engine_common.numbers import as_mapping, parse_count, parse_decimal, read_number
from engine_common.rules import RiskRules
from engine_common.statuses import ReasonCode, VerdictStatus
from engine_common.verdict import Denial, Verdict, fail_closed, rejected


@dataclass(frozen=True)
class _Inputs:
    rules: RiskRules
    requested: int
    open_contracts: int
    day_pl: Decimal | None
    total_pl: Decimal | None


def evaluate_risk(
    firm_code: str,
    risk_rules: RiskRules | Mapping[str, Any] | None,
    task_payload: Mapping[str, Any] | None,
    account_metrics: Mapping[str, Any] | None = None,
) -> Verdict:
    """Check one entry signal against one firm's risk rules; never raises, never approves on error."""
    verdict = partial(Verdict, firm_code=firm_code)

    def decide() -> Verdict:
        inputs = _parse_inputs(risk_rules, task_payload, account_metrics)
        for check in (_check_max_position_size, _check_max_daily_loss, _check_max_total_loss):
            denial = check(inputs)
            if denial is not None:
                return rejected(verdict, denial)
        return verdict(status=VerdictStatus.APPROVED)

    return fail_closed(verdict, "Risk engine", decide)


def _parse_inputs(risk_rules: object, task_payload: object, account_metrics: object) -> _Inputs:
    rules = RiskRules.coerce(risk_rules)  # type: ignore[arg-type]
    payload = as_mapping(task_payload, "task_payload")
    metrics = as_mapping(account_metrics, "account_metrics")

    def metric(key: str, parser: Any) -> Any:
        return read_number(metrics, key, parser, rule=ReasonCode.INVALID_METRIC, subject="Account metric")

    requested = read_number(
        payload, "contracts", parse_count, rule=ReasonCode.INVALID_PAYLOAD, subject="Signal field"
    )
    return _Inputs(
        rules=rules,
        requested=requested or 0,
        open_contracts=metric("open_contracts", parse_count) or 0,
        day_pl=metric("day_pl", parse_decimal),
        total_pl=metric("total_pl", parse_decimal),
    )


def _check_max_position_size(inputs: _Inputs) -> Denial | None:
    limit = inputs.rules.max_position_size
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
    return Denial(
        rule=ReasonCode.MAX_POSITION_SIZE,
        reason=f"Requested {requested} {noun}{opened} exceeds max_position_size {limit}.",
        details=details,
    )


def _check_max_daily_loss(inputs: _Inputs) -> Denial | None:
    return _loss_check(
        ReasonCode.MAX_DAILY_LOSS, "Daily loss", "day_pl", inputs.day_pl,
        "max_daily_loss", inputs.rules.max_daily_loss,
    )


def _check_max_total_loss(inputs: _Inputs) -> Denial | None:
    return _loss_check(
        ReasonCode.MAX_TOTAL_LOSS, "Total loss", "total_pl", inputs.total_pl,
        "max_total_loss", inputs.rules.max_total_loss,
    )


def _loss_check(
    rule: ReasonCode,
    label: str,
    metric_key: str,
    pl: Decimal | None,
    limit_key: str,
    limit: Decimal | None,
) -> Denial | None:
    if limit is None or pl is None:  # rule disabled, or no data for it
        return None
    return check_loss_limit(
        rule=rule, label=label, metric_key=metric_key, pl=pl, limit_key=limit_key, limit=limit
    )
