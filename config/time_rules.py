"""The firms' rules over time as settings: trading windows, the flat-by cutoff, news blackouts and
the daily locks, parsed per program (`{FIRM}_{ID}_...`) and, for blackouts, once for the service.

Syntax (docs/configuration.md, "Rules over time"):
- `{FIRM}_{ID}_TRADING_WINDOWS=08:30-11:30,13:00-15:00`: wall-clock times in the firm's trading-day
  zone; a window whose end is before its start crosses midnight and belongs to the weekday it
  ends on (`17:00-16:00` with `MON-FRI` is Sunday 17:00 to Monday 16:00, ..., Thursday to Friday:
  CME Globex's week). `24:00` may end a window.
- `{FIRM}_{ID}_TRADING_DAYS=MON-FRI` (the default) or a list, `MON,TUE,THU` or `SUN-THU`; only with
  TRADING_WINDOWS, whose days it names.
- `{FIRM}_{ID}_FLAT_BY=HH:MM | default | off`: `default` is the firm's published flat-by time
  (prop_firm_registry compliance profile); unset is off, as every rule not configured, but a firm
  that requires it is warned about at start-up and in check-config until FLAT_BY is set or `off`.
- `NEWS_BLACKOUTS=2026-12-10T13:30Z/30/15/FOMC,...`: an ISO instant with its UTC offset, minutes
  before, minutes after, an optional label; `NEWS_BLACKOUTS_FILE`: the same, one per line, `#`
  comments. A bad item refuses start-up naming it (and its line).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import Field, TypeAdapter

from prop_firm_registry import get_compliance_profile

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # date.weekday() order
DEFAULT_TRADING_DAYS = frozenset(range(5))
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_LABEL = re.compile(r"^[A-Za-z0-9 _.&()+-]{1,40}$")
MAX_BLACKOUT_MINUTES = 24 * 60
MAX_BLACKOUTS = 10_000

_TRADES = TypeAdapter(Annotated[int, Field(ge=1, le=1000)])
_TARGET = TypeAdapter(Annotated[Decimal, Field(gt=0, allow_inf_nan=False)])


@dataclass(frozen=True)
class TradingWindow:
    """A span of wall-clock time in the firm's zone; `end <= start` means it crosses midnight."""

    start: time
    end: time  # time(0, 0) with `until_midnight` for 24:00
    until_midnight: bool = False

    @property
    def crosses_midnight(self) -> bool:
        return not self.until_midnight and self.end <= self.start

    def __str__(self) -> str:
        end = "24:00" if self.until_midnight else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@dataclass(frozen=True)
class Blackout:
    """A news release: no entries from `before` minutes ahead of it to `after` minutes past it."""

    at: datetime  # UTC
    before: int
    after: int
    label: str | None = None

    @cached_property
    def start(self) -> datetime:
        return self.at - timedelta(minutes=self.before)

    @cached_property
    def end(self) -> datetime:
        return self.at + timedelta(minutes=self.after)

    def __str__(self) -> str:
        name = f" {self.label}" if self.label else ""
        return f"{self.at.strftime('%Y-%m-%dT%H:%MZ')} -{self.before}/+{self.after} min{name}"


class Reader(Protocol):
    problems: list[str]

    def raw(self, name: str) -> str | None: ...

    def boolean(self, name: str, default: bool) -> bool: ...


def clock_time(text: str) -> time | None:
    """HH:MM (24-hour) or None."""
    match = _CLOCK.match(text.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_windows(text: str) -> tuple[tuple[TradingWindow, ...], str | None]:
    """`08:30-11:30,17:00-16:00` -> the windows, or a problem."""
    windows: list[TradingWindow] = []
    for part in (p.strip() for p in text.split(",")):
        start_text, _, end_text = part.partition("-")
        start, end = clock_time(start_text), clock_time(end_text)
        until_midnight = end_text.strip() == "24:00"
        if start is None or (end is None and not until_midnight):
            return (), f"{part!r} is not HH:MM-HH:MM (24-hour clock, e.g. 08:30-11:30)"
        window = TradingWindow(start, end or time(0, 0), until_midnight)
        if not until_midnight and window.end == window.start:
            return (), f"{part!r} starts and ends at the same time"
        windows.append(window)
    return tuple(windows), None


def parse_days(text: str) -> tuple[frozenset[int], str | None]:
    """`MON-FRI`, `MON,WED,FRI`, `SUN-THU` -> weekday numbers (Monday 0), or a problem."""
    days: set[int] = set()
    for part in (p.strip().upper() for p in text.split(",")):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            return frozenset(), f"{part!r} is not a weekday or range of {', '.join(WEEKDAYS)} (e.g. MON-FRI)"
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days), None


def days_text(days: frozenset[int]) -> str:
    return ",".join(WEEKDAYS[d] for d in sorted(days))


def parse_blackout(text: str) -> tuple[Blackout | None, str | None]:
    """`2026-12-10T13:30Z/30/15[/LABEL]` -> the blackout, or a problem."""
    parts = [p.strip() for p in text.split("/")]
    if len(parts) not in (3, 4):
        return None, "must be TIME/MINUTES_BEFORE/MINUTES_AFTER[/LABEL], e.g. 2026-12-10T13:30Z/30/15/FOMC"
    try:
        at = datetime.fromisoformat(parts[0])
    except ValueError:
        return None, f"{parts[0]!r} is not an ISO time such as 2026-12-10T13:30Z"
    if at.tzinfo is None:
        return None, f"{parts[0]!r} has no UTC offset: add Z or e.g. -05:00"
    minutes = [int(p) if p.isdigit() and int(p) <= MAX_BLACKOUT_MINUTES else None for p in parts[1:3]]
    if None in minutes:
        return None, f"minutes before and after must be whole numbers from 0 to {MAX_BLACKOUT_MINUTES}"
    before, after = minutes
    if before == after == 0:
        return None, "minutes before and after are both 0: the blackout would be empty"
    label = parts[3] if len(parts) == 4 else None
    if label is not None and not _LABEL.match(label):
        return None, f"label {label!r}: up to 40 letters, digits, spaces and _ . & ( ) + -"
    return Blackout(at.astimezone(timezone.utc), int(before or 0), int(after or 0), label), None


def read_blackouts(r: Reader) -> tuple[Blackout, ...]:
    """NEWS_BLACKOUTS and NEWS_BLACKOUTS_FILE, together, in time order; problems into `r`."""
    found: list[Blackout] = []
    inline = r.raw("NEWS_BLACKOUTS")
    for item in (i.strip() for i in (inline or "").split(",") if i.strip()):
        blackout, problem = parse_blackout(item)
        if problem:
            r.problems.append(f"NEWS_BLACKOUTS: {item!r}: {problem}")
        elif blackout is not None:
            found.append(blackout)
    path = r.raw("NEWS_BLACKOUTS_FILE")
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            r.problems.append(f"NEWS_BLACKOUTS_FILE={path!r}: cannot be read ({type(exc).__name__})")
            lines = []
        for number, line in enumerate(lines, start=1):
            item = line.split("#", 1)[0].strip()
            if not item:
                continue
            blackout, problem = parse_blackout(item)
            if problem:
                r.problems.append(f"NEWS_BLACKOUTS_FILE line {number}: {item!r}: {problem}")
            elif blackout is not None:
                found.append(blackout)
    if len(found) > MAX_BLACKOUTS:
        r.problems.append(f"NEWS_BLACKOUTS: {len(found)} blackouts; at most {MAX_BLACKOUTS}")
    return tuple(sorted(found, key=lambda b: (b.start, b.end)))


def read_program_time_rules(r: Reader, firm: str, pid: int, day: tuple[time, str], has_blackouts: bool,
                            sources: dict[str, str]) -> dict[str, Any]:
    """One program's ProgramSettings fields for the rules over time (only those set)."""
    prefix = f"{firm}_{pid}_"
    fields: dict[str, Any] = {}

    def source(name: str, variable: str) -> None:
        sources[f"{firm}.{pid}.{name}"] = variable

    raw_windows, raw_days = r.raw(prefix + "TRADING_WINDOWS"), r.raw(prefix + "TRADING_DAYS")
    if raw_windows is not None:
        windows, problem = parse_windows(raw_windows)
        if problem:
            r.problems.append(f"{prefix}TRADING_WINDOWS={raw_windows!r}: {problem}")
        else:
            fields["trading_windows"] = windows
            source("trading_windows", prefix + "TRADING_WINDOWS")
    if raw_days is not None:
        days, problem = parse_days(raw_days)
        if problem:
            r.problems.append(f"{prefix}TRADING_DAYS={raw_days!r}: {problem}")
        elif raw_windows is None:
            r.problems.append(f"{prefix}TRADING_DAYS: only used with {prefix}TRADING_WINDOWS, which names the hours")
        else:
            fields["trading_days"] = days
            source("trading_days", prefix + "TRADING_DAYS")
    fields.update(_read_flat_by(r, firm, pid, day, source))
    if r.boolean(prefix + "FLATTEN_BEFORE_NEWS", False):
        if has_blackouts:
            fields["flatten_before_news"] = True
            source("flatten_before_news", prefix + "FLATTEN_BEFORE_NEWS")
        else:
            r.problems.append(f"{prefix}FLATTEN_BEFORE_NEWS: no NEWS_BLACKOUTS or NEWS_BLACKOUTS_FILE is set, "
                              "so there is nothing to flatten before")
    for suffix, adapter, what in (("MAX_TRADES_PER_DAY", _TRADES, "a whole number of trades from 1 to 1000"),
                                  ("DAILY_PROFIT_TARGET", _TARGET, "a positive dollar amount")):
        raw = r.raw(prefix + suffix)
        if raw is None:
            continue
        try:
            fields[suffix.lower()] = adapter.validate_python(raw)
            source(suffix.lower(), prefix + suffix)
        except ValueError:
            r.problems.append(f"{prefix}{suffix}={raw!r}: must be {what}")
    return fields


def _read_flat_by(r: Reader, firm: str, pid: int, day: tuple[time, str], source: Any) -> dict[str, Any]:
    """`day` is the firm's trading-day start and zone, in which FLAT_BY is read."""
    day_start, zone = day
    variable = f"{firm}_{pid}_FLAT_BY"
    raw = r.raw(variable)
    if raw is None:
        return {}
    if raw.lower() == "off":
        source("flat_by", f"{variable}=off")
        return {}
    profile = get_compliance_profile(firm)
    if raw.lower() == "default":
        if profile is None or profile.flat_by is None:
            r.problems.append(f"{variable}=default: {firm} publishes no flat-by time we could confirm "
                              "(docs/firm-rules.md); set HH:MM or off")
            return {}
        if profile.flat_by.zone != zone:
            r.problems.append(f"{variable}=default: {firm}'s flat-by is {profile.flat_by.summary}, but its trading "
                              f"day is read in {zone} ({firm}_TRADING_DAY_TIMEZONE); set HH:MM in {zone}")
            return {}
        source("flat_by", f"{variable}=default ({profile.flat_by.summary})")
        return {"flat_by": profile.flat_by.at}
    at = clock_time(raw)
    if at is None:
        r.problems.append(f"{variable}={raw!r}: must be HH:MM (24-hour, in the firm's trading-day zone), default or off")
        return {}
    if at == day_start:
        r.problems.append(f"{variable}={raw!r}: is the firm's trading-day start, so no time would be left to trade")
        return {}
    source("flat_by", variable)
    return {"flat_by": at}
