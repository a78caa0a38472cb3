"""Explicit `{firm code: connector class}` registry; no lookup by naming convention."""
from __future__ import annotations

from config.settings import Settings
from connectors.apex_connector import ApexConnector
from connectors.base_connector import BaseConnector
from connectors.ftmo_connector import FtmoConnector

CONNECTOR_REGISTRY: dict[str, type[BaseConnector]] = {
    "FTMO": FtmoConnector,
    "APEX": ApexConnector,
}


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
    """Why live routing cannot start: firms routed live without a live-capable connector."""
    problems = []
    for code in settings.route_to_firms:
        firm = settings.firms[code]
        if firm.dry_run:
            continue
        cls = CONNECTOR_REGISTRY.get(code)
        if cls is None:
            problems.append(f"{firm.dry_run_source}: {code} is routed live but has no order connector")
        elif not cls.live_supported:
            problems.append(f"{firm.dry_run_source}: live orders for {code} are not available in this version")
    return problems
