"""gunicorn settings read automatically from the working directory (`gunicorn -c gunicorn.conf.py`).

Prometheus multiprocess mode (https://prometheus.github.io/client_python/multiprocess/):
each worker writes its metric values to files in PROMETHEUS_MULTIPROC_DIR and /metrics sums them,
so a scrape is right whichever worker answers. The variable must be set before any worker imports
prometheus_client, hence here, at import time of this file, in the master. Without it a fresh
private directory is made per start; a directory you set is emptied at start (stale files from a
previous run would be counted again). `child_exit` tells the library a worker died, so its live
gauges are dropped (its counters stay counted).
"""
from __future__ import annotations

import glob
import os
import tempfile

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="execution-router-metrics-")

# Imported now, after the variable is set and before any worker exists, as the library's docs
# do. Importing it inside child_exit instead let a SIGCHLD arriving mid-import (workers exiting
# together at shutdown) re-enter the hook and crash the master with a traceback.
from prometheus_client import multiprocess  # noqa: E402


def on_starting(server) -> None:  # noqa: ANN001 - gunicorn's hook signature
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def child_exit(server, worker) -> None:  # noqa: ANN001 - gunicorn's hook signature
    multiprocess.mark_process_dead(worker.pid)


# gunicorn's own lines (start-up, worker events, access log) as JSON with the same redaction as the
# app's: the access log records query strings, and `?token=` carries the webhook secret or the
# admin token. The exact secret values are only known to the app; the key patterns catch these.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "observability.json_logging.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": []},  # the app installs its own handler (it knows the secrets)
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
