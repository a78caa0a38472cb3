"""`make bench`: throughput and latency of the webhook under gunicorn, against the floor.

    python bench/run_bench.py [--db URL] [--duration S] [--repeats N] [--levels 1,16,64] [--mode entry|mix]

1. Empties the app's tables (BENCH_DATABASE_URL, default the local `test` database), starts
   gunicorn on a free 127.0.0.1 port in dry-run with the guide's Step 2 configuration, warms up,
   then drives POST /api/automated-signals/webhook with wrk at each concurrency level; every
   request carries a distinct trade_id.
2. Runs the same load against the floor, bench/floor_app.py (Flask + psycopg: parse JSON, INSERT
   one JSONB row, COMMIT) and the SQLAlchemy reference, bench/reference_app.py (the same insert
   through our engine), under the same gunicorn settings, interleaved with ours: each level is
   run --repeats times per app, alternating, and ours is compared with each as the median ratio
   of back-to-back runs (throughput, p99) and the ratio of server-side p50s.
3. Stops the servers and checks, per level, that every request sent produced exactly one
   execution_tasks row and one execution_logs row, COMPLETED (lost / extra / unfinished rows).
4. Scaling: 1x1, 2x2 and 5x3 firms x programs (every account sized and checked per entry).
5. Two instances on one PostgreSQL (bench/scale_out.py).

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

from bench import baseline, cpu  # noqa: E402
from bench.report import check_targets, markdown  # noqa: E402
from bench.envs import SCALING, SECRET, scaling_env, step2_env  # noqa: E402
from bench.verify import RowCheck, check_reference_rows, check_rows, expected_keys  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
LUA = ROOT / "bench" / "webhook.lua"
WEBHOOK = "/api/automated-signals/webhook"


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

    def __init__(self, spec: str, app_env: dict[str, str], workdir: Path, workers: int, threads: int, label: str,
                 root: Path = ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"gunicorn-{label}.log"
        self.timings_dir = workdir / f"timings-{label}"
        self.timings_dir.mkdir(parents=True, exist_ok=True)
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ") if k in os.environ}
        env = {**keep, **app_env, "PYTHONPATH": str(root), "BENCH_TIMINGS_DIR": str(self.timings_dir),
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


# ---- servers side by side, several levels ------------------------------------------------------
def drive(servers: dict[str, Server], levels: list[int], duration: float, warmup: float, repeats: int,
          mode: str) -> dict[str, list[list[dict[str, Any]]]]:
    """Every level, `repeats` times, each server in turn (the order alternating per repeat).

    Interleaved rather than one server's levels after the other's: on a shared 2-core machine
    the speed drifts over a minute (other tenants, CPU frequency), and a ratio of two runs made
    a minute apart measured that drift as much as the code (one run gave the reference 1,432
    req/s at c=16, the next 2,529). Returns runs[label][level index] = one wrk summary per repeat.
    """
    for label, server in servers.items():
        if warmup > 0:
            run_wrk(server.url, 8, warmup, f"{label}-warm", mode)
    runs: dict[str, list[list[dict[str, Any]]]] = {label: [] for label in servers}
    pids = {label: server.proc.pid for label, server in servers.items()}
    measure_cpu = cpu.available()
    for connections in levels:
        for label in servers:
            runs[label].append([])
        for rep in range(repeats):
            order = list(servers) if rep % 2 == 0 else list(reversed(servers))
            for label in order:
                prefix = f"{label}-c{connections}-r{rep}"
                before = cpu.snapshot(pids) if measure_cpu else None
                summary = run_wrk(servers[label].url, connections, duration, prefix, mode)
                time.sleep(0.5)  # let requests still in flight when wrk stopped finish
                if before is not None:
                    summary["cpu_ms_per_request"] = _cpu_per_request(before, cpu.snapshot(pids), label,
                                                                     summary["requests"])
                runs[label][-1].append(summary)
    return runs


def _cpu_per_request(before: dict[str, float], after: dict[str, float], label: str, requests: int) -> dict[str, float]:
    """CPU ms per request of one run: the app's gunicorn processes and PostgreSQL (one app runs at a time)."""
    n = max(requests, 1)
    return {part: 1000 * (after[key] - before[key]) / n for part, key in (("server", label), ("postgres", "postgres"))}


def summarize(reps: list[dict[str, Any]], timings: list[tuple[float, float]]) -> dict[str, Any]:
    """One level: medians over the repeats (robust to one disturbed run), totals of counts, and
    the server-side p50 over every request the server finished during those runs."""
    def median(key: str) -> float:
        return statistics.median(r["latency_us"][key] / 1000 for r in reps)

    rates = [r["requests"] / (r["duration_us"] / 1e6) for r in reps if r["duration_us"]]
    server = sorted(s for end, s in timings if any(r["started"] <= end < r["ended"] + 0.5 for r in reps))
    return {
        "connections": reps[0]["connections"],
        "requests": sum(r["requests"] for r in reps),
        "rps": statistics.median(rates) if rates else 0.0,
        "rps_per_repeat": rates,
        "p50_ms": median("p50"),
        "p95_ms": median("p95"),
        "p99_ms": median("p99"),
        "p99_ms_per_repeat": [r["latency_us"]["p99"] / 1000 for r in reps],
        "errors": sum(sum(r["errors"].values()) for r in reps),
        "error_detail": [r["errors"] for r in reps],
        "server_p50_ms": 1000 * statistics.median(server) if server else None,
        "server_p95_ms": 1000 * server[int(0.95 * (len(server) - 1))] if server else None,
        **_cpu_medians(reps),
        "runs": [{"prefix": r["prefix"], "generated": r["generated"]} for r in reps],
    }


def _cpu_medians(reps: list[dict[str, Any]]) -> dict[str, float | None]:
    measured = [r["cpu_ms_per_request"] for r in reps if "cpu_ms_per_request" in r]
    return {f"{part}_cpu_ms": statistics.median(m[part] for m in measured) if measured else None
            for part in ("server", "postgres")}


def run_servers(apps: dict[str, tuple[str, dict[str, str]]], workdir: Path, args: argparse.Namespace,
                levels: list[int], duration: float, warmup: float, repeats: int,
                roots: dict[str, Path] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Start every app (label -> (gunicorn spec, env), served from `roots[label]` or this checkout),
    drive them side by side, stop them."""
    from bench.timed_wsgi import read_timings, timing_label

    servers: dict[str, Server] = {}
    try:
        for label, (spec, env) in apps.items():
            servers[label] = Server(spec, env, workdir, args.workers, args.threads, label,
                                    root=(roots or {}).get(label, ROOT))
        runs = drive(servers, levels, duration, warmup, repeats, args.mode)
    finally:
        for server in servers.values():
            server.stop()
    out = {}
    for label, (spec, _) in apps.items():
        timings = read_timings(str(servers[label].timings_dir), timing_label(spec))
        out[label] = [summarize(reps, timings) for reps in runs[label]]
    return out


def ratios(ours: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """Ours against another app at one level: throughput and p99 as the median of the ratios of
    runs made back to back (the machine's speed drifts less within a pair than across the run);
    the server-side p50 as the ratio of the two medians over every request of the level."""
    def paired(a: list[float], b: list[float]) -> float | None:
        pairs = [x / y for x, y in zip(a, b) if y]
        return statistics.median(pairs) if pairs else None

    server = (ours["server_p50_ms"] / other["server_p50_ms"]
              if ours.get("server_p50_ms") and other.get("server_p50_ms") else None)
    return {"throughput": paired(ours["rps_per_repeat"], other["rps_per_repeat"]),
            "p99": paired(ours["p99_ms_per_repeat"], other["p99_ms_per_repeat"]),
            "server_p50": server}


def row_check(level: dict[str, Any], check: Any) -> dict[str, Any]:
    """Sum of `check(prefix, expected)` over the level's repeats."""
    total = RowCheck(0, 0, 0, 0, 0)
    for run in level["runs"]:
        one = check(run["prefix"], expected_keys(run["prefix"], run["generated"], level.get("mode", "entry")))
        total = RowCheck(total.expected + one.expected, total.tasks + one.tasks, total.lost + one.lost,
                         total.extra + one.extra, total.unfinished + one.unfinished)
    return total.to_dict()


def reset_database(url: str) -> Any:
    from database import create_db_engine, upgrade_to_head
    from tests.db_fixtures import truncate_app_tables

    from bench.floor_app import reset_floor_table
    from bench.reference_app import reset_reference_table

    engine = create_db_engine(url)
    upgrade_to_head(engine)
    truncate_app_tables(engine)
    reset_reference_table(engine)
    reset_floor_table(url)
    return engine


def loadavg() -> str:
    """The 1/5/15-minute load averages: how busy the shared machine was around a measurement."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "-"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run (default 4)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per level and app, ours and the reference alternating (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before the levels")
    parser.add_argument("--mode", choices=("entry", "mix"), default="entry",
                        help="entry: every request opens a new trade; mix: entry then exit of the same trade")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference app")
    parser.add_argument("--no-scaling", action="store_true", help="skip the firms x programs rows")
    parser.add_argument("--no-scale-out", action="store_true", help="skip the two-instance row (bench/scale_out.py)")
    parser.add_argument("--scaling-duration", type=float, default=4.0, help="seconds per scaling level (default 4)")
    parser.add_argument("--baseline-db", metavar="URL",
                        help="the baseline's own PostgreSQL database (EMPTIED: every table dropped), for a "
                             "baseline whose schema differs from ours; default: the same database")
    parser.add_argument("--baseline", metavar="REV",
                        help="also serve git revision REV of this repository (same schema), interleaved with ours, "
                             "and print ours / baseline per level")
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
        "loadavg_before": loadavg(),
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(terse=True),
                    "python": platform.python_version(), "postgres": postgres_version(engine)},
        "workers": args.workers, "threads": args.threads, "duration": args.duration, "repeats": args.repeats,
        "mode": args.mode,
        "levels": levels,
    }
    base_env = {"DATABASE_URL": args.db, "WEBHOOK_SECRET": SECRET}

    apps = {"ours": ("bench.timed_wsgi:ours()", {**step2_env(), **base_env}),
            "floor": ("bench.timed_wsgi:floor()", base_env)}
    if not args.no_reference:
        apps["reference"] = ("bench.timed_wsgi:reference()", base_env)
    roots = {}
    if args.baseline:
        roots["baseline"] = baseline.checkout(ROOT, args.baseline, workdir)
        baseline_env = dict(base_env)
        if args.baseline_db:
            baseline.empty_database(args.baseline_db)  # the baseline's own migrations build its schema
            baseline_env["DATABASE_URL"] = args.baseline_db
        apps["baseline"] = ("bench.timed_wsgi:ours()", {**step2_env(), **baseline_env})
    print(f"{', '.join(apps)} (ours and the baseline: Step 2 configuration; the floor: Flask + psycopg, one JSONB "
          f"insert + commit; the reference: the same through SQLAlchemy): levels {levels}, "
          f"{args.repeats} x {args.duration:.0f} s each, interleaved ...", flush=True)
    try:
        measured = run_servers(apps, workdir, args, levels, args.duration, args.warmup, args.repeats, roots)
    finally:
        if args.baseline:
            baseline.remove(ROOT, roots["baseline"])
    for r in measured["ours"]:
        r["rows"] = row_check({**r, "mode": args.mode}, lambda prefix, want: check_rows(engine, prefix, want))
    results["ours"] = measured["ours"]
    from bench.floor_app import count_floor_rows
    from bench.reference_app import count_reference_rows

    counters = {"floor": lambda prefix: count_floor_rows(args.db, prefix),
                "reference": lambda prefix: count_reference_rows(engine, prefix)}
    for label, count in counters.items():
        if label not in measured:
            continue
        for r, ours_level in zip(measured[label], results["ours"]):
            r["rows"] = row_check({**r, "mode": args.mode},
                                  lambda prefix, want: check_reference_rows(count(prefix), want))
            ours_level[f"vs_{label}"] = ratios(ours_level, r)
        results[label] = measured[label]

    if args.baseline:
        baseline_engine = baseline.engine_for(args.baseline_db) if args.baseline_db else engine
        results["baseline"] = baseline.compare(args.baseline, measured["ours"], measured["baseline"],
                                               lambda r: row_check({**r, "mode": args.mode},
                                                                   lambda prefix, want: check_rows(baseline_engine, prefix, want)))
    if not args.no_scaling:
        from bench.profile_pipeline import measure

        results["scaling"] = []
        for firms, programs in SCALING:
            print(f"scaling: {firms} firms x {programs} programs ...", flush=True)
            env = scaling_env(firms, programs)
            from tests.db_fixtures import truncate_app_tables

            truncate_app_tables(engine)
            label = f"s{firms}x{programs}"
            levels_out = run_servers({label: ("bench.timed_wsgi:ours()", {**env, **base_env})}, workdir, args,
                                     [1, 16], args.scaling_duration, 1.0, 1)[label]
            for r in levels_out:
                r["rows"] = row_check({**r, "mode": args.mode}, lambda prefix, want: check_rows(engine, prefix, want))
            # deterministic counts and this process's CPU per request, in-process (no HTTP)
            sql = measure(env, args.db, requests=100, tag=f"sql{firms}x{programs}")
            results["scaling"].append({"firms": firms, "programs": programs, "levels": levels_out, "sql": sql})

    if not args.no_scale_out:
        from bench import scale_out

        print("scale-out: two instances on one PostgreSQL ...", flush=True)
        results["scale_out"] = scale_out.measure(args.db, args.scaling_duration, args.repeats, 16, 100,
                                                 args.workers, args.threads)
    results["loadavg_after"] = loadavg()
    results["targets"] = check_targets(results)
    (out_dir / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    table = markdown(results)
    if results.get("scale_out"):
        from bench import scale_out

        table += "\n\n" + scale_out.markdown(results["scale_out"])
    if args.baseline:
        table += "\n\n" + baseline.markdown(results["baseline"], results["machine"], results["date"], args)
    print()
    print(table)
    (out_dir / f"bench-{stamp}.md").write_text(table + "\n")
    print(f"\nRaw results: {out_dir / f'bench-{stamp}.json'}; server logs in {workdir}")
    engine.dispose()
    bad_rows = any(not r["rows"]["ok"] for r in results["ours"] + results.get("baseline", {}).get("levels", []))
    scaled = results.get("scale_out")
    bad_rows = bad_rows or bool(scaled and not (scaled["rows"]["ok"] and scaled["duplicate_rows"]["ok"]))
    return 1 if bad_rows else 0


if __name__ == "__main__":
    sys.exit(main())
