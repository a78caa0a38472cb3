"""What an account may still lose before its tightest loss limit: shared by size-to-room (which
caps an entry by it) and the account guard (which flattens when it runs low), so both measure
the same room."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from engine_common.rules import BreachRules


def loss_room(metrics: Mapping[str, Any], limits: BreachRules) -> tuple[Decimal, str] | None:
    """The room and the limit that leaves the least: the daily loss limit less today's loss (a
    profit adds room, as the firms measure the day), the total loss limit less the total loss,
    the drawdown limit less the drawdown. None: no limit set."""
    def figure(name: str) -> Decimal:
        return Decimal(str(metrics.get(name) or 0))

    rooms = [(limit + figure(name), rule) for limit, name, rule in (
        (limits.max_daily_loss, "day_pl", "MAX_DAILY_LOSS"),
        (limits.max_total_loss, "total_pl", "MAX_TOTAL_LOSS"),
        (limits.max_drawdown, "drawdown", "MAX_DRAWDOWN"),
    ) if limit is not None]
    return min(rooms, key=lambda room: room[0]) if rooms else None
