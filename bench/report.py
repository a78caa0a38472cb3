"""The tables `make bench` prints: throughput, latency, CPU per request and the targets line."""
from __future__ import annotations

from typing import Any

from bench.verify import RowCheck

# Targets, all relative to the floor measured in the same run (bench/floor_app.py).
TARGET_RATIO, TARGET_P99_RATIO, TARGET_SERVER_P50_RATIO = 0.5, 2.0, 2.0


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def rows_text(check: RowCheck) -> str:
    text = f"{check.lost}/{check.extra}"
    return text if check.unfinished == 0 else f"{text} ({check.unfinished} unfinished)"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpus']} CPUs ({m.get('cpu_model', 'CPU model unknown')}), {m['platform']}, Python {m['python']}, "
        f"PostgreSQL {m['postgres']}; gunicorn gthread {results['workers']} workers x {results['threads']} threads; "
        f"{results['repeats']} x {results['duration']:.0f} s per level and app, ours, the floor and the reference "
        f"alternating (medians over the runs); mode `{results['mode']}`; {results['date']}; "
        f"load average before / after: {results.get('loadavg_before', '-')} / {results.get('loadavg_after', '-')}.",
        "",
        "| Concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | lost/extra rows | server p50 ms "
        "| floor req/s | floor p99 ms | floor server p50 ms | floor lost/extra | ours / floor: req/s | p99 | server p50 "
        "| reference (SQLAlchemy) req/s | ours / reference req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floor = {r["connections"]: r for r in results.get("floor", [])}
    ref = {r["connections"]: r for r in results.get("reference", [])}
    for r in results["ours"]:
        fl, rf = floor.get(r["connections"]) or {}, ref.get(r["connections"]) or {}
        vf, vr = r.get("vs_floor") or {}, r.get("vs_reference") or {}
        lines.append(
            f"| {r['connections']} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'], 2)} | {fmt(r['p95_ms'], 2)} | "
            f"{fmt(r['p99_ms'], 2)} | {r['errors']} | {rows_text(RowCheck.from_dict(r['rows']))} | "
            f"{fmt(r['server_p50_ms'], 2)} | {fmt(fl.get('rps'), 0)} | {fmt(fl.get('p99_ms'), 2)} | "
            f"{fmt(fl.get('server_p50_ms'), 2)} | {rows_text(RowCheck.from_dict(fl['rows'])) if fl else '-'} | "
            f"{fmt(vf.get('throughput'), 2)} | {fmt(vf.get('p99'), 2)} | {fmt(vf.get('server_p50'), 2)} | "
            f"{fmt(rf.get('rps'), 0)} | {fmt(vr.get('throughput'), 2)} |"
        )
    lines += _cpu_table(results["ours"], floor, ref)
    if results.get("scaling"):
        lines += [
            "",
            "| Firms x programs | accounts | server p50 ms (c=1) | req/s (c=16) | p99 ms (c=16) | "
            "SQL statements / round trips per request | app CPU ms per request | errors | lost/extra rows |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in results["scaling"]:
            one, sixteen = s["levels"]
            sql = s.get("sql") or {}
            lines.append(
                f"| {s['firms']}x{s['programs']} | {s['firms'] * s['programs']} | {fmt(one['server_p50_ms'], 2)} | "
                f"{fmt(sixteen['rps'], 0)} | {fmt(sixteen['p99_ms'], 2)} | "
                f"{fmt(sql.get('statements'), 0)} / {fmt(sql.get('round_trips'), 0)} | {fmt(sql.get('app_cpu_ms'), 2)} | "
                f"{one['errors'] + sixteen['errors']} | "
                f"{rows_text(RowCheck.from_dict(one['rows']))}, {rows_text(RowCheck.from_dict(sixteen['rows']))} |"
            )
    lines += [
        "",
        "req/s and latencies: medians over the runs; ours / floor and ours / reference (req/s, p99): the median "
        "of the ratios of runs made back to back; server p50 ratio: of the medians over the level's requests. The floor: "
        "Flask + psycopg, one JSONB insert + commit (bench/floor_app.py); the reference: the same through SQLAlchemy "
        "(bench/reference_app.py). server p50: time inside the WSGI app (bench/timed_wsgi.py). lost/extra rows: signals sent without "
        "exactly one COMPLETED task + log row. Scaling rows: every account is risk-checked, sized and "
        "breach-checked; SQL counts and app CPU are measured in-process over 100 entries. CPU ms/request: "
        "user + system time of the app's gunicorn processes and of every PostgreSQL process over each run "
        "(/proc, medians), divided by the requests wrk completed.",
        "",
        "Targets:\n" + "\n".join(f"- {t}" for t in results["targets"]),
    ]
    return "\n".join(lines)


def _cpu_table(ours: list[dict[str, Any]], floor: dict[int, dict[str, Any]],
               ref: dict[int, dict[str, Any]]) -> list[str]:
    """CPU ms per request, ours, the floor's and the reference's: the cost ratio moves far less
    than req/s when the shared machine's speed drifts (bench/cpu.py)."""
    if not any(r.get("server_cpu_ms") is not None for r in ours):
        return []
    lines = [
        "",
        "| Concurrency | ours: gunicorn CPU ms/request | ours: PostgreSQL | floor: gunicorn | floor: PostgreSQL "
        "| reference: gunicorn | reference: PostgreSQL | CPU per request, floor / ours |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def total(r: dict[str, Any]) -> float:
        return (r.get("server_cpu_ms") or 0) + (r.get("postgres_cpu_ms") or 0)

    for r in ours:
        fl, rf = floor.get(r["connections"]) or {}, ref.get(r["connections"]) or {}
        lines.append(
            f"| {r['connections']} | {fmt(r.get('server_cpu_ms'), 2)} | {fmt(r.get('postgres_cpu_ms'), 2)} | "
            f"{fmt(fl.get('server_cpu_ms'), 2)} | {fmt(fl.get('postgres_cpu_ms'), 2)} | "
            f"{fmt(rf.get('server_cpu_ms'), 2)} | {fmt(rf.get('postgres_cpu_ms'), 2)} | "
            f"{fmt(total(fl) / total(r), 2) if total(r) and total(fl) else '-'} |"
        )
    return lines


def check_targets(results: dict[str, Any]) -> list[str]:
    """Each target against the floor measured in the same run, with PASS or FAIL."""
    ours = {r["connections"]: r for r in results["ours"]}
    out: list[str] = []
    at16, at1 = ours.get(16), ours.get(1)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    def ratio_line(name: str, value: float | None, limit: float, at_least: bool) -> None:
        if value is None:
            out.append(f"{name}: not measured")
            return
        ok = value >= limit if at_least else value <= limit
        out.append(f"{name} {value:.2f}x the floor ({'>=' if at_least else '<='} {limit:g}x): {verdict(ok)}")

    if at16:
        vs = at16.get("vs_floor") or {}
        ratio_line("c=16 throughput", vs.get("throughput"), TARGET_RATIO, True)
        ratio_line("c=16 p99", vs.get("p99"), TARGET_P99_RATIO, False)
        out.append(f"c=16 errors {at16['errors']} (0): {verdict(at16['errors'] == 0)}")
        rows = at16["rows"]
        out.append(f"c=16 lost/extra rows {rows['lost']}/{rows['extra']}, unfinished {rows['unfinished']} (0/0): "
                   f"{verdict(rows['lost'] + rows['extra'] + rows['unfinished'] == 0)}")
    if at1:
        ratio_line("c=1 server p50", (at1.get("vs_floor") or {}).get("server_p50"), TARGET_SERVER_P50_RATIO, False)
    return out
