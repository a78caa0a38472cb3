"""FTMO (MetaTrader 5). The live wire protocol (MetaApi REST) is not implemented yet, so
`live_supported` is False and the service refuses to start with FTMO routed live."""
from __future__ import annotations

from typing import Any

from connectors.base_connector import BaseConnector
from connectors.orders import ConnectorResult, OrderRequest


class FtmoConnector(BaseConnector):
    firm_code = "FTMO"

    def _place_entry(self, order: OrderRequest) -> ConnectorResult:
        raise NotImplementedError("FTMO live orders are not implemented")

    def _place_exit(self, order: OrderRequest) -> ConnectorResult:
        raise NotImplementedError("FTMO live orders are not implemented")

    def _account_status(self) -> dict[str, Any]:
        raise NotImplementedError("FTMO account status is not implemented")
