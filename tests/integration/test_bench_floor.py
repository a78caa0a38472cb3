"""The benchmark's floor (bench/floor_app.py) stores exactly one JSONB row per request on real
PostgreSQL, and the floor's row count sees a lost or doubled one; the targets line says PASS
only when a ratio meets its threshold. No timing is measured."""
from __future__ import annotations

import json
import os
from collections import Counter

import psycopg
import pytest

from bench.floor_app import TABLE, count_floor_rows, create_app, reset_floor_table
from bench.report import check_targets
from bench.verify import check_reference_rows, expected_keys
from tests.db_fixtures import connect_postgres_or_fail


@pytest.fixture
def floor(monkeypatch):
    engine = connect_postgres_or_fail()
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    reset_floor_table(url)
    monkeypatch.setitem(os.environ, "DATABASE_URL", url)
    yield create_app().test_client(), url
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}")  # not part of the app's schema


def _post(client, trade_id):
    return client.post("/api/automated-signals/webhook", data=json.dumps(
        {"event_type": "SIGNAL_CREATED", "trade_id": trade_id, "symbol": "NQ"}), content_type="application/json")


def test_the_floor_stores_one_row_per_request_and_its_count_sees_a_double(floor):
    client, url = floor
    ids = [_post(client, f"fl-1-{n}").get_json()["id"] for n in (1, 2, 3)]
    assert len(set(ids)) == 3
    want = expected_keys("fl", {"1": 3})  # thread 1's first request is wrk's discarded one
    check = check_reference_rows(count_floor_rows(url, "fl"), want)
    assert (check.expected, check.lost, check.extra) == (2, 0, 1)  # fl-1-1 is one more than wrk sent
    assert check_reference_rows(count_floor_rows(url, "fl"), Counter({("fl-1-9", "entry"): 1})).lost == 1


def _level(connections, vs, errors=0, lost=0):
    return {"connections": connections, "errors": errors, "server_p50_ms": 1.0, "vs_floor": vs,
            "rows": {"expected": 10, "tasks": 10, "lost": lost, "extra": 0, "unfinished": 0, "ok": lost == 0}}


def test_the_targets_pass_only_at_their_thresholds():
    results = {"ours": [_level(1, {"server_p50": 2.0}), _level(16, {"throughput": 0.5, "p99": 2.0})]}
    assert all(line.endswith("PASS") for line in check_targets(results))
    results = {"ours": [_level(1, {"server_p50": 2.01}),
                        _level(16, {"throughput": 0.49, "p99": 2.01}, errors=1, lost=1)]}
    assert [line.rsplit(" ", 1)[-1] for line in check_targets(results)] == ["FAIL"] * 5
