"""``INSERT ... ON CONFLICT DO NOTHING``, shared by the repositories whose unique keys decide
who writes a row (a task per idempotency key, a log per task, a position per trade and firm, an
order per client order id).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Connection, Result, Table, bindparam, text
from sqlalchemy.sql.selectable import TextualSelect


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
    would be compiled again on every call, several times per signal. Text with typed parameters
    and result columns is cached like any statement. PostgreSQL and SQLite (3.35+) share this
    syntax.
    """
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(c.name for c in returning)}"
    )
    params = [bindparam(c, type_=table.c[c].type) for c in columns]
    return text(sql).bindparams(*params).columns(*returning)
