"""Checks on caller-supplied numbers before they reach a statement.

Both backends must refuse the same input the same way, and with the argument's name in the
message, so values are checked here rather than left to the database's own errors.
"""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from database.tables import quantize_price


def exact_price(value: Decimal | float | int | str | None, name: str) -> Decimal | None:
    """Exact, finite price at the stored scale (floats go through their shortest repr)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    try:
        decimal = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not decimal.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return quantize_price(decimal)


def positive_int(value: int, name: str) -> int:
    """``value`` when it is a positive int; a bool is refused (True is not one contract)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value
