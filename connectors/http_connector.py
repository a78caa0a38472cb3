"""A connector that talks HTTP to its firm: one pooled FirmHttp session, built on first live use."""
from __future__ import annotations

import threading

from connectors import live_config
from connectors.base_connector import BaseConnector
from connectors.http_client import FirmHttp


class HttpConnector(BaseConnector):
    """Base for the REST connectors. The session is created lazily so a dry-run connector never
    opens one, and under a lock so parallel first calls share a single pool."""

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self._http: FirmHttp | None = None
        self._http_lock = threading.Lock()

    @property
    def http(self) -> FirmHttp:
        if self._http is None:
            with self._http_lock:
                if self._http is None:
                    self._http = FirmHttp(self.firm_code, live_config.value(self.firm, "API_URL") or "",
                                          live_config.secret_values(self.firm))
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
