"""gunicorn entry points for `make bench`: the app (ours, the floor or the reference) wrapped in a timer.

The timer records, per request, when it finished (wall clock) and how long the WSGI call took
(monotonic), and writes them to ``$BENCH_TIMINGS_DIR/<label>-<pid>.bin`` when the worker exits.
That is the server-side processing time (Flask, validation, routing, SQL), without the network
and the queueing in front of the workers that the client's latency includes. The harness maps
the records onto its load levels by their end time.

Benchmark-only: the application never imports this, and no setting of the service changes.
"""
from __future__ import annotations

import atexit
import os
import time
from array import array
from typing import Any, Callable, Iterable


class ServerTiming:
    """WSGI middleware keeping (end_wall_time, seconds) pairs in memory, flushed at exit."""

    def __init__(self, app: Callable[..., Iterable[bytes]], label: str, out_dir: str | None) -> None:
        self.app = app
        self.label = label
        self.out_dir = out_dir
        self.records: list[tuple[float, float]] = []  # list.append is atomic under the GIL
        if out_dir:
            atexit.register(self.flush)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        result = self.app(environ, start_response)
        try:
            body = list(result)  # Flask builds JSON bodies eagerly; include it in the timing
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.records.append((time.time(), time.perf_counter() - started))
        return body

    def flush(self) -> None:
        flat = array("d")
        for end, seconds in self.records:
            flat.append(end)
            flat.append(seconds)
        path = os.path.join(self.out_dir, f"{self.label}-{os.getpid()}.bin")
        with open(path, "wb") as handle:
            flat.tofile(handle)


def read_timings(out_dir: str, label: str) -> list[tuple[float, float]]:
    """Every (end_wall_time, seconds) pair the workers of ``label`` wrote."""
    records: list[tuple[float, float]] = []
    for name in sorted(os.listdir(out_dir)):
        if name.startswith(label + "-") and name.endswith(".bin"):
            flat = array("d")
            with open(os.path.join(out_dir, name), "rb") as handle:
                flat.frombytes(handle.read())
            records.extend(zip(flat[0::2], flat[1::2]))
    return records


def ours():
    from web_server import create_app

    return ServerTiming(create_app(), "ours", os.environ.get("BENCH_TIMINGS_DIR"))


def reference():
    from bench.reference_app import create_app

    return ServerTiming(create_app(), "reference", os.environ.get("BENCH_TIMINGS_DIR"))


def floor():
    from bench.floor_app import create_app

    return ServerTiming(create_app(), "floor", os.environ.get("BENCH_TIMINGS_DIR"))


def timing_label(spec: str) -> str:
    """The label a gunicorn spec ``bench.timed_wsgi:NAME()`` writes its timings under."""
    return spec.rsplit(":", 1)[-1].removesuffix("()")
