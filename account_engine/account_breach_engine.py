"""Account breach checks for one firm/program: a pure function from metrics + rules to a result.

Rules run in order MAX_DAILY_LOSS, MAX_TOTAL_LOSS, MAX_DRAWDOWN; the first breached rule wins.
As in the guide, a rule that is missing or None is disabled, and missing metrics (no metrics at
all, or one metric absent) mean "no data": that rule passes.

Fail closed (docs/design.md Decision 1). The guide returned APPROVED when the engine raised; here a
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

from decimal import Decimal
from functools import partial
from typing import Any, Mapping

from engine_common.loss_limits import check_loss_limit
from engine_common.numbers import as_mapping, parse_decimal, read_number
from engine_common.rules import BreachRules
from engine_common.statuses import ReasonCode, VerdictStatus
from engine_common.verdict import ProgramVerdict, fail_closed, rejected

# (rule, reason label, metric key, limit key), in evaluation order.
_CHECKS = (
    (ReasonCode.MAX_DAILY_LOSS, "Daily loss", "day_pl", "max_daily_loss"),
    (ReasonCode.MAX_TOTAL_LOSS, "Total loss", "total_pl", "max_total_loss"),
    (ReasonCode.MAX_DRAWDOWN, "Drawdown", "drawdown", "max_drawdown"),
)


def evaluate_account_breach(
    firm_code: str,
    program_id: Any,
    account_metrics: Mapping[str, Any] | None,
    breach_rules: BreachRules | Mapping[str, Any] | None,
) -> ProgramVerdict:
    """Check one account's metrics against its breach rules; never raises, never approves on error."""
    verdict = partial(ProgramVerdict, firm_code=firm_code, program_id=program_id)

    def decide() -> ProgramVerdict:
        rules = BreachRules.coerce(breach_rules)
        values = _parse_metrics(account_metrics)
        for rule, label, metric_key, limit_key in _CHECKS:
            limit, pl = getattr(rules, limit_key), values[metric_key]
            if limit is None or pl is None:  # rule disabled, or no data for it
                continue
            denial = check_loss_limit(
                rule=rule, label=label, metric_key=metric_key, pl=pl,
                limit_key=limit_key, limit=limit,
            )
            if denial is not None:
                return rejected(verdict, denial)
        return verdict(status=VerdictStatus.APPROVED)

    return fail_closed(verdict, "Account breach engine", decide)


def _parse_metrics(account_metrics: object) -> dict[str, Decimal | None]:
    metrics = as_mapping(account_metrics, "account_metrics")
    values = {
        metric_key: read_number(
            metrics, metric_key, parse_decimal, rule=ReasonCode.INVALID_METRIC, subject="Account metric"
        )
        for _, _, metric_key, _ in _CHECKS
    }
    drawdown = values["drawdown"]
    if drawdown is not None:
        values["drawdown"] = -abs(drawdown)  # sign conventions differ; the magnitude is the loss
    return values
