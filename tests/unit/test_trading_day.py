"""Trading-day boundaries for each firm zone, including daylight-saving changes."""
from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from account_engine.trading_day import next_trading_day_start, trading_day_start

UTC = timezone.utc


@pytest.mark.parametrize("now,start,zone,expected", [
    # Apex 18:00 New York: EDT (UTC-4) in summer, EST (UTC-5) in winter
    (datetime(2025, 7, 1, 21, 59, tzinfo=UTC), time(18), "America/New_York", datetime(2025, 6, 30, 22, 0, tzinfo=UTC)),
    (datetime(2025, 7, 1, 22, 0, tzinfo=UTC), time(18), "America/New_York", datetime(2025, 7, 1, 22, 0, tzinfo=UTC)),
    (datetime(2025, 12, 1, 23, 0, tzinfo=UTC), time(18), "America/New_York", datetime(2025, 12, 1, 23, 0, tzinfo=UTC)),
    # US DST starts 2025-03-09: the 18:00 boundary that evening is 22:00 UTC, the evening before 23:00 UTC
    (datetime(2025, 3, 9, 21, 0, tzinfo=UTC), time(18), "America/New_York", datetime(2025, 3, 8, 23, 0, tzinfo=UTC)),
    (datetime(2025, 3, 9, 22, 30, tzinfo=UTC), time(18), "America/New_York", datetime(2025, 3, 9, 22, 0, tzinfo=UTC)),
    # CME firms 17:00 Chicago; DST ends 2025-11-02
    (datetime(2025, 11, 2, 22, 30, tzinfo=UTC), time(17), "America/Chicago", datetime(2025, 11, 1, 22, 0, tzinfo=UTC)),
    (datetime(2025, 11, 2, 23, 0, tzinfo=UTC), time(17), "America/Chicago", datetime(2025, 11, 2, 23, 0, tzinfo=UTC)),
    # FTMO midnight Prague; EU DST starts 2025-03-30
    (datetime(2025, 3, 29, 23, 30, tzinfo=UTC), time(0), "Europe/Prague", datetime(2025, 3, 29, 23, 0, tzinfo=UTC)),
    (datetime(2025, 3, 30, 22, 30, tzinfo=UTC), time(0), "Europe/Prague", datetime(2025, 3, 30, 22, 0, tzinfo=UTC)),
])
def test_trading_day_start(now, start, zone, expected):
    assert trading_day_start(now, start, zone) == expected


def test_next_start_and_day_label_across_dst():
    now = datetime(2025, 3, 8, 23, 30, tzinfo=UTC)  # Saturday 18:30 EST
    assert next_trading_day_start(now, time(18), "America/New_York") == datetime(2025, 3, 9, 22, 0, tzinfo=UTC)
    day = trading_day_start(now, time(18), "America/New_York").astimezone(ZoneInfo("America/New_York")).date()
    assert str(day) == "2025-03-08"


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        trading_day_start(datetime(2025, 1, 1), time(0), "Europe/Prague")
