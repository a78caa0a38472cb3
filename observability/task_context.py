"""The task a log line is about, carried in contextvars so every line names it.

Why contextvars and not a LoggerAdapter: the lines that matter are written deep inside the router,
engines and connectors, which should not have to pass ids around just to log. The webhook binds
the trade id, the router binds the task id once the task row exists, and the JSON formatter reads
both. Connector threads get a copy of the context (see connectors/dispatch.py Dispatcher.run).
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_task_id: ContextVar[int | None] = ContextVar("task_id", default=None)
_trade_id: ContextVar[str | None] = ContextVar("trade_id", default=None)


def bind_task(*, task_id: int | None = None, trade_id: str | None = None) -> None:
    """Attach ids to the current context (a request thread or a copied context)."""
    if task_id is not None:
        _task_id.set(task_id)
    if trade_id is not None:
        _trade_id.set(trade_id)


def clear_task() -> None:
    """Forget the ids, so the next request on this worker thread starts clean."""
    _task_id.set(None)
    _trade_id.set(None)


def current_task() -> dict[str, Any]:
    """`{"task_id": ..., "trade_id": ...}` with only the ids that are bound."""
    found = {"task_id": _task_id.get(), "trade_id": _trade_id.get()}
    return {k: v for k, v in found.items() if v is not None}
