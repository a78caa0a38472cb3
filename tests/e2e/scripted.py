"""A scripted clock for tests that play a trading day: set `now`, the router reads it."""
from __future__ import annotations

from datetime import datetime


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
