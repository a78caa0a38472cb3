"""JSON log lines and secret redaction (pure parts)."""
from __future__ import annotations

import json
import logging

import pytest

from observability.json_logging import REDACTED, JsonFormatter, Redactor
from observability.task_context import bind_task, clear_task


@pytest.mark.parametrize("text", [
    "token=abc123def", "api_key: sk_live_999", '{"password": "hunter22"}', "Authorization: Bearer eyJhbGciOi.x.y",
    "X-Webhook-Secret=s3cr3tval", "postgresql://router:pa55word@db.internal:5432/app", "passphrase='open sesame'",
])
def test_secret_patterns_are_scrubbed(text):
    out = Redactor()(text)
    assert REDACTED in out
    for secret in ("abc123def", "sk_live_999", "hunter22", "eyJhbGciOi", "s3cr3tval", "pa55word", "open"):
        assert secret not in out


def test_known_secret_values_are_scrubbed_anywhere():
    out = Redactor(["topsecretvalue42"])("broker said: bad credentials topsecretvalue42 (retry)")
    assert out == f"broker said: bad credentials {REDACTED} (retry)"


def test_harmless_text_is_untouched():
    text = "Daily loss -1200.0 exceeds max_daily_loss 1000.0. tokens_used=3 is fine? no: token_count"
    assert Redactor()("Daily loss -1200.0 exceeds max_daily_loss 1000.0.") == "Daily loss -1200.0 exceeds max_daily_loss 1000.0."
    assert "max_daily_loss" in Redactor()(text)


def test_one_json_object_per_line_with_task_ids():
    formatter = JsonFormatter(Redactor(["hook-secret-1"]))
    record = logging.LogRecord("execution_router", logging.WARNING, __file__, 1, "sent %s with %s", ("order", "hook-secret-1"), None)
    bind_task(task_id=7, trade_id="20251209_100400000_BULLISH")
    try:
        line = formatter.format(record)
    finally:
        clear_task()
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["task_id"] == 7 and entry["trade_id"] == "20251209_100400000_BULLISH"
    assert entry["level"] == "WARNING" and entry["message"] == f"sent order with {REDACTED}"
    assert "task_id" not in json.loads(formatter.format(record))  # unbound: no stale ids


def test_tracebacks_are_redacted_and_stay_on_one_line():
    formatter = JsonFormatter(Redactor())
    try:
        raise ValueError("connect failed: password=letmein")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    line = formatter.format(record)
    assert "\n" not in line and "letmein" not in line and "ValueError" in json.loads(line)["exception"]


def test_a_notification_url_path_is_a_secret_too():
    """urllib3 logs "POST <path> HTTP/1.1" at DEBUG; Discord's and Telegram's tokens are in the path."""
    from config import parse_settings
    from observability.json_logging import settings_secrets

    settings = parse_settings({"NOTIFY_DISCORD_URL": "https://discord.com/api/webhooks/123/DiscordTok3n",
                               "NOTIFY_TELEGRAM_URL": "https://api.telegram.org/botTgTok3n/sendMessage",
                               "NOTIFY_TELEGRAM_CHAT_ID": "-100"})
    redact = Redactor(settings_secrets(settings))
    for line in ('https://discord.com:443 "POST /api/webhooks/123/DiscordTok3n HTTP/1.1" 204 0',
                 'https://api.telegram.org:443 "POST /botTgTok3n/sendMessage HTTP/1.1" 200 77'):
        out = redact(line)
        assert "DiscordTok3n" not in out and "TgTok3n" not in out and REDACTED in out
