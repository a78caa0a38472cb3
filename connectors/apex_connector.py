"""APEX (Tradovate). The live wire protocol is not implemented yet, so `live_supported` is
False and the service refuses to start with APEX routed live."""
from __future__ import annotations

from typing import Any

from connectors.base_connector import BaseConnector
from connectors.orders import ConnectorResult, OrderRequest


class ApexConnector(BaseConnector):
    firm_code = "APEX"

    def _place_entry(self, order: OrderRequest) -> ConnectorResult:
        raise NotImplementedError("APEX live orders are not implemented")

    def _place_exit(self, order: OrderRequest) -> ConnectorResult:
        raise NotImplementedError("APEX live orders are not implemented")

    def _account_status(self) -> dict[str, Any]:
        raise NotImplementedError("APEX account status is not implemented")
