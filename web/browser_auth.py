"""Admin access for people with a browser, on top of the Bearer token (web/admin_auth.py).

A browser cannot send `Authorization: Bearer`, so three ways are accepted, all checking ADMIN_TOKEN:
1. `Authorization: Bearer <ADMIN_TOKEN>` (scripts, curl, the query API);
2. HTTP basic auth with ADMIN_TOKEN as the password (any user name): the browser asks once;
3. `/dashboard?token=<ADMIN_TOKEN>` once: answered with a redirect to the same page without the
   token, setting an HttpOnly, SameSite=Strict session cookie. The cookie holds an HMAC derived
   from the token, not the token, and stops working when ADMIN_TOKEN changes.
State-changing forms also carry a CSRF field derived the same way (basic-auth credentials are
resent by the browser on cross-site requests; SameSite alone would not cover them).
Fail closed: without ADMIN_TOKEN every admin page answers 403.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlencode

from flask import current_app, redirect, request

from web.admin_auth import admin_token_ok
from web.errors import error_response

COOKIE_NAME = "er_admin"
COOKIE_MAX_AGE = 12 * 3600


def _token() -> bytes | None:
    expected = current_app.config["ROUTER_SETTINGS"].admin_token
    return expected.get_secret_value().encode() if expected is not None else None


def derived(purpose: str) -> str:
    """A value derived from ADMIN_TOKEN for one purpose (session cookie, CSRF field)."""
    token = _token()
    assert token is not None
    return hmac.new(token, f"execution-router:{purpose}".encode(), hashlib.sha256).hexdigest()


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


def browser_admin_ok() -> bool | None:
    """True/False for the credentials supplied; None when no ADMIN_TOKEN is configured."""
    token = _token()
    if token is None:
        return None
    if admin_token_ok() or _basic_ok(token):
        return True
    cookie = request.cookies.get(COOKIE_NAME, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), derived("session").encode())


def csrf_ok(supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(supplied.encode(), derived("csrf").encode())


def require_admin_browser(*, html: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Protect a view; `html=True` pages also accept `?token=` and ask for basic auth on 401."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ok = browser_admin_ok()
            if ok is None:
                return error_response(403, "admin_disabled", "Set ADMIN_TOKEN to use the dashboard and admin API.")
            supplied = request.args.get("token")
            if html and supplied is not None:
                token = _token()
                assert token is not None
                if hmac.compare_digest(supplied.encode(), token):
                    rest = {k: v for k, v in request.args.items() if k != "token"}
                    response = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), code=303)
                    response.set_cookie(COOKIE_NAME, derived("session"), max_age=COOKIE_MAX_AGE, httponly=True,
                                        samesite="Strict", secure=request.is_secure, path="/")
                    return response
                ok = False
            if not ok:
                response = error_response(401, "unauthorized", "Missing or wrong admin token.")
                if html:
                    response[0].headers["WWW-Authenticate"] = 'Basic realm="execution-router", charset="UTF-8"'
                return response
            result = view(*args, **kwargs)
            if html:
                response = current_app.make_response(result)
                response.headers["Cache-Control"] = "no-store"
                return response
            return result

        return wrapper

    return decorate

