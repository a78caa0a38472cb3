"""ExecutionRepository: the only place in the application that speaks SQL.

Every public method is one unit of work in its own transaction (``engine.begin()``), so callers
never hold a transaction open across a broker call, and what a method reports is committed.
Correctness across gunicorn workers and instances comes from the database, never from memory:
unique keys decide who opens a trade or records a result, row locks serialise position changes.

Results are plain dicts (task, log) or frozen ``PositionRecord`` values; SQLAlchemy types never
leave this module, and expected conflicts surface as the domain errors defined here.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from sqlalchemy import (
    Column, Connection, Engine, Integer, Result, Row, String, Table, Text, bindparam, exists, func, select, text, update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.selectable import TextualSelect

from database import pg_hot_path
from database.entry_inputs import EntryInputs, WindowSource, inputs_from_rows, read_entry_inputs, window_now
from database.unit_of_work import transaction

from database.tables import (
    POSITION_CLOSED,
    POSITION_OPEN,
    POSITION_RELEASED,
    POSITION_SIDES,
    execution_logs,
    execution_tasks,
    quantize_price,
    trade_positions,
)


class RepositoryError(Exception):
    """Base class for the expected, domain-level failures of the repository."""


class TaskNotFoundError(RepositoryError, LookupError):
    """The task id does not exist."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"execution task {task_id} does not exist")
        self.task_id = task_id


class PositionNotFoundError(RepositoryError, LookupError):
    """The position id does not exist."""

    def __init__(self, position_id: int) -> None:
        super().__init__(f"trade position {position_id} does not exist")
        self.position_id = position_id


class TaskAlreadyFinishedError(RepositoryError):
    """The task already has its log row: a task has exactly one result."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"execution task {task_id} already has a result in execution_logs")
        self.task_id = task_id


class DuplicateIdempotencyKeyError(RepositoryError):
    """A task with this idempotency key exists already: the signal was seen before."""

    def __init__(self, idempotency_key: str, existing_task_id: int) -> None:
        super().__init__(
            f"a task with idempotency key {idempotency_key!r} exists already "
            f"(task {existing_task_id})"
        )
        self.idempotency_key = idempotency_key
        self.existing_task_id = existing_task_id


class PositionLimitError(RepositoryError):
    """Reserving would take the firm past its max_position_size (another entry got there first)."""

    def __init__(self, firm_code: str, open_contracts: int, requested: int, limit: int) -> None:
        super().__init__(
            f"{firm_code}: {open_contracts} contract(s) already open + {requested} requested "
            f"exceeds max_position_size {limit}"
        )
        self.firm_code = firm_code
        self.open_contracts = open_contracts
        self.requested = requested
        self.limit = limit


class EntryRateLimitError(RepositoryError):
    """Reserving would take the firm past its entries-per-window cap (another entry got there first)."""

    def __init__(self, firm_code: str, recent: int, limit: int) -> None:
        super().__init__(f"{firm_code}: {recent} entry order(s) in the last minute already; the cap is {limit}")
        self.firm_code = firm_code
        self.recent = recent
        self.limit = limit


@dataclass(frozen=True)
class EntryRateCap:
    """At most `max_entries` reservations at a firm since `since` (MAX_ORDERS_PER_MINUTE)."""

    max_entries: int
    since: dt.datetime


@dataclass(frozen=True)
class PositionRecord:
    """What one trade opened at one firm/program, and how much of it is still open."""

    id: int
    trade_id: str
    firm_code: str
    program_id: int
    symbol: str
    side: str
    contracts_opened: int
    contracts_open: int
    entry_price: Decimal | None
    stop_price: Decimal | None
    status: str
    dry_run: bool
    client_order_id: str | None
    firm_contract: str | None = None  # the firm's contract the entry traded, when known


_POSITION_COLUMNS = (
    trade_positions.c.id,
    trade_positions.c.trade_id,
    trade_positions.c.firm_code,
    trade_positions.c.program_id,
    trade_positions.c.symbol,
    trade_positions.c.side,
    trade_positions.c.contracts_opened,
    trade_positions.c.contracts_open,
    trade_positions.c.entry_price,
    trade_positions.c.stop_price,
    trade_positions.c.status,
    trade_positions.c.dry_run,
    trade_positions.c.client_order_id,
    trade_positions.c.firm_contract,
)


def _position_from_row(row: Row[Any]) -> PositionRecord:
    m = row._mapping
    return PositionRecord(
        id=m["id"],
        trade_id=m["trade_id"],
        firm_code=m["firm_code"],
        program_id=m["program_id"],
        symbol=m["symbol"],
        side=m["side"],
        contracts_opened=m["contracts_opened"],
        contracts_open=m["contracts_open"],
        entry_price=m["entry_price"],
        stop_price=m["stop_price"],
        status=m["status"],
        dry_run=bool(m["dry_run"]),
        client_order_id=m["client_order_id"],
        firm_contract=m["firm_contract"],
    )


def _price(value: Decimal | float | int | str | None, name: str) -> Decimal | None:
    """Exact, finite price at the stored scale (floats go through their shortest repr)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    try:
        decimal = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not decimal.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return quantize_price(decimal)


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _document(value: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A JSON object both backends store and return unchanged, or a ValueError/TypeError.

    Checked here, before the database, because PostgreSQL's jsonb refuses some values Python's
    json module accepts (NUL characters and unpaired surrogates, both reachable from a webhook
    body via ``\\u0000``/``\\ud800`` escapes; NaN/Infinity) while SQLite would store them: the
    same input must fail the same way on both, with the offending path in the message.
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a JSON object (a dict), got {type(value).__name__}")
    _check_json(value, name)
    return dict(value)


def json_text(document: Mapping[str, Any]) -> str:
    """A checked document (`_document`) as the JSON text stored for it (NaN/Infinity refused)."""
    return json.dumps(document, allow_nan=False, ensure_ascii=False)


def result_json(value: Mapping[str, Any]) -> str:
    """The JSON text of a result the router built (string keys throughout, by construction).

    Walking a routed signal's result in Python cost ~5% of a request (`make profile`), so the
    common case is checked at C speed on the text that is stored anyway: it serialises, with no
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
    return json_text(_document(value, "result"))


def json_document_problem(value: Mapping[str, Any], name: str = "body") -> str | None:
    """Why ``value`` cannot be stored as a JSON document on every backend, or None (lets the
    webhook answer 400 for such input instead of failing when the task is written)."""
    try:
        _document(value, name)
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


def insert_or_skip(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_columns: tuple[str, ...],
    returning: tuple[Column[Any], ...],
) -> Result[Any]:
    """``INSERT ... ON CONFLICT (cols) DO NOTHING RETURNING ...``; no row back means "already there".

    A conflict on one of our unique keys is an expected outcome (a repeated signal, a second
    result for a task), not an error: letting the statement skip the row keeps the transaction
    usable and avoids mistaking some other integrity error for "already there".
    """
    statement = _insert_or_skip_statement(table, tuple(values), conflict_columns, returning)
    return connection.execute(statement, dict(values))


@functools.lru_cache(maxsize=64)
def _insert_or_skip_statement(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: tuple[Column[Any], ...]
) -> TextualSelect:
    """The statement as text with typed bind parameters, built once per shape.

    SQLAlchemy 2.0 gives the dialects' ``insert().on_conflict_do_nothing()`` no cache key, so it
    was compiled again on every call (four times per signal: ~2 ms of CPU, `make profile`). Text
    with typed parameters and result columns is cached like any statement. PostgreSQL and SQLite
    (3.35+) share this syntax.
    """
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(c.name for c in returning)}"
    )
    params = [bindparam(c, type_=table.c[c].type) for c in columns]
    return text(sql).bindparams(*params).columns(*returning)


def entries_reserved_since(connection: Connection, firm_code: str, since: dt.datetime) -> int:
    """Entry orders reserved at a firm since ``since`` (released reservations sent nothing)."""
    return int(connection.execute(
        select(func.count()).select_from(trade_positions)
        .where(trade_positions.c.firm_code == firm_code)
        .where(trade_positions.c.status != POSITION_RELEASED)
        .where(trade_positions.c.created_at >= since)
    ).scalar_one())


def _open_contracts(connection: Connection, firm_code: str) -> int:
    total = connection.execute(
        select(func.coalesce(func.sum(trade_positions.c.contracts_open), 0))
        .where(trade_positions.c.firm_code == firm_code)
        .where(trade_positions.c.status == POSITION_OPEN)
    ).scalar_one()
    return int(total)


def reduce_position_locked(connection: Connection, position_id: int, contracts: int) -> int:
    """``reduce_position`` inside the caller's transaction (the ledger records the realized
    P&L in the same transaction, so a close is never committed without its P&L row)."""
    row = connection.execute(
        select(trade_positions.c.status, trade_positions.c.contracts_open)
        .where(trade_positions.c.id == position_id)
        .with_for_update()
    ).first()
    if row is None:
        raise PositionNotFoundError(position_id)
    if row.status != POSITION_OPEN or row.contracts_open <= 0:
        return 0
    reduced = min(contracts, row.contracts_open)
    remaining = row.contracts_open - reduced
    connection.execute(
        update(trade_positions)
        .where(trade_positions.c.id == position_id)
        .values(
            contracts_open=trade_positions.c.contracts_open - reduced,
            status=POSITION_CLOSED if remaining == 0 else POSITION_OPEN,
            updated_at=func.now(),
        )
    )
    return reduced


def restore_position_in(connection: Connection, position_id: int, contracts: int) -> None:
    """Give back contracts an exit claimed but the firm did not close, inside the caller's
    transaction; only the ledger calls it, together with reversing the close's P&L row."""
    connection.execute(
        update(trade_positions)
        .where(trade_positions.c.id == position_id)
        .where(trade_positions.c.status.in_((POSITION_OPEN, POSITION_CLOSED)))
        .where(trade_positions.c.contracts_open + contracts <= trade_positions.c.contracts_opened)
        .values(
            contracts_open=trade_positions.c.contracts_open + contracts,
            status=POSITION_OPEN,
            updated_at=func.now(),
        )
    )


# Namespace of the per-firm position advisory locks (ASCII "posl"); the second key is the firm.
POSITION_LOCK_NAMESPACE = 0x706F736C


def lock_firm_positions(connection: Connection, firm_code: str) -> None:
    """Serialise "read open contracts -> reserve" per firm across processes and instances.

    PostgreSQL: a transaction-scoped advisory lock keyed by the firm (released at commit or
    rollback, so a crash cannot leave it held). SQLite: our transactions begin IMMEDIATE,
    which already serialises writers, so nothing is needed.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:firm))"),
            {"ns": POSITION_LOCK_NAMESPACE, "firm": firm_code},
        )


# finish_task's first statement on SQLite, built once (PostgreSQL's is in pg_hot_path). The UPDATE
# takes the write lock, so two finishers of one task queue up; the unique log row then decides,
# and the loser's UPDATE is rolled back with its transaction.
_FINAL_STATUS_PARAMS = (
    bindparam("task_id", type_=Integer), bindparam("status", type_=String), bindparam("error", type_=Text),
)
_SET_FINAL_STATUS = text(
    "UPDATE execution_tasks SET status = :status, error = :error, updated_at = CURRENT_TIMESTAMP "
    "WHERE id = :task_id RETURNING trade_id, event_type"
).bindparams(*_FINAL_STATUS_PARAMS).columns(trade_id=String, event_type=String)


class ExecutionRepository:
    """Tasks, their logged results and the positions trades opened; one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- health ---------------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """`postgresql` or `sqlite`."""
        return self._engine.dialect.name

    def ping(self) -> bool:
        """True when the database answers ``SELECT 1`` (for ``/health``); never raises."""
        try:
            with transaction(self._engine) as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    # -- tasks and logs -------------------------------------------------------------------------

    def create_task(
        self,
        trade_id: str,
        event_type: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> int:
        """Record an accepted signal as a PENDING task and commit it; return the task id.

        Committed before any external call so that even a crash mid-routing leaves a trace.
        Raises ``DuplicateIdempotencyKeyError`` (carrying the existing id) when the key was used.
        """
        values = {
            "trade_id": trade_id,
            "event_type": event_type,
            "payload": _document(payload, "payload"),
            "status": "PENDING",
            "idempotency_key": idempotency_key,
        }
        with transaction(self._engine, one_statement=True) as connection:
            if connection.dialect.name == "postgresql":
                task_id = pg_hot_path.insert_task(
                    connection, trade_id=trade_id, event_type=event_type,
                    payload_json=json_text(values["payload"]), idempotency_key=idempotency_key,
                )
            else:
                task_id = insert_or_skip(
                    connection, execution_tasks, values, ("idempotency_key",), (execution_tasks.c.id,)
                ).scalar_one_or_none()
            if task_id is None:
                raise self._duplicate(connection, idempotency_key)
        return int(task_id)

    def create_entry_task(
        self,
        trade_id: str,
        event_type: str,
        payload: Mapping[str, Any],
        firm_codes: list[str],
        idempotency_key: str | None = None,
        ledger_window: WindowSource = None,
    ) -> tuple[int, EntryInputs]:
        """`create_task`, plus the entry's inputs (`database.entry_inputs`) for `firm_codes`,
        the ledgers summarised for `ledger_window` where the database can (PostgreSQL).

        On PostgreSQL in one round trip (the INSERT as a data-modifying WITH of the read), which
        is what a dry-run entry's first step costs; elsewhere, the two calls in turn.
        """
        document = _document(payload, "payload")
        with transaction(self._engine, one_statement=True) as connection:
            if connection.dialect.name == "postgresql":
                window = window_now(ledger_window)  # with the connection in hand
                task_id, rows = pg_hot_path.insert_task_reading_entry_inputs(
                    connection, trade_id=trade_id, event_type=event_type, payload_json=json_text(document),
                    idempotency_key=idempotency_key, firm_codes=firm_codes, window=window,
                )
                if task_id is None:
                    raise self._duplicate(connection, idempotency_key)
                return int(task_id), inputs_from_rows(rows, window)
        task_id = self.create_task(trade_id, event_type, document, idempotency_key=idempotency_key)
        return task_id, read_entry_inputs(self._engine, firm_codes, ledger_window)

    @staticmethod
    def _duplicate(connection: Connection, idempotency_key: str | None) -> DuplicateIdempotencyKeyError:
        assert idempotency_key is not None  # only a non-NULL key can conflict
        existing = connection.execute(
            select(execution_tasks.c.id).where(execution_tasks.c.idempotency_key == idempotency_key)
        ).scalar_one()
        return DuplicateIdempotencyKeyError(idempotency_key, int(existing))

    def find_task_by_idempotency_key(self, idempotency_key: str) -> dict[str, Any] | None:
        """The task created with this idempotency key, if any (to answer a resent webhook)."""
        with transaction(self._engine) as connection:
            row = connection.execute(
                select(execution_tasks).where(execution_tasks.c.idempotency_key == idempotency_key)
            ).first()
        return dict(row._mapping) if row is not None else None

    def set_task_status(self, task_id: int, status: str) -> None:
        """Move a task to ``status`` (e.g. PROCESSING) and stamp ``updated_at``."""
        with transaction(self._engine) as connection:
            result = connection.execute(
                update(execution_tasks)
                .where(execution_tasks.c.id == task_id)
                .values(status=status, updated_at=func.now())
            )
            if result.rowcount == 0:
                raise TaskNotFoundError(task_id)

    def lock_task(self, task_id: int) -> None:
        """Hold the task's row lock until the caller's unit of work ends (FOR UPDATE).

        What a dry-run signal's unit of work does instead of setting PROCESSING: that status
        would only become visible together with COMPLETED, and ``execution_tasks.status`` is
        indexed, so each status UPDATE writes a new row version and an entry in every index
        (`make bench`). The lock alone keeps recovery (``FOR UPDATE SKIP LOCKED``) off a task that
        is still running. SQLite serialises writers anyway, so there it is a plain read.
        """
        with transaction(self._engine) as connection:
            if connection.dialect.name == "postgresql":
                found = pg_hot_path.lock_task(connection, task_id)
            else:
                found = self._task_exists(connection, task_id)
            if not found:
                raise TaskNotFoundError(task_id)

    def finish_task(
        self,
        task_id: int,
        status: str,
        result: Mapping[str, Any],
        error: str | None = None,
        *,
        stored_json: str | None = None,
    ) -> int:
        """Write the task's one ``execution_logs`` row and its final status; return the log id.

        ``stored_json``: ``result_json(result)`` when the caller already made it (the router
        answers the webhook with the same text), so it is serialised once.

        One transaction, so the audit trail never shows a COMPLETED task without its result or a
        result for a task still PROCESSING. A second call for the same task raises
        ``TaskAlreadyFinishedError`` and changes nothing (the unique log row decides).
        """
        body_json = stored_json if stored_json is not None else result_json(result)
        params = {"task_id": task_id, "status": status, "error": error}
        with transaction(self._engine, one_statement=True) as connection:
            if connection.dialect.name == "postgresql":  # one statement: the log INSERT feeding the UPDATE
                log_id = pg_hot_path.finish_task(connection, body_json=body_json, **params)
            else:
                body = dict(result)  # checked by result_json
                task = connection.execute(_SET_FINAL_STATUS, params).first()
                log_id = None if task is None else insert_or_skip(
                    connection, execution_logs,
                    {"task_id": task_id, "trade_id": task.trade_id, "event_type": task.event_type, "response_body": body},
                    ("task_id",), (execution_logs.c.id,),
                ).scalar_one_or_none()
            if log_id is None:  # nothing changed on PostgreSQL; raising rolls SQLite's UPDATE back
                if self._task_exists(connection, task_id):
                    raise TaskAlreadyFinishedError(task_id)
                raise TaskNotFoundError(task_id)
        return int(log_id)

    @staticmethod
    def _task_exists(connection: Connection, task_id: int) -> bool:
        return bool(connection.execute(select(exists().where(execution_tasks.c.id == task_id))).scalar())

    def get_task(self, task_id: int) -> dict[str, Any] | None:
        """The task row as a dict (payload as a dict), or None."""
        with transaction(self._engine) as connection:
            row = connection.execute(
                select(execution_tasks).where(execution_tasks.c.id == task_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def latest_task_id(self) -> int:
        """The newest task's id (0 when there is none): a task with a higher id was created later."""
        with transaction(self._engine) as connection:
            return connection.execute(select(func.max(execution_tasks.c.id))).scalar_one() or 0

    def get_log_for_task(self, task_id: int) -> dict[str, Any] | None:
        """The task's ``execution_logs`` row as a dict (response_body as a dict), or None."""
        with transaction(self._engine) as connection:
            row = connection.execute(
                select(execution_logs).where(execution_logs.c.task_id == task_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    # -- positions ------------------------------------------------------------------------------

    def open_position(
        self,
        *,
        trade_id: str,
        firm_code: str,
        program_id: int,
        symbol: str,
        side: str,
        contracts: int,
        entry_price: Decimal | float | int | str | None,
        stop_price: Decimal | float | int | str | None,
        task_id: int | None,
        client_order_id: str | None,
        dry_run: bool,
        firm_position_limit: int | None = None,
        rate_cap: EntryRateCap | None = None,
    ) -> PositionRecord | None:
        """Claim the right to open ``trade_id`` at ``firm_code``/``program_id``; None if taken.

        Call this *before* sending the order: the unique key (trade_id, firm_code, program_id)
        makes exactly one worker win, so a repeated or concurrent signal never sends a second
        order. If the order then fails, ``release_position`` records that nothing is open.

        With ``firm_position_limit`` the firm's open contracts are re-counted under a per-firm
        lock in the same transaction, and ``PositionLimitError`` is raised if this reservation
        would exceed it: two simultaneous entries can never both pass a limit only one fits.
        ``rate_cap`` is re-checked the same way (``EntryRateLimitError``): the safety guard's
        earlier count is a fast first pass that parallel entries can all pass at once.
        """
        if side not in POSITION_SIDES:
            raise ValueError(f"side must be one of {POSITION_SIDES}, got {side!r}")
        _positive_int(contracts, "contracts")
        values = {
            "trade_id": trade_id,
            "firm_code": firm_code,
            "program_id": program_id,
            "symbol": symbol,
            "side": side,
            "contracts_opened": contracts,
            "contracts_open": contracts,
            "entry_price": _price(entry_price, "entry_price"),
            "stop_price": _price(stop_price, "stop_price"),
            "status": POSITION_OPEN,
            "dry_run": bool(dry_run),
            "client_order_id": client_order_id,
            "opened_task_id": task_id,
        }
        with transaction(self._engine) as connection:
            if firm_position_limit is not None or rate_cap is not None:
                lock_firm_positions(connection, firm_code)
            if firm_position_limit is not None:
                open_now = _open_contracts(connection, firm_code)
                if open_now + contracts > firm_position_limit:
                    raise PositionLimitError(firm_code, open_now, contracts, firm_position_limit)
            if rate_cap is not None:
                recent = entries_reserved_since(connection, firm_code, rate_cap.since)
                if recent + 1 > rate_cap.max_entries:
                    raise EntryRateLimitError(firm_code, recent, rate_cap.max_entries)
            row = insert_or_skip(
                connection, trade_positions, values, ("trade_id", "firm_code", "program_id"),
                tuple(_POSITION_COLUMNS),
            ).first()
        return _position_from_row(row) if row is not None else None

    def record_position_contract(self, position_id: int, contract: str) -> None:
        """The firm's contract an entry order went out for (sent, answered or not): its exit
        closes that contract. Recorded once; a later call changes nothing. Never shortened: an id
        longer than the column fails here (the caller logs it) and the exit falls back to the
        front contract, instead of looking up a wrong one."""
        with transaction(self._engine) as connection:
            connection.execute(
                update(trade_positions)
                .where(trade_positions.c.id == position_id)
                .where(trade_positions.c.firm_contract.is_(None))
                .values(firm_contract=contract, updated_at=func.now())
            )

    def release_position(self, position_id: int) -> None:
        """The entry order failed: mark the position RELEASED with nothing open.

        The row stays, so the trade does not re-open at that firm/program on a repeated signal.
        Releasing a position that is no longer OPEN changes nothing.
        """
        with transaction(self._engine) as connection:
            result = connection.execute(
                update(trade_positions)
                .where(trade_positions.c.id == position_id)
                .where(trade_positions.c.status == POSITION_OPEN)
                .values(status=POSITION_RELEASED, contracts_open=0, updated_at=func.now())
            )
            if result.rowcount == 0 and not self._position_exists(connection, position_id):
                raise PositionNotFoundError(position_id)

    def open_positions_for_trade(self, trade_id: str) -> list[PositionRecord]:
        """What this trade still has open, per firm/program (what an exit must close)."""
        with transaction(self._engine, one_statement=True) as connection:
            rows = connection.execute(
                select(*_POSITION_COLUMNS)
                .where(trade_positions.c.trade_id == trade_id)
                .where(trade_positions.c.status == POSITION_OPEN)
                .where(trade_positions.c.contracts_open > 0)
                .order_by(trade_positions.c.firm_code, trade_positions.c.program_id)
            ).all()
        return [_position_from_row(row) for row in rows]

    def has_position_history(self, trade_id: str) -> bool:
        """Whether this trade ever opened anything (any status), e.g. to tell an exit for an
        unknown trade from an exit for a trade that is already flat."""
        with transaction(self._engine, one_statement=True) as connection:
            return bool(
                connection.execute(
                    select(exists().where(trade_positions.c.trade_id == trade_id))
                ).scalar()
            )

    def reduce_position(self, position_id: int, contracts: int) -> int:
        """Take up to ``contracts`` off an OPEN position; return how many were actually taken.

        Never goes below zero (an exit for more than is open closes what is open); the position
        becomes CLOSED at zero. The row is locked (``FOR UPDATE`` on PostgreSQL; SQLite
        transactions are already serialised) so two exits arriving together cannot both close
        the same contracts. A position that is not OPEN yields 0.
        """
        _positive_int(contracts, "contracts")
        with transaction(self._engine) as connection:
            return reduce_position_locked(connection, position_id, contracts)

    def open_contracts_for_firm(self, firm_code: str) -> int:
        """Contracts currently open at a firm (all programs), for its max_position_size cap."""
        with transaction(self._engine, one_statement=True) as connection:
            return _open_contracts(connection, firm_code)

    @staticmethod
    def _position_exists(connection: Connection, position_id: int) -> bool:
        return bool(
            connection.execute(select(exists().where(trade_positions.c.id == position_id))).scalar()
        )
