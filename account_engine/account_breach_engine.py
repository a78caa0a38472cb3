"""Account breach checks for one firm/program: a pure function from metrics + rules to a result.

Rules run in order MAX_DAILY_LOSS, MAX_TOTAL_LOSS, MAX_DRAWDOWN; the first breached rule wins.
As in the guide, a rule that is missing or None is disabled, and missing metrics (no metrics at
all, or one metric absent) mean "no data": that rule passes.

Fail closed (DESIGN.md Decision 1). The guide returned APPROVED when the engine raised; here a
rule value that is unparseable, NaN, infinite, a bool or not positive gives status ERROR with
`INVALID_RULE`, an unparseable metric gives ERROR with `INVALID_METRIC`, and any exception gives
ERROR with `ENGINE_ERROR`. ERROR blocks the order: an account whose state we cannot read must not
be traded as if it were healthy. All inputs are parsed before any rule runs.

Boundary: a loss or drawdown exactly equal to its limit is a breach ("reaches", REJECTED), the
same decision as the risk engine: with no room left, the next adverse tick breaches the firm's
limit. Drawdown may arrive negative (-1500) or as a positive magnitude (1500); its magnitude is
used and it is reported as a negative number, like the P&L figures.
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
    parse_decimal,
    parse_positive_decimal,
    read_number,
)

APPROVED = "APPROVED"
REJECTED = "REJECTED"
ERROR = "ERROR"

MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
MAX_TOTAL_LOSS = "MAX_TOTAL_LOSS"
MAX_DRAWDOWN = "MAX_DRAWDOWN"
INVALID_RULE = "INVALID_RULE"
INVALID_METRIC = "INVALID_METRIC"
ENGINE_ERROR = "ENGINE_ERROR"

# (rule, reason label, metric key, limit key), in evaluation order.
_CHECKS = (
    (MAX_DAILY_LOSS, "Daily loss", "day_pl", "max_daily_loss"),
    (MAX_TOTAL_LOSS, "Total loss", "total_pl", "max_total_loss"),
    (MAX_DRAWDOWN, "Drawdown", "drawdown", "max_drawdown"),
)


@dataclass(frozen=True)
class BreachResult:
    """Outcome of the breach checks for one firm/program; approval has no rule/reason/details."""

    firm_code: str
    program_id: Any
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
            "program_id": self.program_id,
            "status": self.status,
            "rule": self.rule,
            "reason": self.reason,
            "details": dict(self.details) if self.details is not None else None,
        }


def evaluate_account_breach(
    firm_code: str,
    program_id: Any,
    account_metrics: Mapping[str, Any] | None,
    breach_rules: Mapping[str, Any] | None,
) -> BreachResult:
    """Check one account's metrics against its breach rules; never raises, never approves on error."""
    try:
        limits, values = _parse_inputs(account_metrics, breach_rules)
        for rule, label, metric_key, limit_key in _CHECKS:
            limit, pl = limits[limit_key], values[metric_key]
            if limit is None or pl is None:  # rule disabled, or no data for it
                continue
            breach = check_loss_limit(
                rule=rule, label=label, metric_key=metric_key, pl=pl,
                limit_key=limit_key, limit=limit,
            )
            if breach is not None:
                return BreachResult(
                    firm_code, program_id, REJECTED, breach.rule, breach.reason, breach.details
                )
        return BreachResult(firm_code=firm_code, program_id=program_id, status=APPROVED)
    except InvalidInput as exc:
        return BreachResult(firm_code, program_id, ERROR, exc.rule, exc.reason, exc.details)
    except Exception as exc:  # fail closed: a crashed check is never a green light
        error = describe_exception(exc)
        return BreachResult(
            firm_code, program_id, ERROR, ENGINE_ERROR,
            f"Account breach engine failed: {error}.", {"error": error},
        )


def _parse_inputs(
    account_metrics: object, breach_rules: object
) -> tuple[dict[str, Decimal | None], dict[str, Decimal | None]]:
    rules = as_mapping(breach_rules, "breach_rules")
    metrics = as_mapping(account_metrics, "account_metrics")
    limits = {
        limit_key: read_number(
            rules, limit_key, parse_positive_decimal, rule=INVALID_RULE, subject="Breach rule"
        )
        for _, _, _, limit_key in _CHECKS
    }
    values = {
        metric_key: read_number(
            metrics, metric_key, parse_decimal, rule=INVALID_METRIC, subject="Account metric"
        )
        for _, _, metric_key, _ in _CHECKS
    }
    drawdown = values["drawdown"]
    if drawdown is not None:
        values["drawdown"] = -abs(drawdown)  # sign conventions differ; the magnitude is the loss
    return limits, values
