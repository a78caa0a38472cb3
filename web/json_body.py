"""Reading a JSON object from a request body, the same way for every endpoint that takes one.

Strict JSON (UTF-8, no NaN/Infinity: not JSON, and PostgreSQL's jsonb would refuse them after the
request was half-handled), parsed whatever the Content-Type (TradingView sends `text/plain`). With
`storable=True` the object is also checked for text PostgreSQL cannot store (NUL characters,
unpaired surrogates), so such input is a 400 naming the field, never a 500 from the database.
"""
from __future__ import annotations

import json
from typing import Any

from flask import request

from database.repository import json_document_problem
from web.errors import error_response


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json_body(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity."""
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


def read_json_object(*, storable: bool = False) -> dict[str, Any] | tuple[Any, int]:
    """The request body as a dict, or the 400 response to return instead."""
    try:
        data = decode_json_body(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        return error_response(400, "invalid_json", "Body must be a JSON object.", {"body": str(exc)})
    if not isinstance(data, dict):
        return error_response(400, "invalid_payload", "Body must be a JSON object.", {"body": "must be a JSON object"})
    if storable and (problem := json_document_problem(data)) is not None:
        return error_response(400, "invalid_payload", "The body contains text that cannot be stored.", {"body": problem})
    return data
