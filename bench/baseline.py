"""`make bench BENCH_ARGS="--baseline REV"`: an earlier revision served beside ours, interleaved
run by run on the same machine (and database, or `--baseline-db` when the schemas differ), so a
change's cost is measured against the code it replaces rather than against numbers from another day."""
from __future__ import annotations

import argparse
import statistics
import subprocess
from pathlib import Path
from typing import Any, Callable


def checkout(root: Path, rev: str, workdir: Path) -> Path:
    """A detached git worktree of `rev` under `workdir` (the baseline's code, nothing else)."""
    path = workdir / "baseline-tree"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "--quiet", str(path), rev], check=True)
    return path


def remove(root: Path, path: Path) -> None:
    subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(path)], check=False)


def compare(rev: str, ours: list[dict[str, Any]], base: list[dict[str, Any]],
            rows: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Per level: both throughputs and the median ratio of runs made back to back."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    base_rev = subprocess.run(["git", "rev-parse", "--short", rev], capture_output=True, text=True).stdout.strip()
    levels = []
    for mine, theirs in zip(ours, base):
        theirs["rows"] = rows(theirs)
        pairs = [o / b for o, b in zip(mine["rps_per_repeat"], theirs["rps_per_repeat"]) if b]
        levels.append({**theirs, "ours_rps": mine["rps"], "ours_p99_ms": mine["p99_ms"],
                       "ours_cpu": {k: mine.get(k) for k in ("server_cpu_ms", "postgres_cpu_ms")},
                       "ratio": statistics.median(pairs) if pairs else None})
    return {"rev": base_rev or rev, "head": head, "levels": levels}


def markdown(result: dict[str, Any], machine: dict[str, Any], date: str, args: argparse.Namespace) -> str:
    lines = [
        f"Ours ({result['head']}) against the baseline ({result['rev']}): {date}; {machine['cpus']} CPUs, "
        f"{machine['platform']}, Python {machine['python']}, PostgreSQL {machine['postgres']}; "
        f"{args.repeats} x {args.duration:.0f} s per level and app, interleaved; mode `{args.mode}`.",
        "",
        "| Concurrency | ours req/s | baseline req/s | ours / baseline | ours p99 ms | baseline p99 ms | "
        "ours CPU ms/request | baseline CPU ms/request | baseline lost/extra rows |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in result["levels"]:
        ratio = "-" if lv["ratio"] is None else f"{lv['ratio']:.2f}"
        lines.append(f"| {lv['connections']} | {lv['ours_rps']:,.0f} | {lv['rps']:,.0f} | {ratio} | "
                     f"{lv['ours_p99_ms']:.2f} | {lv['p99_ms']:.2f} | {_cpu(lv['ours_cpu'])} | {_cpu(lv)} | "
                     f"{lv['rows']['lost']}/{lv['rows']['extra']} |")
    lines += ["", "CPU ms/request: the app's gunicorn processes + PostgreSQL (medians over the runs): it moves "
                  "far less than req/s when the shared machine's speed drifts."]
    return "\n".join(lines)


def empty_database(url: str) -> None:
    """Drop every table of `url`'s public schema (and Alembic's version row), so the baseline
    builds its own schema from its own migrations."""
    from sqlalchemy import MetaData

    engine = engine_for(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


def engine_for(url: str) -> Any:
    from database import create_db_engine

    return create_db_engine(url)


def _cpu(level: dict[str, Any]) -> str:
    parts = [level.get("server_cpu_ms"), level.get("postgres_cpu_ms")]
    return "-" if any(p is None for p in parts) else f"{parts[0] + parts[1]:.2f}"
