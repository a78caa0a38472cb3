"""Times as the dashboard shows them: in the firm's trading-day zone and in UTC, side by side.

A trader reads a firm's day in that firm's zone (Topstep's 17:00 Chicago close, FTMO's
midnight in Prague); the audit trail and the logs are in UTC. Showing both means neither has to
be converted by hand. A time that concerns several firms (a signal's arrival) is shown in the
zone of the first firm in ROUTE_TO_FIRMS. Stored times are aware (UTC); a naive one is UTC.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

UTC = timezone.utc


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def zoned(at: datetime | None, zone: str | None, seconds: bool = True) -> Markup:
    """`<time>` with the local time in `zone` and the UTC time after it (the date only when it differs)."""
    if at is None:
        return Markup('<span class="muted">—</span>')
    fmt = "%H:%M:%S" if seconds else "%H:%M"
    utc = _aware(at).astimezone(UTC)
    if not zone or zone == "UTC":
        return Markup('<time datetime="{}">{} UTC</time>').format(
            utc.isoformat(), utc.strftime(f"%Y-%m-%d {fmt}"))
    local = utc.astimezone(ZoneInfo(zone))
    utc_text = utc.strftime(fmt if utc.date() == local.date() else f"%Y-%m-%d {fmt}")
    return Markup('<time datetime="{}" title="{}">{} {}</time> <span class="utc">{} UTC</span>').format(
        utc.isoformat(), escape(zone), local.strftime(f"%Y-%m-%d {fmt}"), local.strftime("%Z"), utc_text)


def day_label(at: datetime, zone: str) -> str:
    """A short date in the firm's zone, for chart axes."""
    return _aware(at).astimezone(ZoneInfo(zone)).strftime("%m-%d")


def clock_label(at: datetime, zone: str) -> str:
    return _aware(at).astimezone(ZoneInfo(zone)).strftime("%H:%M")
