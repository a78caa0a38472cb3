"""`make bench-live`: what the live path itself adds to each order, against the firm simulator.

    python -m bench.live_overhead [--db URL] [--requests N] [--accounts 1,5,15,30] [--levels 1,16]

For each account count, starts the simulator (`simulator/`, zero latency, recording each request's
arrival and departure) in a process of its own and the router under gunicorn (the Procfile's 2
workers x 4 threads) in live mode for FTMO, APEX and TOPSTEP, the accounts spread over the three
firms (15 = 3 x 5), each program on its own firm account. A Python client sends entries (with a
stop and a take_profit: Apex's compliance profile requires both) at each concurrency level and
times each answer. Per order it reports, from the request's arrival:

- to order: when the order reached the simulator (the simulator's arrival time);
- answer: when the router's answer came back;
- overhead: the answer time minus the simulator's own handling time for that request (the union
  of the handling intervals of the calls it served for it: at c=1 every call inside the request,
  at higher levels the order calls, matched by the client order id they carry).

Every entry is live: its account snapshot (connectors/snapshots.py) is cached and refreshed in the
background; ProjectX gives no open P&L over REST, so TOPSTEP's snapshot fails once a position is
open and TOPSTEP_SNAPSHOT_POLICY=LEDGER lets the entry go on (after its one bounded read).
The database's tables are emptied first, as for `make bench`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import cpu  # noqa: E402
from bench.run_bench import Server, cpu_model, free_port, loadavg, reset_database  # noqa: E402

FIRMS = ("FTMO", "APEX", "TOPSTEP")
SECRET = "bench-live-secret"
WEBHOOK = "/api/automated-signals/webhook"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"


def split_accounts(total: int) -> dict[str, int]:
    """`total` accounts over the three firms, round robin (5 -> 2/2/1); firms with none left out."""
    counts = {firm: total // len(FIRMS) + (1 if i < total % len(FIRMS) else 0) for i, firm in enumerate(FIRMS)}
    return {firm: n for firm, n in counts.items() if n}


def apex_account(program: int) -> int:
    return 200 + program


def topstep_account(program: int) -> int:
    return 300 + program


def live_env(sim_url: str, accounts: dict[str, int]) -> dict[str, str]:
    """Every firm live against the simulator, each program on an account of its own, sized by the
    risk formula and capped per order; no firm-wide position cap, so every entry is sent."""
    from simulator import DEFAULT_CREDENTIALS

    env = {"EXECUTION_DRY_RUN": "false", "WEBHOOK_SECRET": SECRET, "ROUTE_TO_FIRMS": ",".join(accounts),
           "FTMO_API_URL": sim_url, "FTMO_SYMBOL_MAP": "NQ:US100.cash,ES:US500.cash",
           "APEX_API_URL": sim_url + "/v1", "APEX_ALLOW_AUTOMATION": "true",
           "TOPSTEP_API_URL": sim_url, "TOPSTEP_ALLOW_AUTOMATION": "true", "TOPSTEP_SNAPSHOT_POLICY": "LEDGER",
           **DEFAULT_CREDENTIALS}
    for firm, n in accounts.items():
        env[f"{firm}_PROGRAM_IDS"] = ",".join(str(p) for p in range(1, n + 1))
        for p in range(1, n + 1):
            env[f"{firm}_{p}_ACCOUNT_SIZE"] = "100000.0"
            env[f"{firm}_{p}_RISK_PER_TRADE"] = "0.01"
            env[f"{firm}_{p}_MAX_CONTRACTS"] = "2"
            env[f"{firm}_{p}_ACCOUNT_ID"] = {"FTMO": f"sim-mt5-{p}", "APEX": str(apex_account(p)),
                                             "TOPSTEP": str(topstep_account(p))}[firm]
            if firm == "FTMO":
                env[f"FTMO_{p}_LOTS_PER_CONTRACT"] = "20"
            if firm == "APEX":
                env[f"APEX_{p}_ACCOUNT_SPEC"] = f"APEXSIM{apex_account(p)}"
    return env


# ---- the simulator in a process of its own ---------------------------------------------------
def serve_simulator(port: int, apex_accounts: int) -> None:
    """The simulator with timings on and `apex_accounts` Tradovate accounts listed (it lists three)."""
    from simulator import Simulator

    sim = Simulator(record_timings=True)
    for p in range(1, apex_accounts + 1):
        i = apex_account(p)
        sim.tradovate_accounts.setdefault(i, {**next(iter(sim.tradovate_accounts.values())), "id": i,
                                              "name": f"APEXSIM{i}"})
    sim.start(port)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


class SimulatorProcess:
    def __init__(self, apex_accounts: int, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = open(workdir / f"simulator-{self.port}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.live_overhead", "--serve-simulator",
                                      str(self.port), str(apex_accounts)], env=env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.timings(clear=True)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the simulator did not start")

    def set_latency(self, seconds: float) -> None:
        """Every firm answers `seconds` later (the simulator's `latency` fault), as a firm across a network would."""
        for firm in FIRMS:
            body = json.dumps({"firm": firm, "latency": seconds}).encode()
            urllib.request.urlopen(urllib.request.Request(self.url + "/_sim/faults", data=body, method="POST",
                                                          headers={"Content-Type": "application/json"}), timeout=10).read()

    def timings(self, clear: bool = False) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/_sim/timings" + ("?clear=1" if clear else ""), timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ---- the load ---------------------------------------------------------------------------------
def entry(trade_id: str) -> bytes:
    return json.dumps({"event_type": "SIGNAL_CREATED", "trade_id": trade_id, "direction": "Bullish",
                       "entry_price": 16500.0, "stop_loss": 16475.0, "take_profit": 16550.0,
                       "symbol": "NQ"}).encode()


def send_all(port: int, prefix: str, requests: int, concurrency: int) -> list[dict[str, Any]]:
    """`requests` entries over `concurrency` keep-alive connections; per request its send and
    answer wall times, status and task id."""
    out: list[dict[str, Any]] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = entry(f"{prefix}-{n}")
            sent = time.time()
            conn.request("POST", WEBHOOK, body=body, headers={"Content-Type": "application/json",
                                                             "X-Webhook-Secret": SECRET})
            response = conn.getresponse()
            data = response.read()
            answered = time.time()
            try:
                task_id = json.loads(data).get("task_id")
            except ValueError:
                task_id = None
            out.append({"sent": sent, "answered": answered, "status": response.status, "task_id": task_id})
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def order_tags(task_id: int, accounts: dict[str, int]) -> set[str]:
    """The client order ids the connectors send for this task's entries (MetaApi's as its digest)."""
    from connectors.ftmo_connector import metaapi_client_id
    from connectors.orders import client_order_id

    tags = set()
    for firm, n in accounts.items():
        for p in range(1, n + 1):
            cid = client_order_id(task_id, firm, p, "ENTRY")
            tags.add(metaapi_client_id(cid) if firm == "FTMO" else cid)
    return tags


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def analyse(sent: list[dict[str, Any]], calls: list[dict[str, Any]], accounts: dict[str, int],
            whole_window: bool) -> dict[str, Any]:
    """Per request: the answer time, each order's arrival at the simulator, the overhead."""
    by_tag: dict[str, dict[str, Any]] = {c["tag"]: c for c in calls if c.get("tag")}
    to_order, answer, overhead, orders, errors = [], [], [], 0, 0
    for r in sent:
        if r["status"] != 200 or r["task_id"] is None:
            errors += 1
            continue
        mine = [by_tag[t] for t in order_tags(int(r["task_id"]), accounts) if t in by_tag]
        orders += len(mine)
        to_order += [1000 * (c["arrived"] - r["sent"]) for c in mine]
        served = ([c for c in calls if r["sent"] <= c["arrived"] and c["left"] <= r["answered"]]
                  if whole_window else mine)
        seconds = r["answered"] - r["sent"]
        answer.append(1000 * seconds)
        overhead.append(1000 * (seconds - union([(c["arrived"], c["left"]) for c in served])))

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    statuses = Counter(str(r["status"]) for r in sent)
    return {"requests": len(sent), "errors": errors, "statuses": dict(sorted(statuses.items())), "orders": orders,
            "orders_expected": sum(accounts.values()) * (len(sent) - errors),
            "to_order_p50_ms": pct(to_order, 0.5), "to_order_p99_ms": pct(to_order, 0.99),
            "answer_p50_ms": pct(answer, 0.5), "answer_p99_ms": pct(answer, 0.99),
            "overhead_p50_ms": pct(overhead, 0.5), "overhead_p99_ms": pct(overhead, 0.99),
            "per_account_overhead_p50_ms": (statistics.median(overhead) / sum(accounts.values())) if overhead else None}


def measure(total_accounts: int, levels: list[int], requests: int, db: str, workdir: Path,
            workers: int, threads: int, latency: float = 0.0) -> dict[str, Any]:
    from tests.db_fixtures import truncate_app_tables

    accounts = split_accounts(total_accounts)
    engine = reset_database(db)
    truncate_app_tables(engine)
    engine.dispose()
    sim = SimulatorProcess(accounts.get("APEX", 0), workdir)
    server = None
    try:
        if latency:
            sim.set_latency(latency)
        server = Server("bench.timed_wsgi:ours()", {**live_env(sim.url, accounts), "DATABASE_URL": db}, workdir,
                        workers, threads, f"live{total_accounts}")
        send_all(server.port, f"warm{total_accounts}", max(8, 2 * workers * threads), min(8, workers * threads))
        out = {"accounts": total_accounts, "split": accounts, "levels": []}
        for c in levels:
            time.sleep(1.0)  # let the warm-up's background snapshot reads finish
            sim.timings(clear=True)
            pids = {"router": server.proc.pid, "simulator": sim.proc.pid}
            before = cpu.snapshot(pids) if cpu.available() else None
            sent = send_all(server.port, f"a{total_accounts}c{c}", requests, c)
            spent = ({k: v - before[k] for k, v in cpu.snapshot(pids).items()} if before is not None else {})
            time.sleep(0.3)
            result = analyse(sent, sim.timings(clear=True), accounts, whole_window=(c == 1))
            # CPU per entry moves far less with the machine's other load than latency does (bench/cpu.py)
            # (a PostgreSQL process that ended during the level took its CPU with it: not reported)
            result["cpu_ms_per_entry"] = {k: v * 1000 / requests for k, v in spent.items() if v >= 0}
            out["levels"].append({"concurrency": c, **result})
        return out
    finally:
        if server is not None:
            server.stop()
        sim.stop()


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Live path against the simulator (zero latency); {results['date']}; {results['cpus']} CPUs "
             f"({results['cpu_model']}); gunicorn gthread {results['workers']} x {results['threads']}; "
             f"{results['requests']} entries per level; firm latency {results['firm_latency'] * 1000:.0f} ms; load average before / after: {results['loadavg_before']} / "
             f"{results['loadavg_after']}.", "",
             "| accounts (FTMO/APEX/TOPSTEP) | c | entries | errors | orders at the simulator / expected | "
             "to order p50 / p99 ms | answer p50 / p99 ms | overhead p50 / p99 ms | overhead p50 per account ms | "
             "CPU ms per entry: router / simulator / PostgreSQL |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in results["runs"]:
        split = "/".join(str(run["split"].get(f, 0)) for f in FIRMS)
        for lv in run["levels"]:
            lines.append(
                f"| {run['accounts']} ({split}) | {lv['concurrency']} | {lv['requests']} | {lv['errors']}"
                f"{'' if not lv['errors'] else ' (' + ', '.join(f'{k}: {v}' for k, v in lv['statuses'].items() if k != '200') + ')'} | "
                f"{lv['orders']} / {lv['orders_expected']} | {fmt(lv['to_order_p50_ms'])} / {fmt(lv['to_order_p99_ms'])} | "
                f"{fmt(lv['answer_p50_ms'])} / {fmt(lv['answer_p99_ms'])} | "
                f"{fmt(lv['overhead_p50_ms'])} / {fmt(lv['overhead_p99_ms'])} | {fmt(lv['per_account_overhead_p50_ms'], 3)} | "
                f"{' / '.join(fmt(lv.get('cpu_ms_per_entry', {}).get(k), 1) for k in ('router', 'simulator', 'postgres'))} |")
    lines += ["", "Targets:"] + [f"- {t}" for t in results["targets"]]
    return "\n".join(lines)


def check_targets(runs: list[dict[str, Any]]) -> list[str]:
    """p99 overhead at c=1 under 15 ms for 15 accounts; growing at most linearly with accounts."""
    at1 = {run["accounts"]: lv for run in runs for lv in run["levels"] if lv["concurrency"] == 1}
    out = []
    if 15 in at1 and at1[15]["overhead_p99_ms"] is not None:
        p99 = at1[15]["overhead_p99_ms"]
        out.append(f"c=1 overhead p99 at 15 accounts {p99:.2f} ms (< 15 ms): {'PASS' if p99 < 15 else 'FAIL'}")
    counts = sorted(n for n in at1 if at1[n]["overhead_p50_ms"] is not None)
    if len(counts) >= 2:
        lo, hi = counts[0], counts[-1]
        growth = at1[hi]["overhead_p50_ms"] / at1[lo]["overhead_p50_ms"]
        # at most linear: the overhead grows no faster than the number of accounts
        ok = growth <= hi / lo
        out.append(f"c=1 overhead p50 growth {lo} -> {hi} accounts: x{growth:.2f} for x{hi / lo:.0f} accounts "
                   f"(at most linear): {'PASS' if ok else 'FAIL'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-simulator", nargs=2, type=int, metavar=("PORT", "APEX_ACCOUNTS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
                        help="PostgreSQL URL; its tables are emptied")
    parser.add_argument("--accounts", default="1,5,15,30", help="account counts, spread over FTMO, APEX, TOPSTEP")
    parser.add_argument("--levels", default="1,16", help="concurrency levels")
    parser.add_argument("--requests", type=int, default=200, help="entries per level (default 200)")
    parser.add_argument("--firm-latency", type=float, default=0.0,
                        help="seconds the simulator adds to every firm call (default 0: the router's own overhead)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    if args.serve_simulator:
        serve_simulator(*args.serve_simulator)
        return 0
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix=f"live-{stamp}-", dir=out_dir))
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    results: dict[str, Any] = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                               "cpus": os.cpu_count(), "cpu_model": cpu_model(), "workers": args.workers,
                               "threads": args.threads, "requests": args.requests, "firm_latency": args.firm_latency,
                               "loadavg_before": loadavg(),
                               "runs": []}
    for total in (int(x) for x in args.accounts.split(",") if x.strip()):
        print(f"live: {total} accounts ...", flush=True)
        results["runs"].append(measure(total, levels, args.requests, args.db, workdir, args.workers, args.threads,
                                       args.firm_latency))
    results["loadavg_after"] = loadavg()
    results["targets"] = check_targets(results["runs"])
    table = markdown(results)
    (out_dir / f"live-{stamp}.json").write_text(json.dumps(results, indent=2))
    (out_dir / f"live-{stamp}.md").write_text(table + "\n")
    print()
    print(table)
    bad = any(lv["errors"] or lv["orders"] != lv["orders_expected"] for run in results["runs"] for lv in run["levels"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
