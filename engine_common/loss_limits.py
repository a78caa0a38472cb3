"""The loss-limit check shared by the risk engine and the account breach engine.

Boundary: a loss exactly equal to the limit is a breach ("reaches"). At that point the account
has no room left, so the next adverse tick of any new position would cross the firm's limit;
prop firms fail an account at "hit or exceed" the limit, so we stop opening at equality.
"""
from __future__ import annotations

from decimal import Decimal

from engine_common.numbers import format_amount, to_float
from engine_common.statuses import ReasonCode
from engine_common.verdict import Denial


def check_loss_limit(
    *, rule: ReasonCode, label: str, metric_key: str, pl: Decimal, limit_key: str, limit: Decimal
) -> Denial | None:
    """Breach when the loss in `pl` (negative = loss) is at least `limit` (positive dollars)."""
    loss = -pl if pl < 0 else Decimal(0)
    if loss < limit:
        return None
    verb = "exceeds" if loss > limit else "reaches"
    return Denial(
        rule=rule,
        reason=f"{label} {format_amount(pl)} {verb} {limit_key} {format_amount(limit)}.",
        details={metric_key: to_float(pl), limit_key: to_float(limit)},
    )
