"""`make bench BENCH_ARGS="--baseline REV"`: an earlier revision served beside ours, interleaved
run by run on the same machine and database, so a change's cost is measured against the code it
replaces rather than against numbers from another day."""
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
                       "ratio": statistics.median(pairs) if pairs else None})
    return {"rev": base_rev or rev, "head": head, "levels": levels}


def markdown(result: dict[str, Any], machine: dict[str, Any], date: str, args: argparse.Namespace) -> str:
    lines = [
        f"Ours ({result['head']}) against the baseline ({result['rev']}): {date}; {machine['cpus']} CPUs, "
        f"{machine['platform']}, Python {machine['python']}, PostgreSQL {machine['postgres']}; "
        f"{args.repeats} x {args.duration:.0f} s per level and app, interleaved; mode `{args.mode}`.",
        "",
        "| Concurrency | ours req/s | baseline req/s | ours / baseline | ours p99 ms | baseline p99 ms | "
        "baseline lost/extra rows |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in result["levels"]:
        ratio = "-" if lv["ratio"] is None else f"{lv['ratio']:.2f}"
        lines.append(f"| {lv['connections']} | {lv['ours_rps']:,.0f} | {lv['rps']:,.0f} | {ratio} | "
                     f"{lv['ours_p99_ms']:.2f} | {lv['p99_ms']:.2f} | {lv['rows']['lost']}/{lv['rows']['extra']} |")
    return "\n".join(lines)
