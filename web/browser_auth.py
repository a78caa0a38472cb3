"""Admin access for people with a browser, on top of the Bearer token (web/admin_auth.py).

A browser cannot send `Authorization: Bearer`, so three ways are accepted, all checking ADMIN_TOKEN:
1. `Authorization: Bearer <ADMIN_TOKEN>` (scripts, curl, the query API);
2. HTTP basic auth with ADMIN_TOKEN as the password (any user name): the browser asks once;
3. `/dashboard?token=<ADMIN_TOKEN>` once: answered with a redirect to the same page without the
   token, starting a session (below). This link is the only place a session starts.
Fail closed: without ADMIN_TOKEN every admin page answers 403.

Sessions (web/browser_session.py does the signing). The cookie (HttpOnly, SameSite=Strict, Secure
on https) holds a signed `{random session id, issue time, expiry}`, never the token or the key.
The server checks the signature, the expiry (`SESSION_MAX_AGE_SECONDS` there, 12 h) and the
revocation list on every request, so two logins get different sessions, a stolen cookie stops
working at its expiry whatever the browser keeps, and changing ADMIN_TOKEN (the signing key is
derived from it) voids every session at once.

Logout (`POST /dashboard/logout`, with CSRF) clears the cookie and records a digest of the session
id, with the session's expiry, in `dashboard_session_revocations` (database/session_repository.py).
Several gunicorn workers and instances share that database, so a copy of the cookie is refused
everywhere afterwards; a revocation is only needed until the session would have expired anyway,
so rows are pruned then (plus a margin for clocks that differ between instances). A revocation
list rather than a table of live sessions: a login writes nothing, and only the rare logout does.

CSRF. Every state-changing form carries a token signed with the session key (another salt):
- with a session, it names that session (a digest of its id): a token from another session, or
  one computed from ADMIN_TOKEN alone, is refused;
- with basic auth (the browser resends those credentials on cross-site requests, so they need
  CSRF too) or Bearer there is no session: the page gets a signed random nonce with its issue
  time, valid `SESSION_MAX_AGE_SECONDS`, that only someone able to read an admin page can have.
  Logging out cannot end basic auth: the browser keeps resending the password until it closes.

Time comes from `app.config[CLOCK_CONFIG_KEY]` when set (a callable returning an aware datetime),
so tests move past an expiry without sleeping; otherwise the system clock in UTC.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, Literal
from urllib.parse import urlencode

from flask import Response, current_app, g, redirect, request

from database.session_repository import DashboardSessionRepository
from web.admin_auth import admin_token_ok
from web.browser_session import BrowserSession, SessionSigner, signing_key
from web.errors import error_response

COOKIE_NAME = "er_admin"
CLOCK_CONFIG_KEY = "DASHBOARD_SESSION_CLOCK"
REVOCATION_KEEP_AFTER_EXPIRY = dt.timedelta(hours=1)
"""A revocation outlives its session by this much, for instances whose clocks lag behind."""

AccessMethod = Literal["bearer", "basic", "session"]


@dataclass(frozen=True)
class AdminAccess:
    method: AccessMethod
    session: BrowserSession | None = None


def _token() -> bytes | None:
    expected = current_app.config["ROUTER_SETTINGS"].admin_token
    return expected.get_secret_value().encode() if expected is not None else None


def _signer(token: bytes) -> SessionSigner:
    return SessionSigner(signing_key(token))


def _now() -> dt.datetime:
    clock: Callable[[], dt.datetime] | None = current_app.config.get(CLOCK_CONFIG_KEY)
    return clock() if clock is not None else dt.datetime.now(dt.timezone.utc)


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _revocations() -> DashboardSessionRepository:
    return DashboardSessionRepository(current_app.extensions["db_engine"])


def _basic_ok(token: bytes) -> bool:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, _, password = decoded.partition(":")
    return bool(password) and hmac.compare_digest(password.encode(), token)


def _cookie_session(token: bytes) -> BrowserSession | None:
    """The request's session if its cookie is genuine, unexpired and not logged out."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    session = _signer(token).read(cookie, _epoch(_now())) if cookie else None
    if session is None or _revocations().is_revoked(session.key):
        return None
    return session


def _resolve_access(token: bytes) -> AdminAccess | None:
    if admin_token_ok():
        return AdminAccess("bearer")
    if _basic_ok(token):
        return AdminAccess("basic")
    session = _cookie_session(token)
    return AdminAccess("session", session) if session is not None else None


def _access() -> AdminAccess | None:
    """This request's admin access (None: refused), resolved once per request."""
    if "_admin_access" not in g:
        token = _token()
        g._admin_access = _resolve_access(token) if token is not None else None
    return g._admin_access


def access_method() -> AccessMethod | None:
    """How this request got in (the page offers logout only to a session)."""
    access = _access()
    return access.method if access is not None else None


def csrf_token() -> str:
    """The form token for this request's pages: bound to its session, else a signed nonce."""
    token, access = _token(), _access()
    assert token is not None and access is not None, "only for admin-authenticated requests"
    signer = _signer(token)
    if access.session is not None:
        return signer.csrf_for_session(access.session)
    return signer.csrf_for_header_access(_epoch(_now()))


def csrf_ok(supplied: str | None) -> bool:
    token, access = _token(), _access()
    if token is None or access is None:
        return False
    return _signer(token).csrf_valid(supplied, access.session, _epoch(_now()))


def _cookie_options() -> dict[str, Any]:
    return {"httponly": True, "samesite": "Strict", "secure": request.is_secure, "path": "/"}


def _start_session(token: bytes, response: Response) -> Response:
    now = _epoch(_now())
    cookie, session = _signer(token).issue(now)
    response.set_cookie(COOKIE_NAME, cookie, max_age=session.expires_at - now, **_cookie_options())
    return response


def end_session(response: Response) -> Response:
    """Logout: refuse the request's session everywhere from now on, and clear the cookie."""
    token = _token()
    session = _cookie_session(token) if token is not None else None
    if session is not None:
        expires = dt.datetime.fromtimestamp(session.expires_at, dt.timezone.utc)
        _revocations().revoke(session.key, expires + REVOCATION_KEEP_AFTER_EXPIRY,
                              prune_before=_now())
    response.delete_cookie(COOKIE_NAME, **_cookie_options())
    return response


def _login(token: bytes, supplied: str) -> Any:
    """`?token=`: a new session and a redirect that drops the token from the address bar."""
    if not hmac.compare_digest(supplied.encode(), token):
        return _refused(html=True)
    rest = {k: v for k, v in request.args.items() if k != "token"}
    response = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), code=303)
    return _start_session(token, response)


def _refused(*, html: bool, forget_cookie: bool = False) -> Any:
    body, status = error_response(401, "unauthorized", "Missing or wrong admin token.")
    if html:
        body.headers["WWW-Authenticate"] = 'Basic realm="execution-router", charset="UTF-8"'
    if forget_cookie and COOKIE_NAME in request.cookies:  # expired, forged or logged out
        body.delete_cookie(COOKIE_NAME, **_cookie_options())
    return body, status


def require_admin_browser(*, html: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Protect a view; `html=True` pages also accept `?token=` and ask for basic auth on 401."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _token()
            if token is None:
                return error_response(403, "admin_disabled", "Set ADMIN_TOKEN to use the dashboard and admin API.")
            supplied = request.args.get("token") if html else None
            if supplied is not None:
                return _login(token, supplied)
            if _access() is None:
                return _refused(html=html, forget_cookie=True)
            result = view(*args, **kwargs)
            if html:
                response = current_app.make_response(result)
                response.headers["Cache-Control"] = "no-store"
                return response
            return result

        return wrapper

    return decorate
