"""`make bench`: throughput and latency of the webhook under gunicorn, against a reference.

    python bench/run_bench.py [--db URL] [--duration S] [--levels 1,16,64] [--mode entry|mix]

1. Empties the app's tables (BENCH_DATABASE_URL, default the local `test` database), starts
   gunicorn on a free 127.0.0.1 port in dry-run with the guide's Step 2 configuration, warms up,
   then drives POST /api/automated-signals/webhook with wrk at each concurrency level; every
   request carries a distinct trade_id.
2. Stops the server and checks, per level, that every request sent produced exactly one
   execution_tasks row and one execution_logs row, COMPLETED (lost / extra / unfinished rows).
3. Runs the same load against bench/reference_app.py (parse JSON, INSERT one JSONB row, COMMIT)
   under the same gunicorn settings, and prints our throughput as a ratio of it.
4. Scaling: 1x1, 2x2 and 5x3 firms x programs (every account sized and checked per entry).

Server-side processing time comes from a timing WSGI wrapper (bench/timed_wsgi.py) that only the
benchmark's gunicorn entry point installs. Results: a Markdown table on stdout, raw JSON and the
table under bench-results/ (git-ignored).

Why wrk: it is C, so on a 2-core machine it takes far less CPU from the server than a Python
client would; its Lua hooks give each request a distinct trade_id (a per-thread counter) and
report the exact number of requests each thread generated, which is what the row check needs,
and it reports latency percentiles. Install it with `apt-get install -y wrk` (Debian/Ubuntu).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.envs import SCALING, SECRET, scaling_env, step2_env  # noqa: E402
from bench.verify import RowCheck, check_reference_rows, check_rows, expected_keys  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
LUA = ROOT / "bench" / "webhook.lua"
WEBHOOK = "/api/automated-signals/webhook"
# Targets from issue 8 (2-core machine), checked at concurrency 16.
TARGET_RATIO, TARGET_P99_MS, TARGET_SERVER_P50_MS = 0.5, 25.0, 2.0


# ---- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn (gthread) serving ``spec`` with a clean environment, in ``workdir``.

    The working directory is a scratch folder so a developer's .env is never read: the
    benchmark's configuration is exactly the environment given here.
    """

    def __init__(self, spec: str, app_env: dict[str, str], workdir: Path, workers: int, threads: int, label: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"gunicorn-{label}.log"
        self.timings_dir = workdir / f"timings-{label}"
        self.timings_dir.mkdir(parents=True, exist_ok=True)
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ") if k in os.environ}
        env = {**keep, **app_env, "PYTHONPATH": str(ROOT), "BENCH_TIMINGS_DIR": str(self.timings_dir),
               "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [
            sys.executable, "-m", "gunicorn", spec, "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "--log-level", "warning", "--error-logfile", str(self.log_path), "--graceful-timeout", "20",
        ]
        self.output_path = workdir / f"output-{label}.log"  # the app's own stderr (start-up errors)
        with open(self.output_path, "ab") as output:
            self.proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for path in (self.output_path, self.log_path):
            try:
                tails.append("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
            except OSError:
                pass
        return "\n".join(tails) or "(no log)"

    def stop(self) -> None:
        """Graceful stop: workers finish in-flight requests and write their timings."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def run_wrk(url: str, connections: int, duration: float, prefix: str, mode: str) -> dict[str, Any]:
    """One wrk run; returns its BENCH_JSON summary plus the wall-clock window it covered."""
    threads = connections if mode == "mix" else min(connections, 2)
    env = {**os.environ, "BENCH_PREFIX": prefix, "BENCH_MODE": mode, "BENCH_SECRET": SECRET, "BENCH_PATH": WEBHOOK}
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
           "-s", str(LUA), url + WEBHOOK]
    started = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    ended = time.time()
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    summary = json.loads(line[len("BENCH_JSON "):])
    summary.update(prefix=prefix, connections=connections, threads=threads, started=started, ended=ended)
    return summary


# ---- one server, several levels ---------------------------------------------------------------
def drive(server: Server, levels: list[int], duration: float, warmup: float, tag: str, mode: str) -> list[dict[str, Any]]:
    if warmup > 0:
        run_wrk(server.url, 8, warmup, f"{tag}-warm", mode)
    runs = []
    for connections in levels:
        runs.append(run_wrk(server.url, connections, duration, f"{tag}-c{connections}", mode))
        time.sleep(0.5)  # let requests still in flight when wrk stopped finish
    return runs


def summarize(run: dict[str, Any], timings: list[tuple[float, float]], next_start: float | None) -> dict[str, Any]:
    seconds = run["duration_us"] / 1e6
    errors = sum(run["errors"].values())
    window_end = next_start if next_start is not None else float("inf")
    server = sorted(s for end, s in timings if run["started"] <= end < window_end)
    return {
        "connections": run["connections"],
        "requests": run["requests"],
        "rps": run["requests"] / seconds if seconds else 0.0,
        "p50_ms": run["latency_us"]["p50"] / 1000,
        "p95_ms": run["latency_us"]["p95"] / 1000,
        "p99_ms": run["latency_us"]["p99"] / 1000,
        "errors": errors,
        "error_detail": run["errors"],
        "server_p50_ms": 1000 * statistics.median(server) if server else None,
        "server_p95_ms": 1000 * server[int(0.95 * (len(server) - 1))] if server else None,
        "generated": run["generated"],
        "prefix": run["prefix"],
    }


def run_server(spec: str, app_env: dict[str, str], workdir: Path, args: argparse.Namespace, label: str,
               levels: list[int], duration: float, warmup: float, tag: str) -> list[dict[str, Any]]:
    from bench.timed_wsgi import read_timings

    server = Server(spec, app_env, workdir, args.workers, args.threads, label)
    try:
        runs = drive(server, levels, duration, warmup, tag, args.mode)
    finally:
        server.stop()
    timings = read_timings(str(server.timings_dir), "ours" if "ours" in spec else "reference")
    starts = [r["started"] for r in runs[1:]] + [None]
    return [summarize(run, timings, nxt) for run, nxt in zip(runs, starts)]


def reset_database(url: str) -> Any:
    from database import create_db_engine, upgrade_to_head
    from tests.db_fixtures import truncate_app_tables

    from bench.reference_app import reset_reference_table

    engine = create_db_engine(url)
    upgrade_to_head(engine)
    truncate_app_tables(engine)
    reset_reference_table(engine)
    return engine


# ---- report -------------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def rows_text(check: RowCheck) -> str:
    text = f"{check.lost}/{check.extra}"
    return text if check.unfinished == 0 else f"{text} ({check.unfinished} unfinished)"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, PostgreSQL {m['postgres']}; "
        f"gunicorn gthread {results['workers']} workers x {results['threads']} threads; "
        f"{results['duration']:.0f} s per level; mode `{results['mode']}`; {results['date']}.",
        "",
        "| Concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | lost/extra rows | server p50 ms "
        "| reference req/s | reference p99 ms | ours / reference |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ref = {r["connections"]: r for r in results.get("reference", [])}
    for r in results["ours"]:
        rf = ref.get(r["connections"])
        ratio = r["rps"] / rf["rps"] if rf and rf["rps"] else None
        lines.append(
            f"| {r['connections']} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'], 2)} | {fmt(r['p95_ms'], 2)} | "
            f"{fmt(r['p99_ms'], 2)} | {r['errors']} | {rows_text(RowCheck.from_dict(r['rows']))} | "
            f"{fmt(r['server_p50_ms'], 2)} | {fmt(rf['rps'], 0) if rf else '-'} | "
            f"{fmt(rf['p99_ms'], 2) if rf else '-'} | {fmt(ratio, 2) if ratio else '-'} |"
        )
    if results.get("scaling"):
        lines += [
            "",
            "| Firms x programs | accounts | server p50 ms (c=1) | req/s (c=16) | p99 ms (c=16) | "
            "SQL statements / commits per request | app CPU ms per request | errors | lost/extra rows |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in results["scaling"]:
            one, sixteen = s["levels"]
            sql = s.get("sql") or {}
            lines.append(
                f"| {s['firms']}x{s['programs']} | {s['firms'] * s['programs']} | {fmt(one['server_p50_ms'], 2)} | "
                f"{fmt(sixteen['rps'], 0)} | {fmt(sixteen['p99_ms'], 2)} | "
                f"{fmt(sql.get('statements'), 0)} / {fmt(sql.get('commits'), 0)} | {fmt(sql.get('app_cpu_ms'), 2)} | "
                f"{one['errors'] + sixteen['errors']} | "
                f"{rows_text(RowCheck.from_dict(one['rows']))}, {rows_text(RowCheck.from_dict(sixteen['rows']))} |"
            )
    lines += [
        "",
        "server p50: time inside the WSGI app (bench/timed_wsgi.py). lost/extra rows: signals sent without "
        "exactly one COMPLETED task + log row. Scaling rows: every account is risk-checked, sized and "
        "breach-checked; SQL counts and app CPU are measured in-process over 100 entries.",
        "",
        "Targets (issue 8, at concurrency 16): " + "; ".join(results["targets"]),
    ]
    return "\n".join(lines)


def check_targets(results: dict[str, Any]) -> list[str]:
    ours = {r["connections"]: r for r in results["ours"]}
    ref = {r["connections"]: r for r in results.get("reference", [])}
    out = []
    at16, ref16, at1 = ours.get(16), ref.get(16), ours.get(1)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if at16 and ref16:
        ratio = at16["rps"] / ref16["rps"]
        out.append(f"throughput {ratio:.0%} of reference (>= {TARGET_RATIO:.0%}: {verdict(ratio >= TARGET_RATIO)})")
    if at16:
        out.append(f"p99 {at16['p99_ms']:.1f} ms (< {TARGET_P99_MS:.0f} ms: {verdict(at16['p99_ms'] < TARGET_P99_MS)})")
        out.append(f"errors {at16['errors']} ({verdict(at16['errors'] == 0)})")
        lost = at16["rows"]["lost"] + at16["rows"]["extra"] + at16["rows"]["unfinished"]
        out.append(f"lost/extra/unfinished rows {lost} ({verdict(lost == 0)})")
    if at1 and at1["server_p50_ms"] is not None:
        out.append(f"single-request server p50 {at1['server_p50_ms']:.2f} ms at c=1 "
                   f"(< {TARGET_SERVER_P50_MS:.0f} ms: {verdict(at1['server_p50_ms'] < TARGET_SERVER_P50_MS)})")
    return out


def postgres_version(engine: Any) -> str:
    from sqlalchemy import text

    with engine.connect() as connection:
        return str(connection.execute(text("SHOW server_version")).scalar()).split()[0]


# ---- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
                        help="PostgreSQL URL (default: $BENCH_DATABASE_URL or the local `test` database); its tables are emptied")
    parser.add_argument("--levels", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before the levels")
    parser.add_argument("--mode", choices=("entry", "mix"), default="entry",
                        help="entry: every request opens a new trade; mix: entry then exit of the same trade")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference app")
    parser.add_argument("--no-scaling", action="store_true", help="skip the firms x programs rows")
    parser.add_argument("--scaling-duration", type=float, default=4.0, help="seconds per scaling level (default 4)")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print("wrk is not installed. Install it with:  sudo apt-get update && sudo apt-get install -y wrk\n"
              "(Debian/Ubuntu package `wrk`; on macOS: brew install wrk)", file=sys.stderr)
        return 2
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-", dir=out_dir))

    engine = reset_database(args.db)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(terse=True),
                    "python": platform.python_version(), "postgres": postgres_version(engine)},
        "workers": args.workers, "threads": args.threads, "duration": args.duration, "mode": args.mode,
        "levels": levels,
    }
    base_env = {"DATABASE_URL": args.db, "WEBHOOK_SECRET": SECRET}

    print(f"ours: Step 2 configuration, levels {levels}, {args.duration:.0f} s each ...", flush=True)
    ours = run_server("bench.timed_wsgi:ours()", {**step2_env(), **base_env}, workdir, args, "ours",
                      levels, args.duration, args.warmup, "o")
    for r in ours:
        r["rows"] = check_rows(engine, r["prefix"], expected_keys(r["prefix"], r["generated"], args.mode)).to_dict()
    results["ours"] = ours

    if not args.no_reference:
        from bench.reference_app import count_reference_rows

        print("reference: one JSONB insert + commit per request ...", flush=True)
        ref = run_server("bench.timed_wsgi:reference()", base_env, workdir, args, "reference",
                         levels, args.duration, args.warmup, "r")
        for r in ref:
            found = count_reference_rows(engine, r["prefix"])
            r["rows"] = check_reference_rows(found, expected_keys(r["prefix"], r["generated"], args.mode)).to_dict()
        results["reference"] = ref

    if not args.no_scaling:
        from bench.profile_pipeline import measure

        results["scaling"] = []
        for firms, programs in SCALING:
            print(f"scaling: {firms} firms x {programs} programs ...", flush=True)
            env = scaling_env(firms, programs)
            from tests.db_fixtures import truncate_app_tables

            truncate_app_tables(engine)
            levels_out = run_server("bench.timed_wsgi:ours()", {**env, **base_env}, workdir, args, f"s{firms}x{programs}",
                                    [1, 16], args.scaling_duration, 1.0, f"s{firms}x{programs}")
            for r in levels_out:
                r["rows"] = check_rows(engine, r["prefix"], expected_keys(r["prefix"], r["generated"], args.mode)).to_dict()
            # deterministic counts and this process's CPU per request, in-process (no HTTP)
            sql = measure(env, args.db, requests=100, tag=f"sql{firms}x{programs}")
            results["scaling"].append({"firms": firms, "programs": programs, "levels": levels_out, "sql": sql})

    results["targets"] = check_targets(results)
    (out_dir / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    table = markdown(results)
    print()
    print(table)
    (out_dir / f"bench-{stamp}.md").write_text(table + "\n")
    print(f"\nRaw results: {out_dir / f'bench-{stamp}.json'}; server logs in {workdir}")
    engine.dispose()
    bad_rows = any(not r["rows"]["ok"] for r in results["ours"])
    return 1 if bad_rows else 0


if __name__ == "__main__":
    sys.exit(main())
