"""An entry's take-profit target: one price, from a price or a distance from the entry price.

A signal names it one way only - `take_profit` (a price), `take_profit_points` (points from the
entry price) or `take_profit_percent` (percent of the entry price) - since two could disagree and
neither would be the one meant. The resolved price is rounded to the instrument's tick, because
the firms rest it as a limit order (Tradovate's Limit bracket takes an absolute `price`) and an
off-grid price is no price the exchange can fill. It must lie beyond the entry price on the
profit side, and beyond the stop: a target on the losing side is a second stop, one at the entry
fills at once. Pure: the signal model calls it and reports the problems under the field given.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping

TARGET_FIELDS = ("take_profit", "take_profit_points", "take_profit_percent")


def resolve_target(direction: str | None, entry: Decimal | None, stop: Decimal | None,
                   given: Mapping[str, Decimal | None], tick: Decimal | None,
                   max_price: Decimal) -> tuple[Decimal | None, dict[str, str]]:
    """(the target price or None, problems by field). `given` maps TARGET_FIELDS to the
    signal's values; `tick` is the instrument's tick size (None: the symbol is unknown, which
    the signal reports itself)."""
    named = [name for name in TARGET_FIELDS if given.get(name) is not None]
    if not named:
        return None, {}
    if len(named) > 1:
        why = f"give one of {', '.join(TARGET_FIELDS)}, not {' and '.join(named)}"
        return None, {name: why for name in named}
    name = named[0]
    if direction is None or entry is None or tick is None:
        return None, {}  # the missing direction, entry price or symbol is reported for itself
    sign = 1 if direction == "LONG" else -1
    value = given[name]
    assert value is not None
    price = {"take_profit": value, "take_profit_points": entry + sign * value,
             "take_profit_percent": entry * (1 + sign * value / 100)}[name]
    price = (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
    side = "above" if sign == 1 else "below"
    kind = "long (Bullish)" if sign == 1 else "short (Bearish)"
    if not Decimal(0) < price < max_price:
        return None, {name: f"gives a target of {price}, not a price"}
    if (price - entry) * sign <= 0:
        return None, {name: f"must put the target at least one tick ({tick}) {side} entry_price for a {kind} "
                            f"entry (it gives {price})"}
    if stop is not None and (price - stop) * sign <= 0:
        return None, {name: f"must put the target {side} stop_loss for a {kind} entry (it gives {price})"}
    return price, {}
