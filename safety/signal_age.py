"""An entry is never sent late: past MAX_SIGNAL_AGE_SECONDS after its webhook arrived, it is refused.

Why: a signal held up - a database lock, a stalled network, a crashed worker whose task is
recovered - may finally be processed seconds or minutes after TradingView sent it. An entry
sent then trades a price the strategy never saw; not trading is the lesser harm (docs/design.md
Decision 10). Exits are never refused for age: a late exit still takes risk off.

The receipt (when the webhook received the signal, measured on the router's clock before any
database work) is carried in a context variable from `ExecutionRouter.route` - or, for a task
recovered later, from the task's ``created_at`` - to the two places that check it: the guard,
before any position is reserved (safety/guard.py), and the dispatcher, right before each entry
order is sent (connectors/dispatch.py), so time lost reserving and journalling counts too.
Connector threads run in a copy of the request's context and see the same receipt.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator

from safety.limits import LimitVerdict

SIGNAL_TOO_OLD = "SIGNAL_TOO_OLD"
AGE_RULE = "MAX_SIGNAL_AGE_SECONDS"


@dataclass(frozen=True)
class SignalReceipt:
    """When the signal being processed was received, and how old an entry may get."""

    received_at: dt.datetime
    max_age_seconds: int
    clock: Callable[[], dt.datetime]

    def age_seconds(self) -> float:
        return (self.clock() - self.received_at).total_seconds()

    def verdict(self) -> LimitVerdict | None:
        """The refusal when an entry of this signal may no longer be sent, else None."""
        return check_signal_age(self.age_seconds(), self.max_age_seconds)


def check_signal_age(age_seconds: float, max_age_seconds: int) -> LimitVerdict | None:
    if age_seconds <= max_age_seconds:
        return None
    return LimitVerdict(
        AGE_RULE, SIGNAL_TOO_OLD,
        f"Signal received {age_seconds:.1f} s ago, over the limit of {max_age_seconds} s "
        f"({AGE_RULE}): the entry is not sent late.",
    )


_current: ContextVar[SignalReceipt | None] = ContextVar("signal_receipt", default=None)


@contextmanager
def receipt(value: SignalReceipt) -> Iterator[SignalReceipt]:
    """Process the block's signal under `value` (the router per request, recovery per task)."""
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def entry_refusal() -> LimitVerdict | None:
    """The current signal's age refusal, or None (also when no receipt is set: nothing to judge)."""
    current = _current.get()
    return None if current is None else current.verdict()
