"""Order connectors: one abstract base, one module per firm protocol, an explicit registry."""
from connectors.base_connector import BaseConnector
from connectors.orders import (
    FAILED, SKIPPED, SUCCESS, UNKNOWN, ConnectorResult, OrderRequest, OrderStatus, client_order_id,
)
from connectors.registry import CONNECTOR_REGISTRY, build_connectors, live_problems

__all__ = [
    "BaseConnector", "CONNECTOR_REGISTRY", "ConnectorResult", "FAILED", "OrderRequest", "OrderStatus", "SKIPPED", "SUCCESS",
    "UNKNOWN", "build_connectors", "client_order_id", "live_problems",
]
