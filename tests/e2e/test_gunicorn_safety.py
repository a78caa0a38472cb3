"""Against a real gunicorn with several workers and PostgreSQL: 50 identical concurrent requests,
a worker SIGKILLed mid-task, and the database cut off and restored (loopback proxy)."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import text

from tests.conftest import GUIDE_PAYLOAD, reset_pg
from tests.db_fixtures import connect_postgres_or_fail
from tests.e2e.gunicorn_harness import CuttableProxy, Gunicorn
from tests.e2e.slow_app import SLEEP_ENV

WEBHOOK = "/api/automated-signals/webhook"


@pytest.fixture
def pg():
    reset_pg()
    engine = connect_postgres_or_fail()
    yield engine
    engine.dispose()


def scalar(engine, sql: str, **params):
    with engine.begin() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_fifty_identical_concurrent_requests_make_one_task_and_one_order_per_program(pg, tmp_path):
    with Gunicorn({}, workers=4, log_path=tmp_path / "gunicorn.log") as server:
        barrier = threading.Barrier(50)

        def send(_: int) -> requests.Response:
            barrier.wait(timeout=30)
            return requests.post(server.url + WEBHOOK, data=json.dumps(GUIDE_PAYLOAD),
                                 headers={"Content-Type": "text/plain"}, timeout=30)

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(send, range(50)))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, statuses
    bodies = [r.json() for r in responses]
    originals = [b for r, b in zip(responses, bodies) if r.status_code == 200 and "duplicate" not in b]
    assert len(originals) == 1
    task_id = originals[0]["task_id"]
    assert all(b["task_id"] == task_id for b in bodies)
    assert all(b["duplicate"] is True for r, b in zip(responses, bodies) if b is not originals[0])
    assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks") == 1
    assert scalar(pg, "SELECT COUNT(*) FROM execution_logs") == 1
    with pg.begin() as conn:
        rows = conn.execute(text("SELECT firm_code, program_id, COUNT(*) FROM trade_positions GROUP BY 1, 2")).all()
    assert sorted(tuple(r) for r in rows) == [("APEX", 1, 1), ("FTMO", 1, 1)]


def test_worker_killed_mid_task_is_recovered_once_after_restart(pg, tmp_path):
    # Recovered seconds later, the entry would be refused as too old (MAX_SIGNAL_AGE_SECONDS,
    # tests/integration/test_signal_age.py); here the re-run itself is under test.
    env = {"STUCK_TASK_SECONDS": "3", "MAX_SIGNAL_AGE_SECONDS": "3600"}
    # The master respawns the killed workers, which recover stuck tasks at start-up: on a loaded
    # machine they could reach this one (older than 3 s by then) before the server is stopped, and
    # sleep inside it too. Only the restarted server below may recover it.
    hung = Gunicorn({"STUCK_TASK_SECONDS": "3600", SLEEP_ENV: "60"}, workers=2,
                    log_path=tmp_path / "g1.log", app="tests.e2e.slow_app:create_slow_app()")
    with hung:
        def send() -> None:
            try:
                requests.post(hung.url + WEBHOOK, json=GUIDE_PAYLOAD, timeout=30)
            except requests.RequestException:
                pass  # the worker dies under it

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and scalar(pg, "SELECT COUNT(*) FROM execution_tasks") == 0:
            time.sleep(0.1)
        time.sleep(1.0)  # the worker is now asleep inside the task (tests/e2e/slow_app.py)
        # Dry-run processing is one transaction (database/unit_of_work.py): until it commits, the
        # task shows PENDING, committed before any work started.
        assert scalar(pg, "SELECT status FROM execution_tasks") == "PENDING"
        for pid in hung.worker_pids():
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        sender.join(timeout=30)
    assert scalar(pg, "SELECT status FROM execution_tasks") == "PENDING"  # visible, not lost
    assert scalar(pg, "SELECT COUNT(*) FROM trade_positions") == 0  # its half-done work rolled back
    assert scalar(pg, "SELECT COUNT(*) FROM execution_logs") == 0
    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))

    with Gunicorn(env, workers=2, log_path=tmp_path / "g2.log") as restarted:  # each worker recovers at start-up
        # Health may answer from the worker that lost the claim while the other still recovers.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and scalar(pg, "SELECT status FROM execution_tasks") != "COMPLETED":
            time.sleep(0.1)
        assert scalar(pg, "SELECT status FROM execution_tasks") == "COMPLETED"
        resent = requests.post(restarted.url + WEBHOOK, json=GUIDE_PAYLOAD, timeout=10).json()
    assert resent["duplicate"] is True and resent["recovered"] is True
    assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks") == 1
    assert scalar(pg, "SELECT COUNT(*) FROM execution_logs") == 1
    assert scalar(pg, "SELECT COUNT(*) FROM trade_positions") == 2


def test_database_outage_gives_fast_503_and_recovers_without_restart(pg, tmp_path):
    proxy = CuttableProxy()
    try:
        with Gunicorn({"DATABASE_URL": proxy.url()}, workers=2, log_path=tmp_path / "g.log") as server:
            first = requests.post(server.url + WEBHOOK, json=GUIDE_PAYLOAD, timeout=10)
            assert first.status_code == 200

            proxy.cut()
            second = dict(GUIDE_PAYLOAD, trade_id="DURING_OUTAGE")
            started = time.monotonic()
            down = requests.post(server.url + WEBHOOK, json=second, timeout=10)
            elapsed = time.monotonic() - started
            assert down.status_code == 503 and down.json()["error"] == "database_unavailable"
            assert elapsed < 3, f"503 took {elapsed:.2f}s; TradingView gives up after 3 s"
            health = requests.get(server.url + "/health", timeout=10)
            assert health.status_code == 503 and health.json()["database"] == "unreachable"

            proxy.restore()
            back = requests.post(server.url + WEBHOOK, json=second, timeout=10)  # TradingView's resend
            assert back.status_code == 200 and "duplicate" not in back.json()
            again = requests.post(server.url + WEBHOOK, json=second, timeout=10)
            assert again.json()["duplicate"] is True
            assert requests.get(server.url + "/health", timeout=10).status_code == 200
    finally:
        proxy.close()
    assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks WHERE trade_id = 'DURING_OUTAGE'") == 1
    assert scalar(pg, "SELECT COUNT(*) FROM trade_positions WHERE trade_id = 'DURING_OUTAGE'") == 2


def padded_signal(size: int, trade_id: str) -> bytes:
    """A valid signal padded with trailing spaces to exactly ``size`` bytes: cut anywhere in the
    padding it would still parse, so only the size check can refuse it."""
    raw = json.dumps({"event_type": "MFE_UPDATE", "trade_id": trade_id, "be_mfe": 1}).encode()
    return raw + b" " * (size - len(raw))


def in_chunks(raw: bytes, size: int = 4096):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(raw), size):
        yield raw[start:start + size]


def test_chunked_bodies_are_held_to_the_size_limit(pg, tmp_path):
    limit = 4096
    with Gunicorn({"WEBHOOK_MAX_BODY_BYTES": str(limit)}, workers=1, log_path=tmp_path / "g.log") as server:
        over = requests.post(server.url + WEBHOOK, data=in_chunks(padded_signal(limit + 1, "CHUNKED_OVER"), 1000),
                             headers={"Content-Type": "application/json"}, timeout=30)
        assert over.request.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in over.request.headers
        assert over.status_code == 413 and over.json()["error"] == "payload_too_large", over.text
        assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks") == 0

        under = requests.post(server.url + WEBHOOK, data=in_chunks(padded_signal(limit, "CHUNKED_AT_LIMIT"), 1000),
                              headers={"Content-Type": "application/json"}, timeout=30)
        assert under.status_code == 200 and under.json()["trade_id"] == "CHUNKED_AT_LIMIT", under.text
        assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks WHERE trade_id = 'CHUNKED_AT_LIMIT'") == 1
        assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks") == 1


def test_deeply_nested_body_is_one_warning_line_not_a_traceback(pg, tmp_path):
    log = tmp_path / "g.log"
    with Gunicorn({}, workers=1, log_path=log) as server:
        deep = '{"event_type": "MFE_UPDATE", "trade_id": "DEEP", "x": ' + "[" * 1_000 + "]" * 1_000 + "}"
        resp = requests.post(server.url + WEBHOOK, data=deep, headers={"Content-Type": "text/plain"}, timeout=30)
        assert resp.status_code == 400 and resp.json()["error"] == "too_deeply_nested", resp.text
        assert "body" in resp.json()["fields"]
    lines = log.read_text(errors="replace").splitlines()
    assert len([line for line in lines if "nested deeper than" in line]) == 1, lines
    assert not any("Traceback" in line or "RecursionError" in line for line in lines), lines
    assert scalar(pg, "SELECT COUNT(*) FROM execution_tasks") == 0
