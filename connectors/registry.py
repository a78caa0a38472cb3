"""Explicit `{firm code: connector class}` registry; no lookup by naming convention."""
from __future__ import annotations

import logging

from config.live_settings import live_config_problems
from config.settings import Settings
from connectors.apex_connector import ApexConnector
from connectors.base_connector import BaseConnector
from connectors.ftmo_connector import FtmoConnector
from connectors.topstep_connector import TopstepConnector
from prop_firm_registry import get_firm_by_code

log = logging.getLogger(__name__)

CONNECTOR_REGISTRY: dict[str, type[BaseConnector]] = {
    "FTMO": FtmoConnector,
    "APEX": ApexConnector,
    "TOPSTEP": TopstepConnector,
}


def no_connector_message(code: str) -> str:
    """Why a firm has no order connector, in words the trader can act on."""
    info = get_firm_by_code(code)
    if info is not None and info.platform == "Rithmic":
        return f"{code} trades on Rithmic, which has no public REST API: metadata only, place orders by hand."
    return f"{code} has no order connector (metadata only)."


def build_connectors(settings: Settings, force_dry_run: bool = False) -> dict[str, BaseConnector]:
    """One connector per routed firm that has one; firms without a connector are absent."""
    connectors: dict[str, BaseConnector] = {}
    for code in settings.route_to_firms:
        cls = CONNECTOR_REGISTRY.get(code)
        if cls is not None:
            firm = settings.firms[code]
            connectors[code] = cls(firm, dry_run=force_dry_run or firm.dry_run)
    return connectors


def live_problems(settings: Settings) -> list[str]:
    """Why live routing cannot start: per firm routed live, a missing connector, missing
    credentials/accounts/symbol maps, or a firm whose rules forbid automation without
    `{FIRM}_ALLOW_AUTOMATION=true`. Logs a warning for each firm routed live with that waiver."""
    problems = []
    for code in settings.route_to_firms:
        firm = settings.firms[code]
        if firm.dry_run:
            continue
        cls = CONNECTOR_REGISTRY.get(code)
        if cls is None:
            problems.append(f"{firm.dry_run_source}: {code} is routed live but has no order connector. "
                            + no_connector_message(code) + f" Set {code}_DRY_RUN=true or remove it from ROUTE_TO_FIRMS.")
            continue
        if not cls.live_supported:
            problems.append(f"{firm.dry_run_source}: live orders for {code} are not available in this version")
            continue
        problems.extend(live_config_problems(firm))
        info = get_firm_by_code(code)
        if info is not None and info.automation_forbidden:
            if firm.live.allow_automation:
                log.warning("%s is routed live although its rules (%s) restrict automated trading; "
                            "%s_ALLOW_AUTOMATION=true accepts that risk for the account", code, info.automation_policy, code)
            else:
                problems.append(f"{code}_ALLOW_AUTOMATION: {info.name}'s rules ({info.automation_policy}) restrict fully "
                                f"automated trading; set {code}_ALLOW_AUTOMATION=true to route it live anyway")
    return problems
