"""The one place a finished task is observed: metrics and notifications, from its result document.

Called by the webhook view with the document the router returned (the same one stored in
execution_logs), so the router itself stays free of instrumentation.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from observability import metrics

log = logging.getLogger(__name__)


def record_task_outcome(app: Flask, result: Mapping[str, Any], seconds: float) -> None:
    """Never raises: observing a task must not turn a routed signal into a 500."""
    try:
        metrics.observe_result(result, seconds)
        notifier = app.extensions.get("notifier")
        if notifier is not None:
            notifier.submit_result(result)
    except Exception:  # noqa: BLE001 - observation is best effort by design
        log.exception("recording the task outcome failed")
