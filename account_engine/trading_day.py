"""Trading-day boundaries per firm, correct across daylight-saving changes.

Prop firms reset daily loss at a local wall-clock time in their own zone (FTMO midnight
Europe/Prague, Apex 18:00 America/New_York, CME firms 17:00 America/Chicago). The boundary is
computed in that zone with zoneinfo, never as a fixed UTC offset, so it moves with DST.
Pure functions: `now` comes in, nothing is read from the clock.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def _aware_utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc)


def trading_day_start(now: datetime, start: time, tz_name: str) -> datetime:
    """UTC instant at which the trading day containing `now` began."""
    zone = ZoneInfo(tz_name)
    local = _aware_utc(now).astimezone(zone)
    candidate = datetime.combine(local.date(), start, tzinfo=zone)
    if candidate > local:
        candidate = datetime.combine(local.date() - timedelta(days=1), start, tzinfo=zone)
    return candidate.astimezone(timezone.utc)


def next_trading_day_start(now: datetime, start: time, tz_name: str) -> datetime:
    """UTC instant at which the next trading day begins (after `now`)."""
    zone = ZoneInfo(tz_name)
    begun = trading_day_start(now, start, tz_name).astimezone(zone)
    nxt = datetime.combine(begun.date() + timedelta(days=1), start, tzinfo=zone)
    return nxt.astimezone(timezone.utc)
