"""Reading a JSON object from a request body, the same way for every endpoint that takes one.

Strict JSON (UTF-8, no NaN/Infinity: not JSON, and PostgreSQL's jsonb would refuse them after the
request was half-handled), parsed whatever the Content-Type (TradingView sends `text/plain`). With
`storable=True` the object is also checked for text PostgreSQL cannot store (NUL characters,
unpaired surrogates), so such input is a 400 naming the field, never a 500 from the database.

The limits every body is held to live here, before any parsing:
- at most ``MAX_CONTENT_LENGTH`` bytes (``WEBHOOK_MAX_BODY_BYTES``) whatever the framing, chunked
  included: a longer body is a 413, never parsed cut short;
- arrays and objects nested at most ``MAX_JSON_DEPTH`` levels, decided by a loop over the raw
  bytes, because the JSON parser (and everything that walks the result) recurses per level and a
  body nested ~1,000 deep would otherwise be a RecursionError, a 500 before authentication.
"""
from __future__ import annotations

import json
import re
from typing import IO, Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from database.json_documents import json_document_problem
from web.errors import error_response

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays/objects a body may have. Real signals nest two or three levels
(`targets`, `setup`, `market_state`; `MFE_UPDATE_BATCH`'s list of objects under `signals`)."""

_READ_CHUNK_BYTES = 65_536
_OPENERS = b"[{"
_CLOSERS = b"]}"
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
"""A whole string (backslash escapes honoured, so brackets inside it are skipped) or a bracket."""


class JsonTooDeepError(ValueError):
    """The body nests arrays/objects deeper than MAX_JSON_DEPTH (found before parsing it)."""


def exceeds_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` has more than ``limit`` arrays/objects open at once, outside strings.

    A loop, not a parser: it must not recurse on the very input it guards against. Invalid JSON
    gets an answer too (the parser then names what is wrong with it).
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # too few brackets to nest that deep: the common case, at C speed
    depth = 0
    for match in _STRUCTURE.finditer(raw):
        first = raw[match.start()]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first in _CLOSERS:
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json_body(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, nested at most MAX_JSON_DEPTH levels (checked first)."""
    if exceeds_depth(raw):
        raise JsonTooDeepError(f"arrays/objects nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


def _read_at_most(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK_BYTES))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_body() -> bytes:
    """The raw request body; RequestEntityTooLarge (413) when it is longer than the limit.

    Werkzeug checks ``MAX_CONTENT_LENGTH`` against Content-Length. A chunked body has none: Werkzeug
    then reads it up to the limit and silently drops the rest, so a cut document could be parsed
    and stored. Such a body is read here straight from the server's (terminated) stream, at most
    limit + 1 bytes: one byte more than allowed proves it too long without reading it all.
    """
    limit = request.max_content_length
    streamed = request.content_length is None and request.environ.get("wsgi.input_terminated")
    if limit is None or not streamed:
        return request.get_data(cache=False)  # Content-Length framing: Werkzeug enforces the limit
    body = _read_at_most(request.environ["wsgi.input"], limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _too_deep() -> tuple[Any, int]:
    current_app.logger.warning("refused a JSON body nested deeper than %d levels: %s %s",
                               MAX_JSON_DEPTH, request.method, request.path)
    return error_response(
        400, "too_deeply_nested",
        f"The body nests arrays/objects deeper than {MAX_JSON_DEPTH} levels, the documented limit.",
        {"body": f"nested deeper than {MAX_JSON_DEPTH} levels"},
    )


class RefusedBody(Exception):
    """The body is not strict JSON; `response` is the 400 to answer with."""

    def __init__(self, response: tuple[Any, int]):
        super().__init__("refused JSON body")
        self.response = response


def read_json_value(what: str = "a JSON object") -> Any:
    """The decoded request body (any JSON value); RefusedBody with the 400 when it is not JSON."""
    try:
        return decode_json_body(read_body())
    except JsonTooDeepError:
        raise RefusedBody(_too_deep()) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RefusedBody(error_response(400, "invalid_json", f"Body must be {what}.", {"body": str(exc)})) from None


def read_json_object(*, storable: bool = False) -> dict[str, Any] | tuple[Any, int]:
    """The request body as a dict, or the 400 response to return instead (413 is raised)."""
    try:
        data = read_json_value()
    except RefusedBody as refused:
        return refused.response
    if not isinstance(data, dict):
        return error_response(400, "invalid_payload", "Body must be a JSON object.", {"body": "must be a JSON object"})
    if storable and (problem := json_document_problem(data)) is not None:
        return error_response(400, "invalid_payload", "The body contains text that cannot be stored.", {"body": problem})
    return data
