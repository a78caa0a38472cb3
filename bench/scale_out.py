"""`make bench`'s two-instance row: two service instances (two gunicorn masters) on one PostgreSQL.

    python -m bench.scale_out [--db URL] [--duration S] [--repeats N] [--connections 16] [--duplicates 200]

1. Throughput: the same load (wrk, `--connections` in flight, Step 2 dry-run entries) against one
   instance, then split between the two (half the connections each, both wrk runs at once),
   alternating, `--repeats` times; the pair's req/s is the sum of its two runs. Every signal sent
   must end as exactly one COMPLETED task with one log row (bench/verify.py).
2. Duplicates: `--duplicates` signals each sent to both instances at the same moment (one thread
   per instance, released together), as a TradingView retry landing on the other instance would
   be: each must end as exactly one task, one log row and one set of orders.

Run by `make bench` (after its levels) or alone; the database's tables are emptied first.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.envs import SECRET, entry_payload, step2_env  # noqa: E402
from bench.run_bench import DEFAULT_DB, WEBHOOK, Server, loadavg, reset_database, run_wrk  # noqa: E402
from bench.verify import RowCheck, check_rows, expected_keys  # noqa: E402


def _add(a: RowCheck, b: RowCheck) -> RowCheck:
    return RowCheck(*(x + y for x, y in zip((a.expected, a.tasks, a.lost, a.extra, a.unfinished),
                                             (b.expected, b.tasks, b.lost, b.extra, b.unfinished))))


def _post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", WEBHOOK, body=body, headers={"Content-Type": "application/json",
                                                         "X-Webhook-Secret": SECRET})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def send_duplicates(ports: tuple[int, int], prefix: str, count: int) -> Counter[int]:
    """Each signal to both instances at once: two threads meet at a barrier, then post."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    for n in range(count):
        body = json.dumps(entry_payload(f"{prefix}-1-{n + 1}")).encode()
        barrier = threading.Barrier(len(ports))

        def one(port: int) -> None:
            barrier.wait()
            status = _post(port, body)
            with lock:
                statuses[status] += 1

        threads = [threading.Thread(target=one, args=(p,)) for p in ports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return statuses


def measure(db: str, duration: float, repeats: int, connections: int, duplicates: int,
            workers: int = 2, threads: int = 4) -> dict[str, Any]:
    engine = reset_database(db)
    workdir = Path(tempfile.mkdtemp(prefix="scale-out-", dir=ROOT / "bench-results"))
    env = {**step2_env(), "DATABASE_URL": db, "WEBHOOK_SECRET": SECRET}
    servers = [Server("bench.timed_wsgi:ours()", env, workdir, workers, threads, f"instance{i}") for i in (1, 2)]
    single, pair, prefixes = [], [], []
    try:
        for s in servers:
            run_wrk(s.url, 8, 1.0, f"warm{s.port}", "entry")
            prefixes.append((f"warm{s.port}", None))
        for rep in range(repeats):
            order = ("single", "pair") if rep % 2 == 0 else ("pair", "single")
            for what in order:
                if what == "single":
                    prefix = f"one-r{rep}"
                    run = run_wrk(servers[0].url, connections, duration, prefix, "entry")
                    single.append(run["requests"] / (run["duration_us"] / 1e6))
                    prefixes.append((prefix, run))
                else:
                    runs: list[dict[str, Any]] = []

                    def drive(i: int) -> None:
                        runs.append(run_wrk(servers[i].url, connections // 2, duration, f"two{i}-r{rep}", "entry"))

                    workers_ = [threading.Thread(target=drive, args=(i,)) for i in (0, 1)]
                    for t in workers_:
                        t.start()
                    for t in workers_:
                        t.join()
                    pair.append(sum(r["requests"] / (r["duration_us"] / 1e6) for r in runs))
                    prefixes += [(r["prefix"], r) for r in runs]
                time.sleep(0.5)
        statuses = send_duplicates((servers[0].port, servers[1].port), "dup", duplicates)
    finally:
        for s in servers:
            s.stop()
    rows = RowCheck(0, 0, 0, 0, 0)
    errors = 0
    for prefix, run in prefixes:
        if run is None:
            continue
        errors += sum(run["errors"].values())
        rows = _add(rows, check_rows(engine, prefix, expected_keys(prefix, run["generated"])))
    dup_rows = check_rows(engine, "dup", Counter({(f"dup-1-{n + 1}", "entry"): 1 for n in range(duplicates)}))
    engine.dispose()
    ratios = [p / s for p, s in zip(pair, single) if s]
    return {"connections": connections, "single_rps": statistics.median(single), "pair_rps": statistics.median(pair),
            "pair_over_single": statistics.median(ratios), "single_per_repeat": single, "pair_per_repeat": pair,
            "errors": errors, "rows": rows.to_dict(), "duplicates_sent": duplicates,
            "duplicate_statuses": dict(statuses), "duplicate_rows": dup_rows.to_dict()}


def markdown(r: dict[str, Any]) -> str:
    rows, dup = RowCheck.from_dict(r["rows"]), RowCheck.from_dict(r["duplicate_rows"])
    return "\n".join([
        "| instances | c (total) | req/s | pair / one | errors | lost/extra rows | signals sent to both | "
        "tasks for them | duplicates / lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| 1 | {r['connections']} | {r['single_rps']:,.0f} | | | | | | |",
        f"| 2 | {r['connections']} ({r['connections'] // 2} each) | {r['pair_rps']:,.0f} | {r['pair_over_single']:.2f} | "
        f"{r['errors']} | {rows.lost}/{rows.extra}{f' ({rows.unfinished} unfinished)' if rows.unfinished else ''} | "
        f"{r['duplicates_sent']} (answers {', '.join(f'{k}: {v}' for k, v in sorted(r['duplicate_statuses'].items()))}) | "
        f"{dup.tasks} | {dup.extra}/{dup.lost}{f' ({dup.unfinished} unfinished)' if dup.unfinished else ''} |",
        "",
        "Two gunicorn masters (2 workers x 4 threads each) on one PostgreSQL; req/s: medians over the runs (the "
        "pair's: the sum of its two wrk runs); pair / one: the median of back-to-back ratios; lost/extra rows over "
        "every run of both; duplicates: each signal posted to both instances at once, exactly one task expected.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duplicates", type=int, default=200)
    args = parser.parse_args(argv)
    (ROOT / "bench-results").mkdir(exist_ok=True)
    before = loadavg()
    result = measure(args.db, args.duration, args.repeats, args.connections, args.duplicates)
    print(f"Load average before / after: {before} / {loadavg()}\n")
    print(markdown(result))
    ok = result["rows"]["ok"] and result["duplicate_rows"]["ok"] and result["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
