"""Prometheus metrics: defined once here, fed from one place (`record_task_outcome`).

Across gunicorn workers: each worker is a process with its own counters, and a scrape reaches one
of them at random. prometheus_client's multiprocess mode fixes that: when PROMETHEUS_MULTIPROC_DIR
is set *before prometheus_client is imported*, every worker writes its values to mmap files in
that directory and `/metrics` aggregates all of them (gunicorn.conf.py sets the directory up and
marks dead workers). Without the variable (flask run, tests) the normal in-process registry is used.
https://prometheus.github.io/client_python/multiprocess/

Label values are bounded sets (firm codes from the registry, rule names, statuses): never a
trade id or anything from the payload, so cardinality cannot grow with traffic.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from domain.task_status import TaskStatus
from domain.trading_state import TradingState

WEBHOOK_REQUESTS = Counter(
    "execution_router_webhook_requests", "Webhook requests answered, by HTTP status code.", ["status"]
)
TASKS = Counter("execution_router_tasks", "Tasks finished, by final status and action.", ["status", "action"])
TASK_LATENCY = Histogram(
    "execution_router_task_duration_seconds",
    "Time to process one webhook task (checks, orders, audit row), by action.",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
)
REJECTIONS = Counter(
    "execution_router_rejections",
    "Firm/program checks that blocked an order, by firm, stage (risk/sizing/breach), rule and status.",
    ["firm", "stage", "rule", "status"],
)
CONNECTOR_RESULTS = Counter(
    "execution_router_connector_results", "Connector outcomes, by firm and status.", ["firm", "status"]
)
TRADING_STATES = (*TradingState, "UNKNOWN")
TRADING_STATE = Gauge(
    "execution_router_trading_state",
    "1 for the current trading state (UNKNOWN when no trading-state switch is installed).",
    ["state"],
    multiprocess_mode="mostrecent",
)

_STAGES = (("risk", "risk_checks"), ("sizing", "program_sizing"), ("breach", "account_breaches"))


def observe_webhook_response(status_code: int) -> None:
    WEBHOOK_REQUESTS.labels(status=str(status_code)).inc()


def observe_result(result: Mapping[str, Any], seconds: float) -> None:
    """Count one finished task from its result document (the same one stored in execution_logs)."""
    action = str(result.get("action") or "UNKNOWN")
    TASKS.labels(status=TaskStatus.FAILED if result.get("error") else TaskStatus.COMPLETED, action=action).inc()
    TASK_LATENCY.labels(action=action).observe(max(0.0, seconds))
    for stage, key in _STAGES:
        for item in result.get(key) or ():
            status = item.get("status")
            if status and status != "APPROVED":
                REJECTIONS.labels(
                    firm=str(item.get("firm_code")), stage=stage, rule=str(item.get("rule") or "NONE"), status=str(status)
                ).inc()
    for item in result.get("connector_results") or ():
        CONNECTOR_RESULTS.labels(firm=str(item.get("firm_code")), status=str(item.get("status"))).inc()


def observe_trading_state(state: str | None) -> None:
    current = state if state in TRADING_STATES else "UNKNOWN"
    for name in TRADING_STATES:
        TRADING_STATE.labels(state=name).set(1 if name == current else 0)


def render_latest() -> tuple[bytes, str]:
    """The exposition text: all workers' values in multiprocess mode, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


SCHEDULED_RUNS = Counter(
    "execution_router_scheduled_runs", "Timed job runs this worker made (flat-by, news, recovery), by job and status.",
    ["job", "status"],
)
SCHEDULED_LAST_DUE = Gauge(
    "execution_router_scheduled_last_due_timestamp_seconds",
    "When the last run of each timed job was due (Unix time), whichever worker ran it last.",
    ["job"],
    multiprocess_mode="max",
)


def observe_scheduled_run(job_id: str, status: str, due: Any) -> None:
    """One timed job run (scheduling/scheduler.py). Job ids are built from configured firms and programs."""
    SCHEDULED_RUNS.labels(job_id, str(status)).inc()
    SCHEDULED_LAST_DUE.labels(job_id).set(due.timestamp())
