"""Chart geometry for server-rendered SVG (templates/_charts.html draws it): no JavaScript, no
chart library, nothing fetched from the internet, and the numbers stay readable in the page.

Pure: points in, frozen coordinates out (SVG user units, y growing downwards). Equity and the
limit lines are step lines: the ledger's balance changes only at an event and holds until the
next, so a straight line between two closes would draw values the account never had.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Sequence

from dashboard.equity_curve import CurvePoint, DayBar

WIDTH, HEIGHT = 640, 210
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 10, 26


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    point: CurvePoint


@dataclass(frozen=True)
class Tick:
    at: float  # x or y, in user units
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    equity: str  # SVG polyline points
    floor: str | None
    daily: str | None
    dots: tuple[Dot, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    left: int = LEFT
    right: int = WIDTH - RIGHT


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    bar: DayBar
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    zero: float
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]
    left: int = LEFT
    right: int = WIDTH - RIGHT


def _scale(low: float, high: float, out_low: float, out_high: float) -> Callable[[float], float]:
    span = (high - low) or 1.0
    return lambda v: round(out_low + (v - low) / span * (out_high - out_low), 2)


def _range(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(1.0, abs(high) * 0.001)
    return low - pad, high + pad


def _steps(xs: Sequence[float], ys: Sequence[float | None]) -> str | None:
    """A step line through the points that have a value (None: no line there)."""
    out: list[str] = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        if y is None:
            continue
        if out and i > 0 and ys[i - 1] is not None:
            out.append(f"{x},{ys[i - 1]}")
        out.append(f"{x},{y}")
    return " ".join(out) if len(out) > 1 else None


def _nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2 or 5 x 10^k) giving about `count` intervals over `span`."""
    raw = span / count if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _y_ticks(low: float, high: float, y: Callable[[float], float]) -> tuple[Tick, ...]:
    step = _nice_step(high - low)
    decimals = 0 if step >= 1 else 2
    first = math.ceil(low / step) * step
    count = int((high - first) / step + 1e-9) + 1
    return tuple(Tick(y(v), f"{v + 0.0:,.{decimals}f}") for v in (first + i * step for i in range(count)))


def line_chart(points: Sequence[CurvePoint], label: Callable[[datetime], str]) -> LineChart:
    """Equity (with the floor and the daily loss line) from the first point to the last; x labels by `label`."""
    values = [float(v) for p in points for v in (p.equity, p.floor, p.daily_line) if v is not None]
    low, high = _range(values)
    since = points[0].at
    start, end = since.timestamp(), max(points[-1].at.timestamp(), since.timestamp() + 1)
    x = _scale(start, end, LEFT, WIDTH - RIGHT)
    y = _scale(low, high, HEIGHT - BOTTOM, TOP)
    xs = [x(p.at.timestamp()) for p in points]

    def line(get: Callable[[CurvePoint], Decimal | None]) -> list[float | None]:
        return [y(float(v)) if (v := get(p)) is not None else None for p in points]

    equity = line(lambda p: p.equity)
    x_ticks = tuple(Tick(x(start + i * (end - start) / 4), label(datetime.fromtimestamp(start + i * (end - start) / 4,
                                                                                          since.tzinfo)))
                    for i in range(5))
    return LineChart(WIDTH, HEIGHT, _steps(xs, equity) or f"{xs[0]},{equity[0]}", _steps(xs, line(lambda p: p.floor)),
                     _steps(xs, line(lambda p: p.daily_line)),
                     tuple(Dot(xi, yi, p) for xi, yi, p in zip(xs, equity, points) if yi is not None),
                     _y_ticks(low, high, y), x_ticks)


def bar_chart(bars: Sequence[DayBar], label: Callable[[DayBar], str], width: int = WIDTH,
              height: int = HEIGHT) -> BarChart:
    """Daily P&L bars around a zero line (a profit up, a loss down)."""
    values = [float(b.pl) for b in bars] + [0.0]
    low, high = _range(values)
    y = _scale(low, high, height - BOTTOM, TOP)
    slot = (width - RIGHT - LEFT) / max(1, len(bars))
    zero = y(0.0)
    out = []
    for i, b in enumerate(bars):
        top = y(float(b.pl))
        out.append(Bar(round(LEFT + i * slot + slot * 0.15, 2), min(top, zero), round(slot * 0.7, 2),
                       max(0.5, abs(zero - top)), b, label(b)))
    return BarChart(width, height, zero, tuple(out), _y_ticks(low, high, y), right=width - RIGHT)
