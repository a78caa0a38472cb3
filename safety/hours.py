"""When a program may enter: its trading windows, its flat-by cutoff and the news blackouts.

Pure functions of (firm settings, program settings, now): the guard refuses entries with them, and
the scheduled flattening jobs ask `next_flat_by` / `next_news_flatten` when to run. Wall-clock
times are read in the firm's trading-day zone with zoneinfo, so they move with daylight saving;
every instant handed out is UTC. Exits are never refused here: blocking an exit leaves risk on.
"""
from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Sequence
from zoneinfo import ZoneInfo

from account_engine.trading_day import next_trading_day_start, trading_day_start
from config.models import FirmSettings, ProgramSettings
from config.time_rules import MAX_BLACKOUT_MINUTES, Blackout, days_text
from domain.entry_rule import EntryRule
from safety.limits import LimitVerdict

_LOOKAHEAD_DAYS = 8  # every weekday comes round within a week, and a crossing window starts the day before


def _utc(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(timezone.utc)


def _spans(program: ProgramSettings, zone: ZoneInfo, around: date, after: int) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of the windows on the days from `around` - 1 to `around` + `after`; a
    window crossing midnight belongs to the day it ends on (CME's Sunday-evening open is Monday's)."""
    for offset in range(-1, after + 1):
        day = around + timedelta(days=offset)
        if day.weekday() not in program.trading_days:
            continue
        for window in program.trading_windows:
            if window.until_midnight:
                yield _utc(day, window.start, zone), _utc(day + timedelta(days=1), time(0), zone)
            elif window.crosses_midnight:
                yield _utc(day - timedelta(days=1), window.start, zone), _utc(day, window.end, zone)
            else:
                yield _utc(day, window.start, zone), _utc(day, window.end, zone)


def current_window(firm: FirmSettings, program: ProgramSettings, now: datetime) -> tuple[datetime, datetime] | None:
    """The window `now` is inside (UTC start, end), or None."""
    zone = ZoneInfo(firm.trading_day_timezone)
    today = now.astimezone(zone).date()
    inside = [span for span in _spans(program, zone, today, 1) if span[0] <= now < span[1]]
    return min(inside) if inside else None


def next_window_start(firm: FirmSettings, program: ProgramSettings, now: datetime) -> datetime | None:
    """When the next window opens after `now` (UTC); None without windows."""
    zone = ZoneInfo(firm.trading_day_timezone)
    starts = [start for start, _ in _spans(program, zone, now.astimezone(zone).date(), _LOOKAHEAD_DAYS) if start > now]
    return min(starts) if starts else None


def window_verdict(firm: FirmSettings, program: ProgramSettings, now: datetime) -> LimitVerdict | None:
    """OUTSIDE_TRADING_WINDOW when the program has windows and `now` is in none of them."""
    if not program.trading_windows or current_window(firm, program, now) is not None:
        return None
    opens = next_window_start(firm, program, now)
    windows = ",".join(str(w) for w in program.trading_windows)
    when = f"the next one opens {opens.isoformat()}" if opens else "no window opens in the next week"
    return LimitVerdict(
        EntryRule.OUTSIDE_TRADING_WINDOW, EntryRule.OUTSIDE_TRADING_WINDOW,
        f"Entry outside {firm.code} program {program.program_id}'s trading windows ({windows} "
        f"{days_text(program.trading_days)}, {firm.trading_day_timezone}); {when}.",
        until=opens,
    )


# -- flat-by ----------------------------------------------------------------------------------------

def flat_by_cutoff(firm: FirmSettings, program: ProgramSettings, now: datetime) -> datetime | None:
    """The flat-by instant (UTC) of the firm's trading day containing `now`: the last time the
    wall clock shows FLAT_BY before that trading day ends. None without FLAT_BY."""
    if program.flat_by is None:
        return None
    zone = ZoneInfo(firm.trading_day_timezone)
    begun = trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
    ends = next_trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
    last_day = ends.astimezone(zone).date()
    cutoff = _utc(last_day, program.flat_by, zone)
    if cutoff >= ends:
        cutoff = _utc(last_day - timedelta(days=1), program.flat_by, zone)
    return cutoff if cutoff >= begun else None


def flat_by_verdict(firm: FirmSettings, program: ProgramSettings, now: datetime) -> LimitVerdict | None:
    """FLAT_BY_CUTOFF from the cutoff until the firm's next trading day starts."""
    cutoff = flat_by_cutoff(firm, program, now)
    if cutoff is None or now < cutoff:
        return None
    resumes = next_trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
    assert program.flat_by is not None
    return LimitVerdict(
        EntryRule.FLAT_BY_CUTOFF, EntryRule.FLAT_BY_CUTOFF,
        f"Entry after {firm.code} program {program.program_id}'s flat-by cutoff "
        f"({program.flat_by.strftime('%H:%M')} {firm.trading_day_timezone}); entries resume when the next "
        f"trading day starts ({resumes.isoformat()}).",
        until=resumes,
    )


def next_flat_by(firm: FirmSettings, program: ProgramSettings, now: datetime) -> datetime | None:
    """The next flat-by instant strictly after `now` (UTC), None without FLAT_BY. Every calendar
    day has one; on a day the market is shut the flattening finds nothing open."""
    at = now
    for _ in range(3):  # the next trading day always has a cutoff; a DST-shortened one may not
        cutoff = flat_by_cutoff(firm, program, at)
        if cutoff is not None and cutoff > now:
            return cutoff
        at = next_trading_day_start(at, firm.trading_day_start, firm.trading_day_timezone)
    return None


# -- news blackouts ---------------------------------------------------------------------------------

def blackouts_at(blackouts: Sequence[Blackout], now: datetime) -> list[Blackout]:
    """Every blackout whose span holds `now` (the list is in start order, as settings keep it)."""
    last = bisect_right([b.start for b in blackouts], now)
    horizon = now - timedelta(minutes=2 * MAX_BLACKOUT_MINUTES)
    found: list[Blackout] = []
    for blackout in reversed(blackouts[:last]):
        if blackout.start < horizon:
            break
        if now < blackout.end:
            found.append(blackout)
    return found


def blackout_verdict(firm: FirmSettings, now: datetime) -> LimitVerdict | None:
    """NEWS_BLACKOUT inside a blackout; `until` is when the blackouts holding `now` (and those
    they run into) are over."""
    active = blackouts_at(firm.news_blackouts, now)
    if not active:
        return None
    until = max(b.end for b in active)
    while True:  # a blackout that starts before this one ends extends the refusal
        more = [b.end for b in firm.news_blackouts if b.start <= until < b.end]
        if not more:
            break
        until = max(more)
    names = ", ".join(str(b) for b in sorted(active, key=lambda b: b.at))
    return LimitVerdict(
        EntryRule.NEWS_BLACKOUT, EntryRule.NEWS_BLACKOUT,
        f"Entry inside a news blackout ({names}); entries resume at {until.isoformat()}.",
        until=until,
    )


def next_blackout(firm: FirmSettings, now: datetime) -> Blackout | None:
    """The blackout holding `now`, else the next one to start (what check-config and the dashboard show)."""
    active = blackouts_at(firm.news_blackouts, now)
    if active:
        return min(active, key=lambda b: b.start)
    later = [b for b in firm.news_blackouts if b.start > now]
    return later[0] if later else None


def next_news_flatten(firm: FirmSettings, program: ProgramSettings, now: datetime) -> tuple[datetime, Blackout] | None:
    """When the program must next be flat for the news (a blackout's start, strictly after `now`)
    and that blackout; None unless `{FIRM}_{ID}_FLATTEN_BEFORE_NEWS=true`."""
    if not program.flatten_before_news:
        return None
    index = bisect_right([b.start for b in firm.news_blackouts], now)
    if index >= len(firm.news_blackouts):
        return None
    blackout = firm.news_blackouts[index]
    return blackout.start, blackout


def time_verdict(firm: FirmSettings, program: ProgramSettings, now: datetime) -> LimitVerdict | None:
    """The first rule over time that refuses an entry at `now`: window, flat-by, blackout."""
    return window_verdict(firm, program, now) or flat_by_verdict(firm, program, now) or blackout_verdict(firm, now)
