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

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dashboard.account_view import account_rows
from dashboard.stats import summarize
from dashboard.trading_state_view import trading_state
from database.json_documents import json_document_problem
from database.monitoring_repository import ExecutionFilter, MonitoringRepository
from domain.task_status import TaskStatus
from prop_firm_registry import get_firm_registry
from web.browser_auth import require_admin_browser
from web.errors import error_response

bp = Blueprint("query_api", __name__)

MAX_LIMIT = 500
STATS_MAX_DOCUMENTS = 20_000
"""Statistics read at most this many result documents; the answer says when it was capped."""
MAX_TASK_ID = 2**31 - 1
"""execution_tasks.id is an INTEGER column: 32-bit on PostgreSQL, so no task has a larger id."""


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Times without a zone are UTC (the audit trail stores UTC). Converted here, because a
        time at the edge of the calendar (0001-01-01T00:00+14:00) has no UTC equivalent and
        would otherwise overflow in the SQLite driver."""
        if value is None:
            return None
        try:
            return _aware(value).astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None


class ExecutionParams(_Params):
    trade_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    firm: str | None = None
    status: str | None = None
    event_type: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 50
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0

    @field_validator("firm")
    @classmethod
    def _firm(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in get_firm_registry():
            raise ValueError(f"unknown firm; known: {', '.join(get_firm_registry())}")
        return value.upper() if value is not None else None

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


def _unstorable_text(args: dict[str, str]) -> dict[str, str]:
    """Parameters whose text PostgreSQL cannot compare (NUL characters), named with why; the same
    check as for stored documents, so both backends answer the same 400."""
    problems = {}
    for name, value in args.items():
        if (problem := json_document_problem({name: value}, "query")) is not None:
            problems[name] = problem
    return problems


def _parse(model: type[_Params]) -> _Params | tuple[Any, int]:
    args = request.args.to_dict(flat=True)
    if problems := _unstorable_text(args):
        return error_response(400, "invalid_query", "Invalid query parameters.", problems)
    try:
        params = model.model_validate(args)
    except ValidationError as exc:
        fields = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "query"
            fields[name] = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
        return error_response(400, "invalid_query", "Invalid query parameters.", fields)
    if params.since and params.until and params.since >= params.until:
        return error_response(400, "invalid_query", "Invalid query parameters.", {"until": "must be after since"})
    return params


def jsonable(value: Any) -> Any:
    """ISO 8601 times and plain numbers (Flask would render datetimes as HTTP dates)."""
    if isinstance(value, datetime):
        return _aware(value).isoformat()
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
    params = _parse(ExecutionParams)
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
    params = _parse(_Params)
    if not isinstance(params, _Params):
        return params
    since = params.since if params.since is not None else (
        None if params.until is not None else datetime.now(timezone.utc) - timedelta(hours=24))
    repo = _repo()
    documents = repo.result_documents(since, params.until, STATS_MAX_DOCUMENTS)
    body = summarize(documents)
    body.update({
        "since": since.isoformat() if since else None,
        "until": params.until.isoformat() if params.until else None,
        "tasks_by_status": repo.task_status_counts(since, params.until),
        "capped": len(documents) >= STATS_MAX_DOCUMENTS,
    })
    return jsonify(body)
