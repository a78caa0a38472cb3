"""Credentials and tokens never appear in logs, HTTP responses or the database (live mode)."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text

from simulator import DEFAULT_CREDENTIALS
from tests.e2e.live_support import backend, sim, ENTRY, EXIT, WEBHOOK, WEBHOOK_SECRET, live_env, post  # noqa: F401 (fixtures)

SECRET_NAMES = ("FTMO_API_KEY", "APEX_PASSWORD", "APEX_API_SECRET", "TOPSTEP_API_KEY")


def all_rows(db) -> str:
    chunks = []
    for table in ("execution_tasks", "execution_logs", "trade_positions", "connector_orders"):
        rows = db.execute(text(f"SELECT * FROM {table}")).all()
        chunks.append(json.dumps([[str(v) for v in row] for row in rows]))
    return "\n".join(chunks)


def test_no_secret_or_token_leaks_anywhere(make_app, sim, db, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(**live_env(sim.url))
    client = app.test_client()
    answers = [post(client, ENTRY).get_data(as_text=True)]
    sim.set_faults("APEX", fail_5xx=1)
    sim.set_faults("TOPSTEP", expire_tokens=True)
    answers.append(post(client, dict(ENTRY, trade_id="T-2")).get_data(as_text=True))
    answers.append(post(client, EXIT).get_data(as_text=True))
    # The secret may come in the body (TradingView cannot set headers): it is never stored.
    body = dict(ENTRY, trade_id="T-3", secret=WEBHOOK_SECRET)
    answers.append(client.post(WEBHOOK, data=json.dumps(body), content_type="text/plain").get_data(as_text=True))
    answers.append(app.test_cli_runner().invoke(args=["check-config"]).output)
    secrets = [DEFAULT_CREDENTIALS[n] for n in SECRET_NAMES] + [WEBHOOK_SECRET] + list(sim.issued)
    assert len(sim.issued) >= 3  # tokens were issued, so the check below is meaningful
    stored = all_rows(db)
    for secret in secrets:
        assert secret not in caplog.text, secret
        assert all(secret not in a for a in answers), secret
        assert secret not in stored, secret


def test_firm_error_text_is_redacted(make_app, sim, db, caplog):
    """A firm that echoes a credential in its refusal does not get it into our records."""
    app = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="APEX", APEX_PASSWORD="wrong-" + DEFAULT_CREDENTIALS["APEX_PASSWORD"],
                              APEX_SNAPSHOT_POLICY="LEDGER"))  # the order path: the failed account read falls back
    result = post(app.test_client(), ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("FAILED", "AUTH_FAILED")
    assert "wrong-" not in json.dumps(result) and "wrong-" not in caplog.text
    assert "wrong-" not in all_rows(db)
