"""`PostgresStatements`: the signal statements (database/signal_statements.py) in PostgreSQL's
own SQL, handed to the driver on SQLAlchemy's connection (`_run`).

A dry-run entry runs two: the PENDING insert together with the read of the entry's inputs (a
data-modifying WITH), and the finish (log row + COMPLETED in one statement); a task that writes
more first takes its row lock. psycopg prepares each statement after its fifth use on a
connection, so PostgreSQL plans them once per connection.

An entry's ledger read can also summarise each account's history in the database (the 'L' rows
below): the engine's fold (account_engine.ledger.summarize_ledger) stays the reference, and
tests/integration/test_ledger_summary_sql.py holds this SQL to it.

JSON documents arrive here already serialised (one ``json.dumps``, also used to check that the
document can be stored) and are cast to jsonb by the server. SQLite keeps the portable
statements in task_repository.py / entry_inputs.py: these use PostgreSQL syntax (``::jsonb``,
``= ANY(array)``, a data-modifying WITH).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import psycopg
from psycopg import pq
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from database.entry_inputs import GUARD_ROWS, MARK_ROWS
from database.signal_statements import SignalStatements

from domain.position import PositionStatus

if TYPE_CHECKING:
    from database.entry_inputs import EntryInputs, LedgerWindow

_ROWS = pq.ExecStatus.TUPLES_OK

_INSERT_TASK = (
    "INSERT INTO execution_tasks (trade_id, event_type, payload, status, idempotency_key) "
    "VALUES (%(trade_id)s, %(event_type)s, %(payload)s::jsonb, 'PENDING', %(idempotency_key)s) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)
_LOCK_TASK = "SELECT id FROM execution_tasks WHERE id = %(task_id)s FOR UPDATE"
# The log row first: the status changes only for the task whose log row this statement wrote,
# so a second finisher (or a resent FAILED after COMPLETED) changes nothing, even in autocommit.
_FINISH_TASK = (
    "WITH log AS (INSERT INTO execution_logs (task_id, trade_id, event_type, response_body) "
    "SELECT id, trade_id, event_type, %(body)s::jsonb FROM execution_tasks WHERE id = %(task_id)s "
    "ON CONFLICT (task_id) DO NOTHING RETURNING id, task_id), "
    "task AS (UPDATE execution_tasks SET status = %(status)s, error = %(error)s, updated_at = now() "
    "FROM log WHERE execution_tasks.id = log.task_id RETURNING execution_tasks.id) "
    "SELECT id FROM log"
)
# Same rows as entry_inputs' portable statement (the ledger branch first, for the column types).
def _open_contracts_and_state(extra_columns: int = 0) -> str:
    """The 'P' (open contracts per account and book: dry_run in the `simulated` column), 'S'
    (trading state), marking ('O', 'M', 'H': database/entry_inputs.MARK_ROWS) and guard ('G') rows both reads
    end with, NULL-padded to the width of the read's ledger rows."""
    pad = ", NULL" * extra_columns
    return (
        f"SELECT 'P', firm_code, program_id, SUM(contracts_open), NULL, NULL, NULL, dry_run, NULL, 0{pad} "
        f"FROM trade_positions WHERE status = '{PositionStatus.OPEN}' AND firm_code = ANY(string_to_array(%(firms)s, ',')) "
        "GROUP BY firm_code, program_id, dry_run "
        "UNION ALL "
        f"SELECT 'S', NULL, NULL, NULL, state, NULL, NULL, NULL, NULL, 0{pad} FROM trading_state WHERE id = 1 "
        "UNION ALL " + MARK_ROWS.format(in_firms="= ANY(string_to_array(%(firms)s, ','))", pad=pad)
        + " UNION ALL " + GUARD_ROWS.format(in_firms="= ANY(string_to_array(%(firms)s, ','))", pad=pad)
    )


_ENTRY_INPUTS = (
    "SELECT 'E' AS part, firm_code, program_id, NULL::bigint AS contracts, kind, amount, occurred_at, "
    "simulated, trade_id, id FROM account_events WHERE firm_code = ANY(string_to_array(%(firms)s, ',')) "
    "UNION ALL " + _open_contracts_and_state()
)
# The ledger rows in the order the account state folds them (entry_inputs.inputs_from_rows).
_ORDER = " ORDER BY occurred_at, id"

# The same inputs with each account's ledger summarised by the database (account_engine.ledger.
# LedgerSummary; `summarize_ledger` is the fold it must agree with): one 'L' row per account
# with events instead of its whole history, so an entry's cost does not grow with the ledger.
# %(firms)s / %(day_starts)s pair each routed firm with its trading-day start at %(now)s.
# The 'L' row reuses the row's columns: contracts = closed, amount = realized, occurred_at =
# day_begin, id = unknown; five more columns carry adjustments, day_pl, peak, set_balance, eod_peak.
_PL_KINDS = "('CLOSE', 'CLOSE_REVERSED', 'ADJUSTMENT')"
# %(books)s says per firm whether it is routed live (t: only live events count) or dry-run (f:
# every event, after the account's last paper reset - a simulated NEW_DAY); %(zones)s and
# %(day_offsets)s give its trading-day boundary, for the end-of-day balances (eod_peak).
_SUMMARY_CTES = (
    "w AS (SELECT * FROM unnest(string_to_array(%(firms)s, ','), string_to_array(%(day_starts)s, ',')::timestamptz[], "
    "string_to_array(%(books)s, ',')::boolean[], string_to_array(%(zones)s, ','), "
    "string_to_array(%(day_offsets)s, ',')::interval[]) AS w(firm_code, day_start, live_book, zone, day_offset)), "
    "booked AS (SELECT e.firm_code, e.program_id, e.kind, e.amount, e.occurred_at, e.simulated, e.trade_id, e.id, "
    "w.day_start, ((e.occurred_at AT TIME ZONE w.zone) - w.day_offset)::date AS tday, "
    "((%(now)s::timestamptz AT TIME ZONE w.zone) - w.day_offset)::date AS today FROM account_events e "
    "JOIN w ON e.firm_code = w.firm_code WHERE e.occurred_at <= %(now)s AND NOT (w.live_book AND e.simulated)), "
    "reset AS (SELECT DISTINCT ON (firm_code, program_id) firm_code, program_id, occurred_at, id FROM booked "
    "WHERE kind = 'NEW_DAY' AND simulated ORDER BY firm_code, program_id, occurred_at DESC, id DESC), "
    "ev AS (SELECT b.* FROM booked b LEFT JOIN reset r ON r.firm_code = b.firm_code AND r.program_id = b.program_id "
    f"WHERE b.kind NOT IN {_PL_KINDS} OR r.id IS NULL OR (b.occurred_at, b.id) > (r.occurred_at, r.id)), "
    "acct AS (SELECT firm_code, program_id, "
    "GREATEST(max(day_start), max(occurred_at) FILTER (WHERE kind = 'NEW_DAY')) AS day_begin, "
    "(array_agg(amount ORDER BY occurred_at DESC, id DESC) "
    "FILTER (WHERE kind = 'SET_BALANCE' AND amount IS NOT NULL))[1] AS set_balance "
    "FROM ev GROUP BY firm_code, program_id), "
    "pl AS (SELECT firm_code, program_id, kind, amount, occurred_at, simulated, tday, today, "
    "sum(amount) OVER (PARTITION BY firm_code, program_id ORDER BY occurred_at, id ROWS UNBOUNDED PRECEDING) AS running, "
    "row_number() OVER (PARTITION BY firm_code, program_id, tday ORDER BY occurred_at DESC, id DESC) AS from_close "
    f"FROM ev WHERE kind IN {_PL_KINDS} AND amount IS NOT NULL), "
    "pl_sum AS (SELECT pl.firm_code, pl.program_id, "
    "sum(pl.amount) FILTER (WHERE pl.kind <> 'ADJUSTMENT') AS realized, "
    "sum(pl.amount) FILTER (WHERE pl.kind = 'ADJUSTMENT') AS adjustments, "
    "sum(pl.amount) FILTER (WHERE pl.occurred_at >= acct.day_begin) AS day_pl, "
    "count(*) FILTER (WHERE pl.kind = 'CLOSE') - count(*) FILTER (WHERE pl.kind = 'CLOSE_REVERSED') AS closed, "
    "bool_or(pl.simulated) AS simulated, GREATEST(0, max(pl.running)) AS peak, "
    "GREATEST(0, max(pl.running) FILTER (WHERE pl.from_close = 1 AND pl.tday < pl.today)) AS eod_peak "
    "FROM pl JOIN acct ON acct.firm_code = pl.firm_code AND acct.program_id = pl.program_id "
    "GROUP BY pl.firm_code, pl.program_id), "
    "unknown AS (SELECT u.firm_code, u.program_id, count(*) AS n FROM ev u "
    f"WHERE u.kind IN {_PL_KINDS} AND u.amount IS NULL AND NOT EXISTS ("
    "SELECT 1 FROM ev a WHERE a.kind = 'ADJUSTMENT' AND a.trade_id <> '' AND a.trade_id = u.trade_id "
    "AND a.firm_code = u.firm_code AND a.program_id = u.program_id) "
    "GROUP BY u.firm_code, u.program_id)"
)
_SUMMARY_SELECT = (
    "SELECT 'L' AS part, acct.firm_code, acct.program_id, COALESCE(pl_sum.closed, 0)::bigint AS contracts, "
    "NULL::text AS kind, COALESCE(pl_sum.realized, 0) AS amount, acct.day_begin AS occurred_at, "
    "COALESCE(pl_sum.simulated, false) AS simulated, NULL::text AS trade_id, COALESCE(unknown.n, 0)::bigint AS id, "
    "COALESCE(pl_sum.adjustments, 0) AS adjustments, COALESCE(pl_sum.day_pl, 0) AS day_pl, "
    "COALESCE(pl_sum.peak, 0) AS peak, acct.set_balance, COALESCE(pl_sum.eod_peak, 0) AS eod_peak "
    "FROM acct LEFT JOIN pl_sum ON pl_sum.firm_code = acct.firm_code AND pl_sum.program_id = acct.program_id "
    "LEFT JOIN unknown ON unknown.firm_code = acct.firm_code AND unknown.program_id = acct.program_id "
    "UNION ALL " + _open_contracts_and_state(extra_columns=5)
)
_SUMMARIZED_INPUTS = f"WITH {_SUMMARY_CTES} {_SUMMARY_SELECT}"
_INSERT_TASK_READING_SUMMARIZED_INPUTS = (
    f"WITH task AS ({_INSERT_TASK}), {_SUMMARY_CTES} {_SUMMARY_SELECT} "
    "UNION ALL SELECT 'T', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id, NULL, NULL, NULL, NULL, NULL FROM task"
)

# The INSERT as a data-modifying WITH: it runs once whatever the SELECT reads, and the SELECT (one
# snapshot, taken before the insert) returns the entry's inputs plus a 'T' row with the new id.
_INSERT_TASK_READING_INPUTS = (
    f"WITH task AS ({_INSERT_TASK}) {_ENTRY_INPUTS} "
    "UNION ALL SELECT 'T', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id FROM task" + _ORDER
)


def _summarise(window: LedgerWindow | None) -> bool:
    return window is not None and bool(window.summarise)


def _inputs_params(firm_codes: Sequence[str], window: LedgerWindow | None) -> dict[str, Any]:
    if not _summarise(window):
        return {"firms": _csv(firm_codes)}
    firms = list(dict.fromkeys(firm_codes))  # a firm listed twice would count its events twice
    days = [window.trading_day(f) for f in firms]
    return {"firms": _csv(firms), "day_starts": _csv([window.day_starts[f].isoformat() for f in firms]),
            "books": _csv(["t" if window.live_books.get(f, False) else "f" for f in firms]),
            "zones": _csv([zone for _, zone in days]), "day_offsets": _csv([start.isoformat() for start, _ in days]),
            "now": window.now}


def _csv(values: Sequence[str]) -> str:
    """A list parameter as text the statement splits with string_to_array (psycopg's list dumper
    is a Python loop over the items per statement). Firm codes are registry codes and ISO
    timestamps never hold a comma; anything else would be split wrongly, so it is refused."""
    if any("," in value for value in values):
        raise ValueError(f"a list parameter item holds a comma: {list(values)!r}")
    return ",".join(values)


def _task_params(trade_id: str, event_type: str, payload_json: str, idempotency_key: str | None) -> dict[str, Any]:
    return {"trade_id": trade_id, "event_type": event_type, "payload": payload_json, "idempotency_key": idempotency_key}


class PostgresStatements(SignalStatements):
    finish_is_one_statement = True  # the log INSERT feeding the UPDATE

    def insert_task(self, connection: Connection, *, trade_id: str, event_type: str, payload: Mapping[str, Any],
                    payload_json: str, idempotency_key: str | None) -> int | None:
        rows = _run(connection, _INSERT_TASK, _task_params(trade_id, event_type, payload_json, idempotency_key))
        return rows[0][0] if rows else None

    def insert_task_reading_entry_inputs(self, connection: Connection, *, trade_id: str, event_type: str,
                                         payload: Mapping[str, Any], payload_json: str, idempotency_key: str | None,
                                         firm_codes: Sequence[str], window: LedgerWindow | None
                                         ) -> tuple[int | None, EntryInputs | None]:
        """One round trip; in autocommit the row is committed by the time the rows are back."""
        from database.entry_inputs import inputs_from_rows

        params = {**_task_params(trade_id, event_type, payload_json, idempotency_key),
                  **_inputs_params(firm_codes, window)}
        statement = _INSERT_TASK_READING_SUMMARIZED_INPUTS if _summarise(window) else _INSERT_TASK_READING_INPUTS
        rows = _run(connection, statement, params)
        task_id = next((row[9] for row in rows if row[0] == "T"), None)
        return task_id, inputs_from_rows([row for row in rows if row[0] != "T"], window)

    def entry_inputs(self, connection: Connection, firm_codes: Sequence[str],
                     window: LedgerWindow | None) -> EntryInputs:
        """(part, firm_code, program_id, contracts, kind, amount, occurred_at, simulated, trade_id,
        id) rows, and with a summarising `window` 'L' summary rows instead of 'E' events."""
        from database.entry_inputs import inputs_from_rows

        if not _summarise(window):
            rows = _run(connection, _ENTRY_INPUTS + _ORDER, _inputs_params(firm_codes, None))
        else:
            rows = _run(connection, _SUMMARIZED_INPUTS, _inputs_params(firm_codes, window))
        return inputs_from_rows(rows, window)

    def lock_task(self, connection: Connection, task_id: int) -> bool:
        return bool(_run(connection, _LOCK_TASK, {"task_id": task_id}))

    def finish_task(self, connection: Connection, *, task_id: int, status: str, error: str | None,
                    result: Mapping[str, Any], body_json: str) -> int | None:
        rows = _run(connection, _FINISH_TASK, {"task_id": task_id, "status": status, "error": error, "body": body_json})
        return rows[0][0] if rows else None


POSTGRES = PostgresStatements()


def _run(connection: Connection, statement: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Execute on the driver connection SQLAlchemy holds for `connection`; the rows as tuples.

    Past SQLAlchemy's execution context and result object, which cost more CPU per statement than
    the statement's own Python (docs/performance.md, "Fast path"); the transaction, the pool and
    the connection stay SQLAlchemy's. psycopg begins implicitly on the first statement and
    SQLAlchemy's commit/rollback end it (or the driver's autocommit, `UnitOfWork.transaction`). A
    driver error surfaces as SQLAlchemy's exception for it (OperationalError, IntegrityError, ...:
    what web/db_errors.py answers 503 for), and a connection the dialect sees as gone is
    invalidated so the pool never hands it out again. SQLAlchemy's cursor events do not see these
    statements; `make profile` counts them here.
    """
    driver = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(statement, params)
        # the result's status, not `cursor.description`, which builds a Column object per field
        result = cursor.pgresult
        return cursor.fetchall() if result is not None and result.status == _ROWS else []
    except psycopg.Error as exc:
        gone = connection.dialect.is_disconnect(exc, driver, cursor)
        if gone:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            statement, params, exc, psycopg.Error, hide_parameters=connection.engine.hide_parameters,
            connection_invalidated=gone, dialect=connection.dialect,
        ) from exc
    finally:
        cursor.close()
