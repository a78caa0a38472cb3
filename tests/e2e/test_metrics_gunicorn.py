"""/metrics under real gunicorn with two worker processes: every scrape, whichever worker answers
it, reports the requests all workers served (prometheus_client multiprocess mode via gunicorn.conf.py)."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.conftest import GUIDE_PAYLOAD, PG_URL, STEP2_ENV, reset_pg
from tests.e2e.test_observability_http import metric

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_counts_are_summed_across_gunicorn_workers(tmp_path):
    reset_pg()
    prom_dir = tmp_path / "prometheus"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTMO_", "APEX_", "PROMETHEUS"))}
    env.update(STEP2_ENV, DATABASE_URL=PG_URL, PROMETHEUS_MULTIPROC_DIR=str(prom_dir), LOG_LEVEL="WARNING")
    log_path = tmp_path / "gunicorn.log"
    log_file = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "web_server:create_app()", "-c", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "1", "--timeout", "30"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if requests.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # refused, or accepted by the master before a worker is up
                pass
            assert time.monotonic() < deadline, "gunicorn did not become healthy within 60 s"
            time.sleep(0.3)

        def send(n: int) -> requests.Response:
            payload = dict(GUIDE_PAYLOAD, trade_id=f"20251122_14{n:04d}_BULLISH")
            return requests.post(f"{base}/api/automated-signals/webhook", json=payload, timeout=10)

        def worker_pids() -> set[str]:
            return {m.group(1) for f in prom_dir.iterdir() if (m := re.match(r"counter_(\d+)\.db$", f.name))}

        # Send concurrent batches until both workers have served some (a worker that finished
        # booting first may take the first batch alone); bounded.
        responses: list[requests.Response] = []
        with ThreadPoolExecutor(max_workers=4) as pool:
            while len(worker_pids()) < 2:
                assert len(responses) < 200, f"only workers {worker_pids()} served requests"
                responses += pool.map(send, range(len(responses), len(responses) + 4))
        bad = [requests.post(f"{base}/api/automated-signals/webhook", data="{", timeout=10).status_code for _ in range(2)]
        assert all(r.status_code == 200 for r in responses) and bad == [400, 400]
        for r in responses:
            assert r.content[:1] == b"{", (r.status_code, r.headers, r.content[:300])
        sent = len(responses)
        # FTMO's 10-contract cap fills after five 2-contract entries: count what the answers say.
        ftmo_skipped = sum(1 for r in responses for c in r.json()["connector_results"]
                           if c["firm_code"] == "FTMO" and c["status"] == "SKIPPED")

        for _ in range(6):  # scrapes land on either worker; each must see every request
            text = requests.get(f"{base}/metrics", timeout=10).text
            assert metric(text, "execution_router_webhook_requests_total", status="200") == sent
            assert metric(text, "execution_router_webhook_requests_total", status="400") == 2
            assert metric(text, "execution_router_connector_results_total", firm="FTMO", status="SKIPPED") == ftmo_skipped
            assert metric(text, "execution_router_task_duration_seconds_count", action="ENTRY") == sent
        # gunicorn's own lines, access log included, are JSON with query-string secrets redacted.
        assert requests.get(f"{base}/health?token=query-secret-31337", timeout=10).status_code == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log_file.close()
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), "\n".join(line for line in lines if not line.startswith("{"))
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert any("/health?token=[REDACTED]" in e["message"] for e in access), access[-3:]
    assert "query-secret-31337" not in log_path.read_text()
