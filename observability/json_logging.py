"""Structured logs: one JSON object per line, with the task's ids, secrets scrubbed.

Railway, Loki, Datadog and `jq` all read JSON lines; a line about a task carries `task_id` and
`trade_id` (from observability.task_context) so one trade's story is one filter away.

Redaction is applied to the *finished* line (message, arguments and traceback together), because
a secret can arrive through any of them: a database URL in a connection error, a token echoed in a
broker's error body. Two nets: the exact secret values known from settings, and key patterns such
as `token=...`, `"password": "..."`, `Authorization: Bearer ...`.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import urlsplit

from observability.task_context import current_task

REDACTED = "[REDACTED]"

# key=value, key: value, "key": "value" for keys that name a secret; the value ends at a
# delimiter. Also `Bearer <token>` / `Basic <credentials>` and passwords inside URLs.
_KEY_PATTERN = re.compile(
    r"""(?P<key>["']?[\w-]*(?:token|secret|password|passwd|passphrase|api[_-]?key|authorization)[\w-]*["']?)"""
    r"""(?P<sep>\s*[:=]\s*)(?P<quote>["']?)(?P<value>(?:Bearer\s+|Basic\s+)?[^\s"',;&}]+)""",
    re.IGNORECASE,
)
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<password>[^@/\s]+)@", re.IGNORECASE)


class Redactor:
    """Scrubs known secret values and secret-looking key/value pairs from text."""

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so a URL containing a shorter secret is replaced whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
        text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return _KEY_PATTERN.sub(
            lambda m: m.group(0) if m.group("value").endswith(REDACTED) or m.group("value") == REDACTED
            else f"{m.group('key')}{m.group('sep')}{m.group('quote')}{REDACTED}",
            text,
        )


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "task_id"?, "trade_id"?, "exception"?}` per line."""

    def __init__(self, redactor: Redactor | None = None):
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redactor(record.getMessage()),
        }
        entry.update(current_task())
        if record.exc_info:
            entry["exception"] = self.redactor(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self.redactor(record.exc_text)
        return json.dumps(entry, default=str, ensure_ascii=False)


class RedactingTextFormatter(logging.Formatter):
    """LOG_FORMAT=text: the classic line, still with task ids and still redacted."""

    def __init__(self, redactor: Redactor | None = None):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={v}" for k, v in current_task().items())
        return self.redactor(f"{line} [{ids}]" if ids else line)


def settings_secrets(settings: object) -> list[str]:
    """Every secret value the settings hold (webhook secret, admin token, DB URL, firm keys, notify URLs)."""
    found: list[str] = []
    for name in ("webhook_secret", "admin_token", "database_url"):
        value = getattr(settings, name, None)
        if value is not None:
            found.append(value.get_secret_value())
    for url in getattr(settings, "notify_urls", {}).values():
        found.append(url.get_secret_value())
        # urllib3 logs requests as "POST <path> HTTP/1.1" at DEBUG: Discord's and Telegram's tokens
        # are in the path, which the full URL does not match
        path = urlsplit(url.get_secret_value()).path
        if len(path) >= 8:
            found.append(path)
    for firm in getattr(settings, "firms", {}).values():
        found.extend(s.get_secret_value() for s in firm.secrets.values())
    return found


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (test runners and servers swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def install_handler(level: str, fmt: str, secrets: Iterable[str]) -> logging.Handler:
    """Replace our previous handler on the root logger (settings may have changed) with a new one."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_execution_router", False)]:
        root.removeHandler(old)
    handler = StderrHandler()
    redactor = Redactor(secrets)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else RedactingTextFormatter(redactor))
    handler._execution_router = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
