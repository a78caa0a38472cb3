"""Signed dashboard sessions and their CSRF tokens, as pure functions of a key and a time.

No Flask here: web/browser_auth.py reads cookies, the clock and the revocation table and calls
these, so expiry and tampering are unit-tested without a request. Times are whole seconds since
the epoch, always passed in (the caller's clock is injectable; nothing here reads the time).

- The key is derived from ADMIN_TOKEN (`signing_key`): changing the token voids every session
  and form token, and the key itself never leaves the process.
- A session cookie is `itsdangerous`-signed JSON `{"sid", "iat", "exp"}`: a random id, its issue
  time and its expiry. It is valid until `exp` and never longer than `SESSION_MAX_AGE_SECONDS`
  after `iat` (so lowering the constant also shortens sessions already issued).
- A CSRF token is signed with the same key under another salt, so neither can stand in for the
  other. For a session it carries a digest of the session id (bound to that session, useless with
  any other); for header access (basic auth, Bearer) it carries a random nonce and its issue time
  and expires like a session.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

SESSION_MAX_AGE_SECONDS = 12 * 3600
"""How long a dashboard session (and a header-access form token) is accepted after it is issued."""

_SESSION_SALT = "execution-router.dashboard-session"
_CSRF_SALT = "execution-router.dashboard-csrf"
_SESSION_ID_BYTES = 18  # 144 random bits


@dataclass(frozen=True)
class BrowserSession:
    sid: str
    issued_at: int
    expires_at: int

    @property
    def key(self) -> str:
        """What the server stores about the session (revocation): a digest, never the id."""
        return hashlib.sha256(self.sid.encode()).hexdigest()


def signing_key(admin_token: bytes) -> bytes:
    """The sessions' signing key, derived from ADMIN_TOKEN for this one purpose."""
    return hmac.new(admin_token, b"execution-router:dashboard-session-key", hashlib.sha256).digest()


class SessionSigner:
    """Issues and checks session cookies and CSRF tokens under one key."""

    def __init__(self, key: bytes, max_age: int = SESSION_MAX_AGE_SECONDS) -> None:
        self._sessions = URLSafeSerializer(key, salt=_SESSION_SALT)
        self._csrf = URLSafeSerializer(key, salt=_CSRF_SALT)
        self.max_age = max_age

    # -- sessions --------------------------------------------------------------------------------

    def issue(self, now: int) -> tuple[str, BrowserSession]:
        """A new session with its own random id: (cookie value, session)."""
        session = BrowserSession(secrets.token_urlsafe(_SESSION_ID_BYTES), now, now + self.max_age)
        cookie = self._sessions.dumps({"sid": session.sid, "iat": session.issued_at, "exp": session.expires_at})
        return cookie, session

    def read(self, cookie: str, now: int) -> BrowserSession | None:
        """The session a cookie holds, or None if it is forged, malformed or expired."""
        payload = _loads(self._sessions, cookie)
        if payload is None:
            return None
        sid, iat, exp = payload.get("sid"), payload.get("iat"), payload.get("exp")
        if not (isinstance(sid, str) and sid and _is_int(iat) and _is_int(exp)):
            return None
        if now >= min(exp, iat + self.max_age):
            return None
        return BrowserSession(sid, iat, exp)

    # -- CSRF ------------------------------------------------------------------------------------

    def csrf_for_session(self, session: BrowserSession) -> str:
        return self._csrf.dumps({"for": "session", "key": session.key})

    def csrf_for_header_access(self, now: int) -> str:
        """For basic-auth / Bearer pages, which have no session: a signed, expiring nonce."""
        return self._csrf.dumps({"for": "header", "nonce": secrets.token_urlsafe(12), "iat": now})

    def csrf_valid(self, supplied: str | None, session: BrowserSession | None, now: int) -> bool:
        """Whether a form token fits this request: its session's, or a fresh header-access one."""
        payload = _loads(self._csrf, supplied or "")
        if payload is None:
            return False
        if session is not None:
            key = payload.get("key")
            return payload.get("for") == "session" and isinstance(key, str) and hmac.compare_digest(key, session.key)
        iat = payload.get("iat")
        return payload.get("for") == "header" and _is_int(iat) and now < iat + self.max_age


def _loads(serializer: URLSafeSerializer, value: str) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        payload = serializer.loads(value)
    except BadData:
        return None
    return payload if isinstance(payload, dict) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
