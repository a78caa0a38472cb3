"""Logs, metrics and notifications seen from outside: a real app, real HTTP to a local receiver."""
from __future__ import annotations

import json
import logging
import re

import pytest

from connectors.orders import ConnectorResult, OrderRequest
from observability.notifications import BREACH_REJECTED, CONNECTOR_FAILED, TASK_FAILED, Notification, Notifier
from tests.conftest import GUIDE_PAYLOAD
from tests.e2e.receiver import receiver  # noqa: F401 (fixture)
from tests.observability_fakes import AcceptingConnector, install_stub_router, post_json, run_scenario_over_http

WEBHOOK = "/api/automated-signals/webhook"
FTMO_KEY = "ftmo-api-key-98765"
HOOK_SECRET = "tv-hook-secret-4242"


def metric(text: str, name: str, **labels: str) -> float:
    """A sample's value from exposition text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return 0.0


# ---- logs ---------------------------------------------------------------------------------------

class LeakyConnector(AcceptingConnector):
    """A broker error that echoes credentials back (it happens); the logs must not repeat them."""

    def _place_entry(self, order: OrderRequest, deadline=None) -> ConnectorResult:
        raise PermissionError(f"401 from broker for key {FTMO_KEY}; retry with api_key=other-key-1")


def test_every_task_log_line_is_json_with_ids_and_no_secrets(make_app, capsys):
    app = make_app(ADMIN_TOKEN="adm-token-777777", WEBHOOK_SECRET=HOOK_SECRET, FTMO_API_KEY=FTMO_KEY)
    router = install_stub_router(app)
    router.connectors = {"FTMO": LeakyConnector(router.settings.firms["FTMO"], dry_run=False),
                         "APEX": LeakyConnector(router.settings.firms["APEX"], dry_run=False)}
    capsys.readouterr()
    client = app.test_client()
    post_json(client, f"{WEBHOOK}?token={HOOK_SECRET}", GUIDE_PAYLOAD)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    about_task = [e for e in entries if e["logger"].startswith(("connectors", "execution_router"))]
    assert any("raised" in e["message"] for e in about_task), entries
    for entry in about_task:
        assert entry["task_id"] == 1 and entry["trade_id"] == GUIDE_PAYLOAD["trade_id"], entry
    text = "\n".join(lines)
    assert FTMO_KEY not in text and "other-key-1" not in text and HOOK_SECRET not in text
    assert "[REDACTED]" in text


# ---- metrics ------------------------------------------------------------------------------------

def test_metrics_count_requests_latency_rejections_and_connector_results(make_app):
    app = make_app()
    client = app.test_client()
    before = client.get("/metrics").data.decode()
    run_scenario_over_http(app, client)
    assert client.post(WEBHOOK, data="not json").status_code == 400
    assert client.post(WEBHOOK, data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1)).status_code == 413
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    after = response.data.decode()

    def delta(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("execution_router_webhook_requests_total", status="200") == 5
    assert delta("execution_router_webhook_requests_total", status="400") == 1
    assert delta("execution_router_webhook_requests_total", status="413") == 1
    assert delta("execution_router_task_duration_seconds_count", action="ENTRY") == 3
    assert delta("execution_router_task_duration_seconds_count", action="EXIT") == 1
    assert delta("execution_router_tasks_total", status="FAILED", action="ENTRY") == 1
    assert delta("execution_router_rejections_total", firm="FTMO", stage="risk", rule="MAX_DAILY_LOSS", status="REJECTED") == 1
    assert delta("execution_router_rejections_total", firm="APEX", stage="breach", rule="MAX_DAILY_LOSS", status="REJECTED") == 1
    assert delta("execution_router_connector_results_total", firm="FTMO", status="SUCCESS") == 2
    assert delta("execution_router_connector_results_total", firm="APEX", status="FAILED") == 1
    assert metric(after, "execution_router_trading_state", state="ACTIVE") == 1  # the persisted switch
    assert metric(after, "execution_router_trading_state", state="UNKNOWN") == 0


# ---- notifications ------------------------------------------------------------------------------

def test_breach_connector_and_task_failures_are_notified_per_channel(make_app, receiver):
    app = make_app(NOTIFY_WEBHOOK_URL=f"{receiver.url}/generic", NOTIFY_DISCORD_URL=f"{receiver.url}/discord",
                   NOTIFY_SLACK_URL=f"{receiver.url}/slack", NOTIFY_TELEGRAM_URL=f"{receiver.url}/telegram",
                   NOTIFY_TELEGRAM_CHAT_ID="-100123")
    client = app.test_client()
    try:
        run_scenario_over_http(app, client)
        bodies = receiver.wait_for(12)  # 3 events x 4 channels
    finally:
        app.extensions["notifier"].close()
    generic = [b for path, b in bodies if path == "/generic"]
    assert sorted(b["kind"] for b in generic) == sorted([CONNECTOR_FAILED, BREACH_REJECTED, TASK_FAILED])
    breach = next(b for b in generic if b["kind"] == BREACH_REJECTED)
    assert (breach["firm_code"], breach["program_id"], breach["rule"]) == ("APEX", 1, "MAX_DAILY_LOSS")
    assert any("account ledger unavailable" in b["text"] for b in generic)
    assert all("content" in b for path, b in bodies if path == "/discord")
    assert all("text" in b and "kind" not in b for path, b in bodies if path == "/slack")
    assert all(b["chat_id"] == "-100123" for path, b in bodies if path == "/telegram")
    assert len(bodies) == 12


def test_a_hanging_receiver_never_holds_up_the_webhook_and_overflow_is_dropped(make_app, receiver, caplog):
    receiver.release.clear()  # the receiver accepts connections but never answers until released
    app = make_app(NOTIFY_WEBHOOK_URL=f"{receiver.url}/slow")
    app.extensions["notifier"] = Notifier({"webhook": f"{receiver.url}/slow"}, max_queue=1, timeout=(2.0, 20.0))
    client = app.test_client()
    router = install_stub_router(app)
    router.accounts.ledger_down = True  # every signal is a failed task -> one notification each
    with caplog.at_level(logging.WARNING, logger="observability.notifications"):
        for n in range(4):
            body = post_json(client, WEBHOOK, dict(GUIDE_PAYLOAD, trade_id=f"20251122_14300{n}_BULLISH"))
            assert body["error"].startswith("RuntimeError")
    # All four answered while the receiver had not answered a single notification.
    assert receiver.bodies == []
    assert app.extensions["notifier"].dropped >= 2
    assert "notification queue full: dropped TASK_FAILED notification" in caplog.text
    receiver.release.set()
    assert receiver.wait_for(1)[0][1]["kind"] == TASK_FAILED
    app.extensions["notifier"].close()


def test_notifier_failures_are_logged_without_the_url(caplog):
    notifier = Notifier({"discord": "http://127.0.0.1:9/webhooks/123/SECRET-PATH-TOKEN"}, timeout=(0.5, 0.5))
    with caplog.at_level(logging.WARNING, logger="observability.notifications"):
        notifier.submit(Notification(TASK_FAILED, "x"))
        notifier.close(timeout=10)
    assert notifier.failed == 1 and "discord" in caplog.text and "SECRET-PATH-TOKEN" not in caplog.text


def test_notification_urls_must_be_http_and_telegram_needs_a_chat_id(make_settings):
    from config import ConfigError

    with pytest.raises(ConfigError) as err:
        make_settings(NOTIFY_SLACK_URL="ftp://hooks.example/abc", NOTIFY_TELEGRAM_URL="https://api.telegram.org/botX/sendMessage")
    text = str(err.value)
    assert "NOTIFY_SLACK_URL: must be an http:// or https:// URL" in text and "abc" not in text
    assert "NOTIFY_TELEGRAM_CHAT_ID: required" in text


def test_log_format_is_validated(make_settings):
    from config import ConfigError

    with pytest.raises(ConfigError, match="LOG_FORMAT='xml': must be json or text"):
        make_settings(LOG_FORMAT="xml")
    assert make_settings(LOG_FORMAT="TEXT").log_format == "text"


def test_log_level_is_validated(make_settings):
    from config import ConfigError

    with pytest.raises(ConfigError, match="LOG_LEVEL='VERBOSE': must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        make_settings(LOG_LEVEL="verbose")
    assert make_settings(LOG_LEVEL="debug").log_level == "DEBUG"
