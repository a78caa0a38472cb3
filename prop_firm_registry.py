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
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import time
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
