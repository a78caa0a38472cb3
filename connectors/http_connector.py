"""A connector that talks HTTP to its firm: one pooled FirmHttp session, built on first live use."""
from __future__ import annotations

import threading
from typing import Any, ClassVar

from connectors.base_connector import BaseConnector
from connectors.http_client import Deadline, FirmHttp, Rejected


class HttpConnector(BaseConnector):
    """Base for the REST connectors. The session is created lazily so a dry-run connector never
    opens one, and under a lock so parallel first calls share a single pool."""

    lockout_on_429: ClassVar[float | None] = None
    """Seconds a bare HTTP 429 locks the firm out (see FirmHttp); None: a short back-off."""

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self._http: FirmHttp | None = None
        self._http_lock = threading.Lock()

    @property
    def http(self) -> FirmHttp:
        if self._http is None:
            with self._http_lock:
                if self._http is None:
                    self._http = FirmHttp(self.firm_code, self.firm.live.api_url or "",
                                          [s.get_secret_value() for s in self.firm.secrets.values()],
                                          lockout_on_429=self.lockout_on_429)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # ---- bearer-token calls (APEX, TOPSTEP) -----------------------------------------------------
    def _auth(self, deadline: Deadline, force: bool = False) -> str:
        """The firm's current bearer token; `force` logs in again (the token was refused)."""
        raise NotImplementedError(f"{type(self).__name__} has no bearer-token login")

    def _bearer(self, deadline: Deadline, force: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._auth(deadline, force)}"}

    def _authorized_read(self, method: str, path: str, deadline: Deadline, **kw: Any) -> Any:
        """A read (retried by FirmHttp); a 401 means the token expired early: once more with a new one."""
        try:
            return self.http.read(method, path, deadline=deadline, headers=self._bearer(deadline), **kw)
        except Rejected as exc:
            if exc.reason != "HTTP_401":
                raise
            return self.http.read(method, path, deadline=deadline, headers=self._bearer(deadline, force=True), **kw)

    def _authorized_submit(self, method: str, path: str, deadline: Deadline, **kw: Any) -> tuple[int, Any]:
        """One submission. A 401 is answered before the firm processes anything, so it alone is
        sent again, once, with a fresh token; every other answer is the caller's to judge."""
        status, data = self.http.submit(method, path, deadline=deadline, headers=self._bearer(deadline), **kw)
        if status == 401:
            status, data = self.http.submit(method, path, deadline=deadline, headers=self._bearer(deadline, force=True),
                                            **kw)
        return status, data
