"""Admin query API (JSON): executions, one execution with its log, account states, statistics.

    GET /api/executions?trade_id=&firm=&status=&event_type=&since=&until=&limit=&offset=
    GET /api/executions/<task_id>
    GET /api/accounts
    GET /api/stats?since=&until=

Protected like the dashboard (Bearer, basic auth or the dashboard cookie). Every query parameter
is validated; a bad or unknown one is a 400 naming it, never silently ignored (a typo such as
`?stauts=FAILED` must not return everything as if it were the answer). That includes what the
database cannot take: text PostgreSQL cannot compare (a NUL character) and task ids beyond the
32-bit id column, which would otherwise fail in the driver as a 500.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify
from pydantic import Field, field_validator

from dashboard.account_view import account_rows
from dashboard.execution_stats import execution_stats
from dashboard.params import TimeWindow, aware, known_firm, parse_query
from dashboard.trading_state_view import trading_state
from database.monitoring_repository import ExecutionFilter, MonitoringRepository
from domain.task_status import TaskStatus
from web.browser_auth import require_admin_browser
from web.errors import error_response

bp = Blueprint("query_api", __name__)

MAX_LIMIT = 500
STATS_MAX_DOCUMENTS = 20_000
"""Statistics read at most this many result documents; the answer says when it was capped."""
MAX_TASK_ID = 2**31 - 1
"""execution_tasks.id is an INTEGER column: 32-bit on PostgreSQL, so no task has a larger id."""


class ExecutionParams(TimeWindow):
    trade_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    firm: str | None = None
    status: str | None = None
    event_type: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 50
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0

    @field_validator("firm")
    @classmethod
    def _firm(cls, value: str | None) -> str | None:
        return known_firm(value)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in list(TaskStatus):
            raise ValueError(f"must be one of {', '.join(TaskStatus)}")
        return value.upper() if value is not None else None

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None


def jsonable(value: Any) -> Any:
    """ISO 8601 times and plain numbers (Flask would render datetimes as HTTP dates)."""
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _repo() -> MonitoringRepository:
    return MonitoringRepository(current_app.extensions["db_engine"])


@bp.get("/api/executions")
@require_admin_browser(html=False)
def list_executions():
    params = parse_query(ExecutionParams)
    if not isinstance(params, ExecutionParams):
        return params
    filters = ExecutionFilter(**params.model_dump())
    items, total = _repo().list_executions(filters)
    return jsonify({"items": jsonable(items), "total": total, "limit": params.limit, "offset": params.offset})


@bp.get("/api/executions/<int:task_id>")
@require_admin_browser(html=False)
def get_execution(task_id: int):
    if task_id > MAX_TASK_ID:
        return error_response(400, "invalid_path", f"Execution task ids are at most {MAX_TASK_ID}.",
                              {"task_id": f"must be at most {MAX_TASK_ID}"})
    found = _repo().get_execution(task_id)
    if found is None:
        return error_response(404, "not_found", f"Execution task {task_id} does not exist.", {"task_id": "not found"})
    return jsonify(jsonable(found))


@bp.get("/api/accounts")
@require_admin_browser(html=False)
def accounts():
    return jsonify(jsonable({"accounts": account_rows(current_app), "trading_state": trading_state(current_app)}))


@bp.get("/api/stats")
@require_admin_browser(html=False)
def stats():
    params = parse_query(TimeWindow)
    if not isinstance(params, TimeWindow):
        return params
    since = params.since if params.since is not None else (
        None if params.until is not None else datetime.now(timezone.utc) - timedelta(hours=24))
    return jsonify(jsonable(execution_stats(current_app, since, params.until, STATS_MAX_DOCUMENTS)))
