"""Query parameters of the admin API and the dashboard's pages, validated into frozen models.

Every parameter is validated; a bad or unknown one is a 400 naming it, never silently ignored (a
typo such as `?stauts=FAILED` must not return everything as if it were the answer). That
includes what the database cannot take: text PostgreSQL cannot compare (a NUL character) and
times without a UTC equivalent. An empty value (a filter form's untouched field) means "any".
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from database.json_documents import json_document_problem
from prop_firm_registry import get_firm_registry
from web.errors import error_response


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class TimeWindow(BaseModel):
    """`since` / `until`: ISO 8601 times or dates (a date is its midnight UTC); no zone = UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until", mode="before")
    @classmethod
    def _date_is_midnight(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return datetime.combine(date.fromisoformat(value.strip()), time(0))
            except ValueError:
                return value
        return value

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Converted here, because a time at the edge of the calendar (0001-01-01T00:00+14:00)
        has no UTC equivalent and would otherwise overflow in the SQLite driver."""
        if value is None:
            return None
        try:
            return aware(value).astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None


def known_firm(value: str | None) -> str | None:
    """A firm code of the registry, upper-cased (raises naming the known ones)."""
    if value is not None and value.upper() not in get_firm_registry():
        raise ValueError(f"unknown firm; known: {', '.join(get_firm_registry())}")
    return value.upper() if value is not None else None


def _unstorable_text(args: dict[str, str]) -> dict[str, str]:
    """Parameters whose text PostgreSQL cannot compare (NUL characters), named with why; the same
    check as for stored documents, so both backends answer the same 400."""
    problems = {}
    for name, value in args.items():
        if (problem := json_document_problem({name: value}, "query")) is not None:
            problems[name] = problem
    return problems


def parse_query(model: type[TimeWindow], *, drop_empty: bool = False,
                ignore: tuple[str, ...] = ()) -> TimeWindow | tuple[Any, int]:
    """The request's query as `model`, or the 400 answer naming each bad parameter. `drop_empty`:
    an empty value is absent (HTML filter forms send every field); `ignore`: parameters another
    layer reads (a page's `refresh`)."""
    args = {k: v for k, v in request.args.to_dict(flat=True).items()
            if k not in ignore and not (drop_empty and not v.strip())}
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
