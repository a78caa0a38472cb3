"""Signed dashboard sessions and CSRF tokens (web/browser_session.py): pure, times passed in."""
from __future__ import annotations

import hashlib
import hmac

from web.browser_session import SESSION_MAX_AGE_SECONDS, SessionSigner, signing_key

TOKEN = b"unit-test-admin-token"
NOW = 1_800_000_000


def signer(token: bytes = TOKEN, **kwargs: int) -> SessionSigner:
    return SessionSigner(signing_key(token), **kwargs)


def test_the_lifetime_is_twelve_hours():
    assert SESSION_MAX_AGE_SECONDS == 12 * 3600


def test_each_session_has_its_own_id_issue_time_and_expiry():
    (first_cookie, first), (second_cookie, second) = signer().issue(NOW), signer().issue(NOW)
    assert first_cookie != second_cookie and first.sid != second.sid
    assert (first.issued_at, first.expires_at) == (NOW, NOW + SESSION_MAX_AGE_SECONDS)
    assert signer().read(first_cookie, NOW) == first
    assert TOKEN.decode() not in first_cookie and signing_key(TOKEN).hex() not in first_cookie


def test_a_session_ends_at_its_expiry():
    cookie, _ = signer().issue(NOW)
    assert signer().read(cookie, NOW + SESSION_MAX_AGE_SECONDS - 1) is not None
    assert signer().read(cookie, NOW + SESSION_MAX_AGE_SECONDS) is None


def test_a_shorter_lifetime_also_cuts_sessions_already_issued():
    cookie, _ = signer().issue(NOW)
    assert signer(max_age=60).read(cookie, NOW + 60) is None


def test_forged_tampered_and_foreign_cookies_are_refused():
    cookie, _ = signer().issue(NOW)
    old = hmac.new(TOKEN, b"execution-router:session", hashlib.sha256).hexdigest()
    for value in (old, "", "x" + cookie, cookie[:-1], "not.a.cookie"):
        assert signer().read(value, NOW) is None, value
    assert signer(b"another-token").read(cookie, NOW) is None  # a new ADMIN_TOKEN voids it


def test_a_csrf_token_is_not_a_session_cookie_and_vice_versa():
    cookie, session = signer().issue(NOW)
    assert signer().read(signer().csrf_for_session(session), NOW) is None
    assert not signer().csrf_valid(cookie, session, NOW)


def test_the_csrf_token_is_bound_to_its_session():
    _, first = signer().issue(NOW)
    _, second = signer().issue(NOW)
    token = signer().csrf_for_session(first)
    assert signer().csrf_valid(token, first, NOW)
    assert not signer().csrf_valid(token, second, NOW)
    assert not signer().csrf_valid(token, None, NOW)  # nor for header access
    assert not signer(b"another-token").csrf_valid(token, first, NOW)
    old = hmac.new(TOKEN, b"execution-router:csrf", hashlib.sha256).hexdigest()
    assert not signer().csrf_valid(old, first, NOW) and not signer().csrf_valid(None, first, NOW)


def test_a_header_access_csrf_token_expires_and_fits_no_session():
    token = signer().csrf_for_header_access(NOW)
    assert token != signer().csrf_for_header_access(NOW)
    assert signer().csrf_valid(token, None, NOW + SESSION_MAX_AGE_SECONDS - 1)
    assert not signer().csrf_valid(token, None, NOW + SESSION_MAX_AGE_SECONDS)
    _, session = signer().issue(NOW)
    assert not signer().csrf_valid(token, session, NOW)
