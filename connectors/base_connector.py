"""The one abstract connector every firm protocol implements.

The public methods are templates: they own the dry-run decision (so no subclass can forget it)
and turn an unexpected exception into a FAILED result instead of a crashed request. Subclasses
implement only `_place_entry`, `_place_exit` and `_account_status`, the firm's wire protocol.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from config.settings import FirmSettings
from connectors.orders import FAILED, SKIPPED, ConnectorResult, OrderRequest

log = logging.getLogger(__name__)

GLOBAL_DRY_RUN = "GLOBAL_DRY_RUN_ENABLED"
FIRM_DRY_RUN = "FIRM_DRY_RUN_ENABLED"


class BaseConnector(ABC):
    firm_code: ClassVar[str]
    live_supported: ClassVar[bool] = False
    """False until the firm's real protocol is implemented: live mode then refuses to start."""

    def __init__(self, firm: FirmSettings, *, dry_run: bool):
        self.firm = firm
        self.dry_run = dry_run
        self.dry_run_reason = FIRM_DRY_RUN if firm.dry_run_source != "EXECUTION_DRY_RUN" else GLOBAL_DRY_RUN

    def send_entry_order(self, order: OrderRequest) -> ConnectorResult:
        return self._send(order, self._place_entry)

    def send_exit_order(self, order: OrderRequest) -> ConnectorResult:
        return self._send(order, self._place_exit)

    def get_account_status(self) -> dict[str, Any]:
        if self.dry_run:
            return {"firm_code": self.firm_code, "available": False, "reason": self.dry_run_reason}
        return self._account_status()

    def _send(self, order: OrderRequest, place: Any) -> ConnectorResult:
        if self.dry_run:
            return ConnectorResult(
                firm_code=self.firm_code, program_id=order.program_id, status=SKIPPED, dry_run=True,
                reason=self.dry_run_reason, message="Dry-run: order not sent.", order=order.to_dict(),
            )
        try:
            return place(order)
        except Exception as exc:  # a connector bug must not crash the request or hide the order
            log.exception("connector %s raised", self.firm_code)
            return ConnectorResult(
                firm_code=self.firm_code, program_id=order.program_id, status=FAILED, dry_run=False,
                reason="CONNECTOR_ERROR", message=type(exc).__name__, order=order.to_dict(),
            )

    @abstractmethod
    def _place_entry(self, order: OrderRequest) -> ConnectorResult: ...

    @abstractmethod
    def _place_exit(self, order: OrderRequest) -> ConnectorResult: ...

    @abstractmethod
    def _account_status(self) -> dict[str, Any]: ...
