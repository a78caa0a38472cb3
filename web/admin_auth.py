"""Bearer-token protection for admin endpoints (`Authorization: Bearer {ADMIN_TOKEN}`).

Fail closed: with no ADMIN_TOKEN configured, admin endpoints answer 403 instead of being open.
The comparison is constant-time so the token cannot be guessed byte by byte from timings.
"""
from __future__ import annotations

import hmac
from functools import wraps
from typing import Any, Callable

from flask import current_app, request

from web.errors import error_response


def admin_token_ok() -> bool | None:
    """True/False for a supplied token; None when no ADMIN_TOKEN is configured."""
    expected = current_app.config["ROUTER_SETTINGS"].admin_token
    if expected is None:
        return None
    header = request.headers.get("Authorization", "")
    supplied = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return bool(supplied) and hmac.compare_digest(supplied.encode(), expected.get_secret_value().encode())


def require_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ok = admin_token_ok()
        if ok is None:
            return error_response(403, "admin_disabled", "Set ADMIN_TOKEN to use admin endpoints.")
        if not ok:
            return error_response(401, "unauthorized", "Missing or wrong admin token (Authorization: Bearer ...).")
        return view(*args, **kwargs)

    return wrapper
