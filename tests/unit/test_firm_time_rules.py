"""The rules over time as pure functions: trading windows and flat-by cutoffs in the firm's zone
across daylight-saving changes (America/Chicago ends DST on 2026-11-01 and starts it on
2027-03-14), windows crossing midnight, news blackouts, and the settings that configure them.

Hand conversions used below: CDT = UTC-5, CST = UTC-6; 08:30 CDT = 13:30 UTC, 08:30 CST = 14:30 UTC.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from config import ConfigError, parse_settings
from prop_firm_registry import get_compliance_profile, get_firm_registry
from safety.hours import (
    blackout_verdict,
    current_window,
    flat_by_verdict,
    next_flat_by,
    next_news_flatten,
    next_window_start,
    window_verdict,
)

UTC = timezone.utc
BASE = {"ROUTE_TO_FIRMS": "TOPSTEP", "TOPSTEP_PROGRAM_IDS": "1", "TOPSTEP_1_ACCOUNT_SIZE": "50000",
        "TOPSTEP_1_RISK_PER_TRADE": "0.01"}


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def topstep(**env: str):
    settings = parse_settings({**BASE, **env})
    firm = settings.firms["TOPSTEP"]
    return firm, firm.programs[1]


@pytest.mark.parametrize("now,inside,until", [
    (at(2026, 10, 30, 13, 30), True, None),                # Friday 08:30 CDT
    (at(2026, 10, 30, 13, 29), False, at(2026, 10, 30, 13, 30)),
    (at(2026, 11, 2, 13, 30), False, at(2026, 11, 2, 14, 30)),  # Monday 07:30 CST: the same UTC time is early now
    (at(2026, 11, 2, 14, 30), True, None),                 # Monday 08:30 CST
    (at(2026, 11, 2, 17, 30), False, at(2026, 11, 3, 14, 30)),  # 11:30 CST: the window has closed
    (at(2026, 10, 30, 17, 30), False, at(2026, 11, 2, 14, 30)),  # Friday afternoon -> Monday, across the change
    (at(2027, 3, 12, 13, 30), False, at(2027, 3, 12, 14, 30)),  # Friday 07:30 CST, before DST starts
    (at(2027, 3, 15, 13, 30), True, None),                 # Monday 08:30 CDT
])
def test_trading_window_in_the_firms_zone_across_dst(now, inside, until):
    firm, program = topstep(TOPSTEP_1_TRADING_WINDOWS="08:30-11:30")
    verdict = window_verdict(firm, program, now)
    assert (verdict is None) is inside
    if not inside:
        assert verdict.rule == "OUTSIDE_TRADING_WINDOW" and verdict.until == until
        assert until.isoformat() in verdict.message
        assert next_window_start(firm, program, now) == until


@pytest.mark.parametrize("now,inside,until", [
    (at(2026, 11, 1, 23, 0), True, None),                   # Sunday 17:00 CST opens Monday's session
    (at(2026, 11, 1, 22, 59), False, at(2026, 11, 1, 23, 0)),  # (17:00 CDT, 22:00 UTC, would be wrong today)
    (at(2026, 10, 31, 18, 0), False, at(2026, 11, 1, 23, 0)),  # Saturday
    (at(2026, 10, 30, 21, 0), False, at(2026, 11, 1, 23, 0)),  # Friday 16:00 CDT: the week's last session ended
    (at(2026, 10, 30, 22, 30), False, at(2026, 11, 1, 23, 0)),  # Friday 17:30 CDT would be Saturday's session
    (at(2026, 11, 2, 21, 59), True, None),                  # Monday 15:59 CST
    (at(2026, 11, 2, 22, 0), False, at(2026, 11, 2, 23, 0)),   # the daily break
    (at(2027, 3, 14, 22, 0), True, None),                   # Sunday 17:00 CDT after the spring change
    (at(2027, 3, 14, 21, 59), False, at(2027, 3, 14, 22, 0)),
])
def test_a_window_crossing_midnight_belongs_to_the_day_it_ends_on(now, inside, until):
    firm, program = topstep(TOPSTEP_1_TRADING_WINDOWS="17:00-16:00")
    verdict = window_verdict(firm, program, now)
    assert (verdict is None) is inside
    assert (current_window(firm, program, now) is not None) is inside
    if not inside:
        assert verdict.until == until


def test_trading_days_and_several_windows():
    firm, program = topstep(TOPSTEP_1_TRADING_WINDOWS="08:30-11:30,13:00-15:00", TOPSTEP_1_TRADING_DAYS="TUE,THU")
    assert window_verdict(firm, program, at(2026, 12, 1, 19, 0)) is None   # Tuesday 13:00 CST
    monday = window_verdict(firm, program, at(2026, 11, 30, 15, 0))
    assert monday.until == at(2026, 12, 1, 14, 30)                         # Tuesday 08:30 CST
    gap = window_verdict(firm, program, at(2026, 12, 1, 18, 0))           # Tuesday 12:00 CST
    assert gap.until == at(2026, 12, 1, 19, 0)
    assert "TUE,THU" in gap.message and "America/Chicago" in gap.message


@pytest.mark.parametrize("now,refused,until", [
    (at(2026, 11, 2, 21, 9), False, None),                   # Monday 15:09 CST
    (at(2026, 11, 2, 21, 10), True, at(2026, 11, 2, 23, 0)),  # 15:10 CST until the 17:00 CST session
    (at(2026, 11, 2, 22, 59), True, at(2026, 11, 2, 23, 0)),
    (at(2026, 11, 2, 23, 0), False, None),                   # the next trading day
    (at(2026, 10, 30, 20, 10), True, at(2026, 10, 30, 22, 0)),  # Friday 15:10 CDT
    (at(2026, 10, 30, 20, 9), False, None),
])
def test_flat_by_default_refuses_entries_until_the_next_trading_day(now, refused, until):
    firm, program = topstep(TOPSTEP_1_FLAT_BY="default")
    verdict = flat_by_verdict(firm, program, now)
    assert (verdict is not None) is refused
    if refused:
        assert verdict.rule == "FLAT_BY_CUTOFF" and verdict.until == until and "15:10 America/Chicago" in verdict.message


@pytest.mark.parametrize("now,expected", [
    (at(2026, 11, 2, 12, 0), at(2026, 11, 2, 21, 10)),
    (at(2026, 11, 2, 21, 10), at(2026, 11, 3, 21, 10)),  # strictly after: the job that just ran asks for the next
    (at(2026, 10, 31, 21, 0), at(2026, 11, 1, 21, 10)),  # Saturday 16:00 CDT -> Sunday 15:10 CST
])
def test_next_flat_by_is_the_next_cutoff_instant(now, expected):
    firm, program = topstep(TOPSTEP_1_FLAT_BY="15:10")
    assert next_flat_by(firm, program, now) == expected


def test_flat_by_in_other_zones_and_off():
    apex = parse_settings({"ROUTE_TO_FIRMS": "APEX", "APEX_PROGRAM_IDS": "1", "APEX_1_ACCOUNT_SIZE": "50000",
                           "APEX_1_RISK_PER_TRADE": "0.01", "APEX_1_FLAT_BY": "default"}).firms["APEX"]
    refused = flat_by_verdict(apex, apex.programs[1], at(2026, 12, 3, 21, 59))  # 16:59 EST
    assert refused.until == at(2026, 12, 3, 23, 0)                               # 18:00 EST
    assert flat_by_verdict(apex, apex.programs[1], at(2026, 12, 3, 21, 58)) is None
    ftmo = parse_settings({"ROUTE_TO_FIRMS": "FTMO", "FTMO_PROGRAM_IDS": "1", "FTMO_1_ACCOUNT_SIZE": "50000",
                           "FTMO_1_RISK_PER_TRADE": "0.01", "FTMO_1_FLAT_BY": "22:00"}).firms["FTMO"]
    assert flat_by_verdict(ftmo, ftmo.programs[1], at(2026, 12, 3, 21, 0)).until == at(2026, 12, 3, 23, 0)  # Prague
    firm, program = topstep(TOPSTEP_1_FLAT_BY="off")
    assert program.flat_by is None and next_flat_by(firm, program, at(2026, 11, 2, 12, 0)) is None


BLACKOUTS = "2026-12-10T13:30Z/30/15/FOMC,2026-12-10T09:40-05:00/5/10/CPI,2026-12-10T13:50Z/10/5"


@pytest.mark.parametrize("now,until", [
    (at(2026, 12, 10, 12, 59), None),
    (at(2026, 12, 10, 13, 0), at(2026, 12, 10, 13, 55)),  # FOMC runs into the 13:50 release's window
    (at(2026, 12, 10, 13, 54), at(2026, 12, 10, 13, 55)),
    (at(2026, 12, 10, 13, 55), None),
    (at(2026, 12, 10, 14, 35), at(2026, 12, 10, 14, 50)),  # CPI, given at -05:00
])
def test_blackouts_refuse_entries_until_their_end(now, until):
    firm, _ = topstep(NEWS_BLACKOUTS=BLACKOUTS)
    verdict = blackout_verdict(firm, now)
    assert (verdict.until if verdict else None) == until
    if verdict:
        assert verdict.rule == "NEWS_BLACKOUT"


def test_next_news_flatten_only_where_configured():
    firm, program = topstep(NEWS_BLACKOUTS=BLACKOUTS, TOPSTEP_1_FLATTEN_BEFORE_NEWS="true")
    instant, blackout = next_news_flatten(firm, program, at(2026, 12, 10, 12, 0))
    assert instant == at(2026, 12, 10, 13, 0) and blackout.label == "FOMC"
    assert next_news_flatten(firm, program, at(2026, 12, 10, 13, 0))[0] == at(2026, 12, 10, 13, 40)
    assert next_news_flatten(firm, program, at(2026, 12, 11)) is None
    firm, program = topstep(NEWS_BLACKOUTS=BLACKOUTS)
    assert next_news_flatten(firm, program, at(2026, 12, 10, 12, 0)) is None


@pytest.mark.parametrize("env,problem", [
    ({"TOPSTEP_1_TRADING_WINDOWS": "8:30-11:30"}, "TOPSTEP_1_TRADING_WINDOWS='8:30-11:30': '8:30-11:30' is not HH:MM-HH:MM"),
    ({"TOPSTEP_1_TRADING_WINDOWS": "09:00-09:00"}, "TOPSTEP_1_TRADING_WINDOWS='09:00-09:00': '09:00-09:00' starts and ends"),
    ({"TOPSTEP_1_TRADING_DAYS": "MON-FRI"}, "TOPSTEP_1_TRADING_DAYS: only used with TOPSTEP_1_TRADING_WINDOWS"),
    ({"TOPSTEP_1_TRADING_WINDOWS": "08:30-11:30", "TOPSTEP_1_TRADING_DAYS": "MONDAY"}, "TOPSTEP_1_TRADING_DAYS='MONDAY'"),
    ({"TOPSTEP_1_FLAT_BY": "3:10pm"}, "TOPSTEP_1_FLAT_BY='3:10pm': must be HH:MM"),
    ({"TOPSTEP_1_FLAT_BY": "17:00"}, "TOPSTEP_1_FLAT_BY='17:00': is the firm's trading-day start"),
    ({"TOPSTEP_1_FLAT_BY": "default", "TOPSTEP_TRADING_DAY_TIMEZONE": "America/New_York"},
     "TOPSTEP_1_FLAT_BY=default: TOPSTEP's flat-by is 15:10 America/Chicago"),
    ({"TOPSTEP_1_FLATTEN_BEFORE_NEWS": "true"}, "TOPSTEP_1_FLATTEN_BEFORE_NEWS: no NEWS_BLACKOUTS"),
    ({"TOPSTEP_1_MAX_TRADES_PER_DAY": "0"}, "TOPSTEP_1_MAX_TRADES_PER_DAY='0': must be a whole number"),
    ({"TOPSTEP_1_DAILY_PROFIT_TARGET": "-5"}, "TOPSTEP_1_DAILY_PROFIT_TARGET='-5': must be a positive dollar amount"),
    ({"NEWS_BLACKOUTS": "2026-12-10T13:30/30/15"}, "NEWS_BLACKOUTS: '2026-12-10T13:30/30/15': '2026-12-10T13:30' has no UTC offset"),
    ({"NEWS_BLACKOUTS": "2026-12-10T13:30Z/30"}, "NEWS_BLACKOUTS: '2026-12-10T13:30Z/30': must be TIME/MINUTES_BEFORE"),
    ({"NEWS_BLACKOUTS": "2026-12-10T13:30Z/0/0"}, "both 0"),
    ({"NEWS_BLACKOUTS_FILE": "/nonexistent/blackouts.txt"}, "NEWS_BLACKOUTS_FILE='/nonexistent/blackouts.txt': cannot be read"),
    ({"TOPSTEP_REQUIRE_STOP_AND_TARGET": "maybe"}, "TOPSTEP_REQUIRE_STOP_AND_TARGET='maybe': must be true or false"),
])
def test_bad_settings_name_the_variable(env, problem):
    with pytest.raises(ConfigError) as raised:
        parse_settings({**BASE, **env})
    assert any(line.startswith(problem) or problem in line for line in raised.value.problems), raised.value.problems


def test_a_bad_line_of_the_blackouts_file_is_named(tmp_path):
    path = tmp_path / "news.txt"
    path.write_text("# FOMC and CPI\n2026-12-10T13:30Z/30/15/FOMC  # rate decision\n\n2026-12-11 13:30/5/5\n")
    with pytest.raises(ConfigError) as raised:
        parse_settings({**BASE, "NEWS_BLACKOUTS_FILE": str(path)})
    assert raised.value.problems == [
        "NEWS_BLACKOUTS_FILE line 4: '2026-12-11 13:30/5/5': '2026-12-11 13:30' has no UTC offset: add Z or e.g. -05:00"]
    path.write_text("# FOMC\n2026-12-10T13:30Z/30/15/FOMC  # rate decision\n")
    firm, _ = topstep(NEWS_BLACKOUTS_FILE=str(path), NEWS_BLACKOUTS="2026-12-01T13:30Z/5/5")
    assert [(b.at, b.label) for b in firm.news_blackouts] == [(at(2026, 12, 1, 13, 30), None),
                                                               (at(2026, 12, 10, 13, 30), "FOMC")]


def test_every_firm_has_a_dated_compliance_profile_with_sources():
    for code in get_firm_registry():
        profile = get_compliance_profile(code)
        for name, fact in profile.facts().items():
            assert fact.source.startswith("https://"), (code, name)
            assert fact.confirmed or fact.note, (code, name)  # an unconfirmed fact says what it rests on
    assert get_compliance_profile("APEX").stop_and_target_required is True
    assert get_compliance_profile("TOPSTEP").flat_by.summary == "15:10 America/Chicago"
    assert get_compliance_profile("APEX").flat_by.summary == "16:59 America/New_York"
    assert parse_settings({**BASE, "ROUTE_TO_FIRMS": "TOPSTEP,APEX", "APEX_PROGRAM_IDS": "1",
                           "APEX_1_ACCOUNT_SIZE": "50000", "APEX_1_RISK_PER_TRADE": "0.01"}).firms["APEX"].require_stop_and_target
