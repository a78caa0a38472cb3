"""HTTP for live connectors: one pooled requests.Session per connector, a timeout on every call,
bounded retries for reads only, and errors sorted by what they mean for the order.

The three outcomes of sending an order, and why they are kept apart:
- ``NotSent``: the request never reached the firm (connection refused, connect timeout, our own
  rate-limit back-off, deadline already spent). Safe to report FAILED and release the position.
- ``Rejected``: the firm answered and refused. FAILED.
- ``OutcomeUnknown``: the request was sent but no usable answer came back (read timeout, 5xx,
  connection dropped mid-answer). The firm may have executed it: report UNKNOWN, keep the position,
  reconcile by client order id. Never resend it (docs/design.md, Orders to firms).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Iterable

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5
"""Seconds to open a connection; loopback or a nearby cloud region needs far less."""
READ_TIMEOUT = 1.5
"""Seconds to wait for an answer; TradingView gives up after 3 s, so one call may not take longer."""
READ_ATTEMPTS = 3
BACKOFF = 0.1
"""First retry delay for reads (doubles each attempt), unless the firm says Retry-After."""
SEND_RESERVE = 0.5
"""Seconds an order submission needs left after waiting out a 429 back-off for the wait to be
worth it; a back-off that leaves less fails the order unsent instead (the trader can resend)."""


class Deadline:
    """The time left for one webhook request; every HTTP call is cut to fit inside it."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())


class ConnectorError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class NotSent(ConnectorError):
    """Nothing reached the firm: FAILED, safe to release."""


class Rejected(ConnectorError):
    """The firm (or our own pre-send validation) refused the order: FAILED."""


class OutcomeUnknown(ConnectorError):
    """Sent, answer lost: UNKNOWN, reconcile by client order id, never resend blindly."""


class LockedOut(NotSent):
    """The firm locked this client out for a documented period (Tradovate: a bare HTTP 429, one
    hour): nothing is sent to it, or to the locked `path`, before `until` (epoch seconds)."""

    def __init__(self, reason: str, message: str, until: float):
        super().__init__(reason, message)
        self.until = until


def _connect_failed(exc: requests.ConnectionError) -> bool:
    """True when the connection was never established (so the request cannot have been read)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text


def _session_for(base_url: str) -> requests.Session:
    """A session that reads the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) once,
    for this firm's host, instead of on every call: requests otherwise scans every environment
    variable and looks for ~/.netrc per request, a tenth of a live worker's time under load.
    Firm credentials are always explicit, so no .netrc login is lost."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


class FirmHttp:
    """A firm's base URL with a pooled session; knows the secret values so it can redact them."""

    def __init__(self, firm_code: str, base_url: str, secrets: Iterable[str] = (),
                 lockout_on_429: float | None = None):
        """`lockout_on_429`: seconds a 429 *without* Retry-After locks the firm out (no call at all
        until then) instead of the default one-second back-off."""
        self.firm_code = firm_code
        self.base_url = base_url.rstrip("/")
        self.session = _session_for(self.base_url)
        self.session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0))
        self._secrets = [s for s in secrets if s]
        self.blocked_until = 0.0  # monotonic time before which we honour the firm's 429 back-off
        self.lockout_on_429 = lockout_on_429
        self._lockouts: dict[str, tuple[float, str]] = {}  # path ("*": every path) -> (epoch end, reason)

    def add_secret(self, value: str | None) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)

    def redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:500]

    def close(self) -> None:
        self.session.close()

    def _timeout(self, deadline: Deadline) -> tuple[float, float]:
        left = deadline.remaining()
        return (min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left))

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def lock_out(self, seconds: float, reason: str, path: str = "*") -> LockedOut:
        """Send nothing to `path` ("*": anywhere) for `seconds`; the error to raise now."""
        until = time.time() + seconds
        self._lockouts[path] = (until, reason)
        log.warning("%s locked out (%s) for %.0f s on %s", self.firm_code, reason, seconds, path)
        return self._locked_error(path, until, reason)

    def locked(self, path: str) -> LockedOut | None:
        """The lockout covering `path` now, if any."""
        now = time.time()
        for key in ("*", path):
            until, reason = self._lockouts.get(key, (0.0, ""))
            if until > now:
                return self._locked_error(key, until, reason)
        return None

    def _locked_error(self, path: str, until: float, reason: str) -> LockedOut:
        where = "" if path == "*" else f" on {path}"
        at = time.strftime("%H:%M:%S UTC", time.gmtime(until))
        return LockedOut(reason, f"{self.firm_code} locked this service out{where} until {at} ({reason}); "
                                 f"nothing is sent before then", until)

    def _refuse_if_locked(self, path: str) -> None:
        locked = self.locked(path)
        if locked is not None:
            raise locked

    def _note_rate_limit(self, response: requests.Response, path: str) -> float:
        """HTTP 429: remember the firm's Retry-After (default 1 s) so we do not hammer it; a firm
        whose 429 means a lockout (`lockout_on_429`) and gave no Retry-After raises LockedOut."""
        if self.lockout_on_429 is not None and "Retry-After" not in response.headers:
            raise self.lock_out(self.lockout_on_429, "FIRM_LOCKED_OUT") from None
        try:
            wait = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            wait = 1.0
        wait = min(max(wait, 0.0), 60.0)
        self.blocked_until = time.monotonic() + wait
        return wait

    def read(self, method: str, path: str, *, deadline: Deadline, headers: dict[str, str] | None = None,
             json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """An idempotent call (a query, a login, a token renewal): retried on timeouts, 5xx and
        429, at most READ_ATTEMPTS times, with exponential back-off, never past the deadline."""
        self._refuse_if_locked(path)
        last: ConnectorError = NotSent("DEADLINE_EXCEEDED", "no time left for the request")
        for attempt in range(READ_ATTEMPTS):
            if deadline.remaining() < 0.05:
                break
            try:
                response = self.session.request(method, self.base_url + path, headers=headers, json=json,
                                                params=params, timeout=self._timeout(deadline))
            except requests.RequestException as exc:
                last = NotSent("HTTP_ERROR", f"{type(exc).__name__} on {path}")
                self._sleep(BACKOFF * 2 ** attempt, deadline)
                continue
            if response.status_code == 429:
                last = NotSent("RATE_LIMITED", f"HTTP 429 on {path}")
                self._sleep(self._note_rate_limit(response, path), deadline)
                continue
            if response.status_code >= 500:
                last = NotSent("FIRM_ERROR", f"HTTP {response.status_code} on {path}")
                self._sleep(BACKOFF * 2 ** attempt, deadline)
                continue
            if response.status_code >= 400:
                raise Rejected(f"HTTP_{response.status_code}", self.redact(f"{path}: {response.text}") or "")
            return self._json(response)
        raise last

    def submit(self, method: str, path: str, *, deadline: Deadline, headers: dict[str, str] | None = None,
               json: Any = None, wait_back_off: bool = True) -> tuple[int, Any]:
        """An order submission. Returns (status, body) for answers the connector must interpret
        (2xx, 4xx); raises NotSent / OutcomeUnknown otherwise.

        Sent once, except after an HTTP 429: the firm answers it instead of processing the
        request (https://www.rfc-editor.org/rfc/rfc6585#section-4), so nothing was executed and the
        same request is not a blind resend once the back-off is over (docs/design.md, Orders to
        firms). The firm's back-off (Retry-After) is waited out when it leaves SEND_RESERVE of the deadline -
        an exit held up a second is still an exit, where failing it would leave the position
        open until the trader notices - and fails the order unsent when it does not.
        `wait_back_off=False` never waits (an order sized from a position read just before, which
        a wait could let change): inside a back-off, or on a 429, it fails unsent.
        """
        for _ in range(2 if wait_back_off else 1):
            self._refuse_if_locked(path)
            self._wait_out_back_off(deadline, wait=wait_back_off)
            if deadline.remaining() < 0.1:
                raise NotSent("DEADLINE_EXCEEDED", "no time left to send the order")
            try:
                response = self.session.request(method, self.base_url + path, headers=headers, json=json,
                                                timeout=self._timeout(deadline))
            except requests.ConnectionError as exc:
                if _connect_failed(exc):
                    raise NotSent("CONNECT_ERROR", f"could not connect to {self.firm_code}") from None
                raise OutcomeUnknown("CONNECTION_LOST", f"connection lost after sending to {path}") from None
            except requests.Timeout:
                raise OutcomeUnknown("TIMEOUT_AFTER_SEND", f"no answer from {path} in time") from None
            except requests.RequestException as exc:
                raise OutcomeUnknown("HTTP_ERROR", f"{type(exc).__name__} on {path}") from None
            if response.status_code != 429:
                break
            self._note_rate_limit(response, path)  # then wait it out, if it fits, and send again
        else:
            raise NotSent("RATE_LIMITED", f"{self.firm_code} answered HTTP 429; order not sent")
        if response.status_code >= 500:
            raise OutcomeUnknown("FIRM_ERROR", f"{self.firm_code} answered HTTP {response.status_code}")
        return response.status_code, self._json(response)

    def _wait_out_back_off(self, deadline: Deadline, wait: bool = True) -> None:
        """Sleep through the rest of the firm's 429 back-off, or raise NotSent if it would not
        leave SEND_RESERVE seconds of the deadline for the order itself (or `wait` is False)."""
        left = self.blocked_until - time.monotonic()
        if left <= 0:
            return
        if not wait or left + SEND_RESERVE > deadline.remaining():
            raise NotSent("RATE_LIMITED", f"{self.firm_code} asked us to back off (HTTP 429) for {left:.1f} s more, "
                                          "longer than this signal's time allows; order not sent")
        time.sleep(left)

    @staticmethod
    def _sleep(seconds: float, deadline: Deadline) -> None:
        time.sleep(max(0.0, min(seconds, deadline.remaining() - 0.05)))
