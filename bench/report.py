"""The tables `make bench` prints: throughput, latency, CPU per request and the targets line."""
from __future__ import annotations

from typing import Any

from bench.verify import RowCheck

# Targets (2-core machine), checked at concurrency 16.
TARGET_RATIO, TARGET_P99_MS, TARGET_SERVER_P50_MS = 0.5, 25.0, 2.0


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
        f"{results['repeats']} x {results['duration']:.0f} s per level and app, ours and the reference "
        f"alternating (medians over the runs); mode `{results['mode']}`; {results['date']}.",
        "",
        "| Concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | lost/extra rows | server p50 ms "
        "| reference req/s | reference p99 ms | reference server p50 ms | ours / reference |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ref = {r["connections"]: r for r in results.get("reference", [])}
    for r in results["ours"]:
        rf = ref.get(r["connections"])
        ratio = r.get("ratio_to_reference")
        lines.append(
            f"| {r['connections']} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'], 2)} | {fmt(r['p95_ms'], 2)} | "
            f"{fmt(r['p99_ms'], 2)} | {r['errors']} | {rows_text(RowCheck.from_dict(r['rows']))} | "
            f"{fmt(r['server_p50_ms'], 2)} | {fmt(rf['rps'], 0) if rf else '-'} | "
            f"{fmt(rf['p99_ms'], 2) if rf else '-'} | {fmt(rf.get('server_p50_ms'), 2) if rf else '-'} | "
            f"{fmt(ratio, 2) if ratio else '-'} |"
        )
    lines += _cpu_table(results["ours"], ref)
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
        "req/s and latencies: medians over the runs; ours / reference: the median of the ratios of runs made "
        "back to back. server p50: time inside the WSGI app (bench/timed_wsgi.py). lost/extra rows: signals sent without "
        "exactly one COMPLETED task + log row. Scaling rows: every account is risk-checked, sized and "
        "breach-checked; SQL counts and app CPU are measured in-process over 100 entries. CPU ms/request: "
        "user + system time of the app's gunicorn processes and of every PostgreSQL process over each run "
        "(/proc, medians), divided by the requests wrk completed.",
        "",
        "Targets (at concurrency 16): " + "; ".join(results["targets"]),
    ]
    return "\n".join(lines)


def _cpu_table(ours: list[dict[str, Any]], ref: dict[int, dict[str, Any]]) -> list[str]:
    """CPU ms per request, ours and the reference's: the cost ratio moves far less than req/s
    when the shared machine's speed drifts (bench/cpu.py)."""
    if not any(r.get("server_cpu_ms") is not None for r in ours):
        return []
    lines = [
        "",
        "| Concurrency | ours: gunicorn CPU ms/request | ours: PostgreSQL CPU ms/request | reference: gunicorn "
        "| reference: PostgreSQL | CPU per request, reference / ours |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ours:
        rf = ref.get(r["connections"]) or {}
        mine = (r.get("server_cpu_ms") or 0) + (r.get("postgres_cpu_ms") or 0)
        theirs = (rf.get("server_cpu_ms") or 0) + (rf.get("postgres_cpu_ms") or 0)
        lines.append(
            f"| {r['connections']} | {fmt(r.get('server_cpu_ms'), 2)} | {fmt(r.get('postgres_cpu_ms'), 2)} | "
            f"{fmt(rf.get('server_cpu_ms'), 2)} | {fmt(rf.get('postgres_cpu_ms'), 2)} | "
            f"{fmt(theirs / mine, 2) if mine and theirs else '-'} |"
        )
    return lines


def check_targets(results: dict[str, Any]) -> list[str]:
    ours = {r["connections"]: r for r in results["ours"]}
    ref = {r["connections"]: r for r in results.get("reference", [])}
    out = []
    at16, ref16, at1 = ours.get(16), ref.get(16), ours.get(1)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if at16 and ref16 and at16.get("ratio_to_reference") is not None:
        ratio = at16["ratio_to_reference"]
        out.append(f"throughput {ratio:.0%} of reference (>= {TARGET_RATIO:.0%}: {verdict(ratio >= TARGET_RATIO)})")
    if at16:
        # Little's law: wrk keeps 16 requests in flight, so the mean latency is 16 / throughput
        # whatever the app; p99 < 25 ms needs more than 640 req/s even with no spread at all.
        context = (f"; the reference's p99 {ref16['p99_ms']:.1f} ms{_by_reference(ref16['p99_ms'] < TARGET_P99_MS)}; "
                   f"any app needs > {16000 / TARGET_P99_MS:.0f} req/s for it, the reference served {ref16['rps']:,.0f}"
                   ) if ref16 else ""
        out.append(f"p99 {at16['p99_ms']:.1f} ms (< {TARGET_P99_MS:.0f} ms: {verdict(at16['p99_ms'] < TARGET_P99_MS)}"
                   f"{context})")
        out.append(f"errors {at16['errors']} ({verdict(at16['errors'] == 0)})")
        lost = at16["rows"]["lost"] + at16["rows"]["extra"] + at16["rows"]["unfinished"]
        out.append(f"lost/extra/unfinished rows {lost} ({verdict(lost == 0)})")
    if at1 and at1["server_p50_ms"] is not None:
        ref1 = ref.get(1) or {}
        context = (f"; the reference's {ref1['server_p50_ms']:.2f} ms"
                   f"{_by_reference(ref1['server_p50_ms'] < TARGET_SERVER_P50_MS)}"
                   ) if ref1.get("server_p50_ms") is not None else ""
        out.append(f"single-request server p50 {at1['server_p50_ms']:.2f} ms at c=1 "
                   f"(< {TARGET_SERVER_P50_MS:.0f} ms: {verdict(at1['server_p50_ms'] < TARGET_SERVER_P50_MS)}{context})")
    return out


def _by_reference(ok: bool) -> str:
    """Whether the reference itself meets an absolute target: where it does not, the machine is
    too slow for the target, whatever the router does."""
    return "" if ok else ", which misses it too"
