"""JSON documents as both backends store them: the checks, and the text that is stored.

PostgreSQL's jsonb refuses values SQLite keeps (NUL characters, unpaired surrogates), and
neither may hold NaN/Infinity; checking before the database makes the same input fail the same
way on both, with the offending path in the message.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple


def checked_document(value: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A JSON object both backends store and return unchanged, or a ValueError/TypeError.

    NUL characters and unpaired surrogates are reachable from a webhook body through
    ``\\u0000``/``\\ud800`` escapes, so a body is checked as carefully as anything we build.
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a JSON object (a dict), got {type(value).__name__}")
    _check_json(value, name)
    return dict(value)


def json_text(document: Mapping[str, Any]) -> str:
    """A checked document (`checked_document`) as the JSON text stored for it (NaN/Infinity refused)."""
    return json.dumps(document, allow_nan=False, ensure_ascii=False)


def result_json(value: Mapping[str, Any]) -> str:
    """The JSON text of a result the router built (string keys throughout, by construction).

    Walking every result in Python is a noticeable share of a routed signal's cost, so the common
    case is checked at C speed on the text that is stored anyway: it serialises, with no
    NaN/Infinity, NUL or unpaired surrogate. Anything else gets the walk, which names the
    offending path (and raises).
    """
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        try:
            serialised = json_text(value)
            serialised.encode("utf-8")
        except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
            pass
        else:
            if "\x00" not in serialised and "\\u0000" not in serialised:
                return serialised
    return json_text(checked_document(value, "result"))


def json_document_problem(value: Mapping[str, Any], name: str = "body") -> str | None:
    """Why ``value`` cannot be stored as a JSON document on every backend, or None (lets the
    webhook answer 400 for such input instead of failing when the task is written)."""
    try:
        checked_document(value, name)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _check_json(value: Any, path: str) -> None:
    """Raise for the first part of ``value`` (in document order) that is not storable JSON.

    A loop over a stack of containers being read rather than recursion, so a document nested
    thousands of levels deep gets an answer instead of a RecursionError; a path is spelled out
    only for the message, so the walk stays linear in the document's size however deep it is. A
    container met twice (shared, or a cycle, which ``json.dumps`` refuses later anyway) is checked once.
    """
    if not isinstance(value, _CONTAINERS):
        _check_json_scalar(value, None, path)
        return
    stack: list[tuple[_JsonPath, bool, Iterator[tuple[Any, Any]]]] = [
        (_JsonPath(None, path), isinstance(value, Mapping), _entries(value))]
    seen = {id(value)}
    while stack:
        where, is_mapping, entries = stack[-1]
        for step, item in entries:
            # Plain ASCII text, ints and finite floats are settled inline (the common case, cheap);
            # anything else gets the full check, which names the problem.
            if is_mapping and (type(step) is not str or not step.isascii() or "\x00" in step):
                _check_json_key(step, where)
            kind = type(item)
            if kind is str:
                if not item.isascii() or "\x00" in item:
                    _check_json_scalar(item, where, step)
            elif kind is int or kind is bool or item is None or (kind is float and math.isfinite(item)):
                continue
            elif not isinstance(item, _CONTAINERS):
                _check_json_scalar(item, where, step)
            elif id(item) not in seen:
                seen.add(id(item))
                stack.append((_JsonPath(where, step), isinstance(item, Mapping), _entries(item)))
                break  # read the nested container first; this one resumes after it
        else:
            stack.pop()


_CONTAINERS = (Mapping, list, tuple)


def _entries(container: Mapping[str, Any] | list[Any] | tuple[Any, ...]) -> Iterator[tuple[Any, Any]]:
    """(key, value) of an object, (index, value) of an array, in document order."""
    return iter(container.items()) if isinstance(container, Mapping) else enumerate(container)


class _JsonPath(NamedTuple):
    """Where a value sits: its container's path and its key or index (the root: its name)."""

    parent: "_JsonPath | None"
    step: Any

    def __str__(self) -> str:
        steps, node = [], self
        while node.parent is not None:
            steps.append(node.step)
            node = node.parent
        return str(node.step) + "".join(f"[{step!r}]" for step in reversed(steps))


def _check_json_key(key: Any, path: _JsonPath) -> None:
    if not isinstance(key, str):
        raise TypeError(f"{path} has a non-string key {key!r}; JSON keys are strings")
    if (problem := _text_problem(key)) is not None:
        raise ValueError(f"{path} key {key!r} {problem}")


def _check_json_scalar(value: Any, parent: _JsonPath | None, step: Any) -> None:
    """Checks a value that is not a container; its path is built only to name a problem."""
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{_JsonPath(parent, step)} is {value!r}, which JSON cannot represent")
        return
    if isinstance(value, str):
        if (problem := _text_problem(value)) is not None:
            raise ValueError(f"{_JsonPath(parent, step)} {problem}")
        return
    raise TypeError(f"{_JsonPath(parent, step)} is a {type(value).__name__}, which is not a JSON value")


def _text_problem(text_value: str) -> str | None:
    if "\x00" in text_value:
        return "contains a NUL character, which PostgreSQL cannot store"
    try:
        text_value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (invalid Unicode)"
    return None
