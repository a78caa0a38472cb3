"""CPU time used by the servers under test, read from /proc (Linux), for cost per request.

Requests per second on a shared machine measures the machine as much as the code: the same
reference app served 570-2,100 req/s at c=16 on different days here. CPU seconds per request
move far less with other tenants' load, so `make bench` prints them beside the rates, for the
gunicorn process tree (master + workers) and for PostgreSQL (every process of the server: its
backends and its WAL writer, whose work is the commits). wrk's own CPU is counted in neither.
"""
from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(command name, parent pid, user + system CPU seconds) of one process, None if it is gone."""
    try:
        text = (_PROC / pid / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def available() -> bool:
    return (_PROC / "self" / "stat").exists()


def snapshot(server_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: per label, the process `server_pids[label]` and its children; and
    "postgres", every process named postgres (the server runs on this machine)."""
    stats = {pid: s for pid in os.listdir(_PROC) if pid.isdigit() and (s := _stat(pid)) is not None}
    out = {label: 0.0 for label in server_pids}
    out["postgres"] = 0.0
    roots = {str(pid): label for label, pid in server_pids.items()}
    for pid, (name, parent, seconds) in stats.items():
        label = roots.get(pid) or roots.get(str(parent))
        if label is not None:
            out[label] += seconds
        elif name.startswith("postgres"):
            out["postgres"] += seconds
    return out

