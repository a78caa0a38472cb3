"""Registry of the prop firms we know: metadata, default limits and trading-day boundaries.

The registry is static data (a frozen record per firm). Which firms are *routed to* is
configuration (`ROUTE_TO_FIRMS`); which firms have an order connector is the explicit
registry in `connectors/`. `automation_policy` summarises each firm's published rules on fully
automated trading, because routing live to a firm that forbids bots can cost the account:
- FTMO: EAs/automation allowed with restrictions (no HFT, no exploiting latency),
  https://ftmo.com/en/faq/ (Trading Rules -> "Can I use EAs?").
- Apex: fully automated trading / bots forbidden on PA accounts,
  https://support.apextraderfunding.com (Compliance -> "Automation").
- Topstep: automation only through TopstepX's own API from the trader's personal device,
  https://help.topstep.com (TopstepX API access); that API is the ProjectX Gateway, so api_enabled.
- Leeloo: automated trading forbidden, https://leelootrading.com (Rules FAQ).
- Bulenox: no published ban; runs on Rithmic, which has no public REST API.

Each firm's compliance profile (`get_compliance_profile`) holds the published rules the router acts
on or shows: automation, whether every order must carry a stop and a target, the session close
(flat-by), the trading-day boundary and news restrictions, each with its source and the date we
read it; `confirmed=False` says plainly where the firm's own page did not confirm the fact in what
we could read. docs/firm-rules.md is the same table for people.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, time
from typing import Any, Mapping

ALLOWED = "ALLOWED"
ALLOWED_WITH_RESTRICTIONS = "ALLOWED_WITH_RESTRICTIONS"
OWN_API_ONLY = "OWN_API_ONLY"
FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True)
class FirmInfo:
    """Static facts about one prop firm (the guide's fields plus the trading-day boundary)."""

    code: str
    name: str
    api_enabled: bool
    supports_automated_execution: bool
    max_daily_loss_default: float | None
    max_total_loss_default: float | None
    max_position_size_default: int | None
    trading_day_start: time
    trading_day_timezone: str
    automation_policy: str
    platform: str

    @property
    def automation_forbidden(self) -> bool:
        """True where the firm's rules do not allow fully automated trading from a server."""
        return self.automation_policy in (FORBIDDEN, OWN_API_ONLY)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["trading_day_start"] = self.trading_day_start.strftime("%H:%M")
        return data


_FIRMS: tuple[FirmInfo, ...] = (
    FirmInfo("FTMO", "FTMO", True, True, 5000.0, 10000.0, 10,
             time(0, 0), "Europe/Prague", ALLOWED_WITH_RESTRICTIONS, "MetaTrader 5 via MetaApi"),
    FirmInfo("APEX", "Apex Trader Funding", True, False, 2500.0, 7500.0, 15,
             time(18, 0), "America/New_York", FORBIDDEN, "Tradovate"),
    FirmInfo("TOPSTEP", "Topstep", True, True, 2000.0, 4500.0, 15,
             time(17, 0), "America/Chicago", OWN_API_ONLY, "ProjectX (TopstepX)"),
    FirmInfo("BULENOX", "Bulenox", False, False, 2500.0, 5000.0, 12,
             time(17, 0), "America/Chicago", ALLOWED, "Rithmic"),
    FirmInfo("LEELOO", "Leeloo Trading", False, False, 2500.0, 5000.0, 12,
             time(17, 0), "America/Chicago", FORBIDDEN, "Rithmic"),
)

_REGISTRY: Mapping[str, FirmInfo] = {firm.code: firm for firm in _FIRMS}


def get_firm_registry() -> Mapping[str, FirmInfo]:
    """All known firms by code (read-only)."""
    return _REGISTRY


def get_firm_by_code(firm_code: str | None) -> FirmInfo | None:
    """Case-insensitive lookup; None for an unknown code."""
    if not isinstance(firm_code, str):
        return None
    return _REGISTRY.get(firm_code.strip().upper())


def is_firm_supported(firm_code: str | None) -> bool:
    return get_firm_by_code(firm_code) is not None


# -- compliance profiles -----------------------------------------------------------------------------

CHECKED = date(2026, 12, 3)  # when the sources below were last read


@dataclass(frozen=True)
class Fact:
    """One published rule as we read it: what it says, where, when; `confirmed=False` when the
    firm's own page did not say it in what we could read (`note` says what we relied on)."""

    summary: str
    source: str
    checked: date = CHECKED
    confirmed: bool = True
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "source": self.source, "checked": self.checked.isoformat(),
                "confirmed": self.confirmed, "note": self.note}


@dataclass(frozen=True)
class FlatBy:
    """The firm's published flat-by time, wall clock in `zone` (what `{FIRM}_{ID}_FLAT_BY=default` uses)."""

    at: time
    zone: str
    fact: Fact

    @property
    def summary(self) -> str:
        return f"{self.at.strftime('%H:%M')} {self.zone}"


@dataclass(frozen=True)
class ComplianceProfile:
    automation: Fact
    stop_and_target_required: bool
    """Whether a live entry must carry both a stop and a target (`STOP_AND_TARGET_REQUIRED`)."""
    stop_and_target: Fact
    session_close: Fact
    day_boundary: Fact
    flat_by: FlatBy | None = None
    news: Fact | None = None

    def facts(self) -> dict[str, Fact]:
        """Every fact by name, in the order check-config and the start-up log show them."""
        named = {"automation": self.automation, "stop_and_target": self.stop_and_target,
                 "session_close": self.session_close, "day_boundary": self.day_boundary}
        return named | ({"news": self.news} if self.news else {})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: fact.to_dict() for name, fact in self.facts().items()}
        data["stop_and_target_required"] = self.stop_and_target_required
        data["flat_by"] = self.flat_by.summary if self.flat_by else None
        return data


_NOT_FOUND = "not found in the firm's pages we could read"
_TOPSTEP_HOURS = "https://help.futures.topstep.com/hc/en-us/articles/8808125387923-Prohibited-Conduct"
_APEX_EVALUATION = "https://support.atf.com/hc/en-us/articles/10403533495835-What-Are-the-Rules-for-Evaluations-Master-Course"

_PROFILES: Mapping[str, ComplianceProfile] = {
    "FTMO": ComplianceProfile(
        automation=Fact("EAs and automated strategies allowed, with restrictions (no HFT, no exploiting latency)",
                        "https://ftmo.com/en/faq/", confirmed=False,
                        note="the registry's earlier reading of the FAQ; not re-read on the checked date"),
        stop_and_target_required=False,
        stop_and_target=Fact("no rule that every order carries a stop and a target", "https://ftmo.com/en/faq/",
                             confirmed=False, note=_NOT_FOUND),
        session_close=Fact("no daily flat-by for futures-style day trading; CFDs on MetaTrader trade around the clock "
                           "on weekdays", "https://ftmo.com/en/faq/", confirmed=False, note=_NOT_FOUND),
        day_boundary=Fact("Maximum Daily Loss on equity (open P&L included), reset every midnight CE(S)T",
                          "https://academy.ftmo.com/lesson/maximum-daily-loss"),
        news=Fact("FTMO Account (standard, after the evaluation): no opening or closing on the targeted instruments "
                  "from 2 minutes before to 2 minutes after restricted releases; Swing accounts and the evaluation "
                  "are not restricted", "https://ftmo.com/au/faq/can-i-trade-news"),
    ),
    "APEX": ComplianceProfile(
        automation=Fact("automation, algorithms, bots and trade copiers are prohibited activities",
                        "https://apextraderfunding.com/help-center/getting-started/prohibited-activities/",
                        confirmed=False,
                        note="the stored copy of the page we read ends before its automation item; CrossTrade's "
                             "review of the same list (2026-05-16) reports the ban"),
        stop_and_target_required=True,
        stop_and_target=Fact("since March 1, 2026 (Apex 4.0) every order must carry a stop-loss and a take-profit; "
                             "the platforms reject an order without both",
                             "https://traderpayout.com/apex/apex-trader-funding-bracket-order/", confirmed=False,
                             note="a third-party report; Apex's Prohibited Activities page itself says every trade "
                                  "must have a pending or mental stop loss"),
        session_close=Fact("all trades closed and pending orders cancelled before 4:59 PM ET (earlier on early-close "
                           "days)", _APEX_EVALUATION),
        day_boundary=Fact("the trading day runs 6:00 PM ET to 4:59 PM ET the next day (Sunday counts toward Monday)",
                          "https://support.apextraderfunding.com/hc/en-us/articles/31519769997083-Evaluation-Rules",
                          confirmed=False, note="quoted from that page by a third party; not read directly"),
        flat_by=FlatBy(time(16, 59), "America/New_York", Fact("flat before 4:59 PM ET", _APEX_EVALUATION)),
    ),
    "TOPSTEP": ComplianceProfile(
        automation=Fact("automated strategies only through the TopstepX API, run from the trader's own device; "
                        "VPS and VPN are prohibited", "https://help.topstep.com/en/articles/11187768-topstepx-api-access",
                        confirmed=False, note="read through TradersPost's and AlgoProven's summaries of that page"),
        stop_and_target_required=False,
        stop_and_target=Fact("no rule that every order carries a stop and a target", _TOPSTEP_HOURS,
                             confirmed=False, note=_NOT_FOUND),
        session_close=Fact("positions flat by 3:10 PM CT; Topstep flattens open positions itself at 3:08 PM CT",
                           _TOPSTEP_HOURS, note="the 3:08 PM auto-flatten: https://topstep.com/blog/trade-desk-trade-flattening"),
        day_boundary=Fact("the trading day runs 5:00 PM CT to 3:10 PM CT; the next one starts at 5:00 PM CT",
                          _TOPSTEP_HOURS),
        flat_by=FlatBy(time(15, 10), "America/Chicago", Fact("flat by 3:10 PM CT", _TOPSTEP_HOURS)),
        news=Fact("whether trading around economic releases is restricted is not confirmed",
                  "https://help.topstep.com/en/articles/8284211", confirmed=False,
                  note="Topstep's Economic Releases article; not read"),
    ),
    "BULENOX": ComplianceProfile(
        automation=Fact("no published ban on automation found", "https://bulenox.com", confirmed=False, note=_NOT_FOUND),
        stop_and_target_required=False,
        stop_and_target=Fact("no rule found", "https://bulenox.com", confirmed=False, note=_NOT_FOUND),
        session_close=Fact("not confirmed", "https://bulenox.com", confirmed=False, note=_NOT_FOUND),
        day_boundary=Fact("17:00 America/Chicago assumed (the CME session)", "https://bulenox.com", confirmed=False,
                          note=_NOT_FOUND),
    ),
    "LEELOO": ComplianceProfile(
        automation=Fact("automated trading forbidden", "https://leelootrading.com", confirmed=False,
                        note="the registry's earlier reading of the Rules FAQ; not re-read on the checked date"),
        stop_and_target_required=False,
        stop_and_target=Fact("no rule found", "https://leelootrading.com", confirmed=False, note=_NOT_FOUND),
        session_close=Fact("not confirmed", "https://leelootrading.com", confirmed=False, note=_NOT_FOUND),
        day_boundary=Fact("17:00 America/Chicago assumed (the CME session)", "https://leelootrading.com",
                          confirmed=False, note=_NOT_FOUND),
    ),
}


def get_compliance_profile(firm_code: str | None) -> ComplianceProfile | None:
    """The firm's compliance profile (case-insensitive); None for an unknown firm."""
    info = get_firm_by_code(firm_code)
    return _PROFILES.get(info.code) if info is not None else None
