"""The real service whose every task hangs inside its processing, for the crash test: gunicorn
serves ``tests.e2e.slow_app:create_slow_app()`` and the test kills the worker mid-task.

The product has no such switch; the wrapper goes around the router's own SafetyGuard, the first
stage every processor runs once its task is recorded."""
from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Flask

from web_server import create_app

SLEEP_ENV = "SLOW_APP_SLEEP_SECONDS"
"""How long each task hangs (a variable of this harness only, read from the test's environment)."""

log = logging.getLogger(__name__)


def create_slow_app() -> Flask:
    app = create_app()
    seconds = float(os.environ.get(SLEEP_ENV, "60"))
    guard = app.extensions["execution_router"].guard
    read_state = guard.trading_state

    def slow_trading_state(safety: Any, known: str | None = None) -> str:
        log.warning("slow app: the task hangs %.0f s", seconds)
        time.sleep(seconds)
        return read_state(safety, known)

    guard.trading_state = slow_trading_state  # type: ignore[method-assign]
    return app
