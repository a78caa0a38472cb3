"""Trade positions: what each trade opened per firm/program, reservations before an order is
sent, the per-firm lock that serialises them, and the limits re-checked under it.

The unique key (trade_id, firm_code, program_id) makes exactly one worker open a trade at a
firm/program; row locks serialise the contracts an exit takes off. The module-level functions
run inside a caller's transaction (the ledger closes contracts and records their P&L in one).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence, Union

from sqlalchemy import Connection, Engine, exists, func, select, text, update

from domain.position import PositionSide, PositionStatus

from database.errors import EntryRateLimitError, PositionLimitError, PositionNotFoundError, RepositoryError
from database.records import POSITION_COLUMNS, EntryRateCap, PositionRecord, position_from_row
from database.statements import insert_or_skip
from database.tables import trade_positions
from database.unit_of_work import Connections, connections
from database.validation import exact_price, positive_int


def entries_reserved_since(connection: Connection, firm_code: str, since: dt.datetime) -> int:
    """Entry orders reserved at a firm since ``since`` (released reservations sent nothing)."""
    return int(connection.execute(
        select(func.count()).select_from(trade_positions)
        .where(trade_positions.c.firm_code == firm_code)
        .where(trade_positions.c.status != PositionStatus.RELEASED)
        .where(trade_positions.c.created_at >= since)
    ).scalar_one())


def _open_contracts(connection: Connection, firm_code: str, live_book: bool = False) -> int:
    """Open contracts at the firm; the live book counts live positions only (paper never holds
    a live account's contracts), the paper book every one (as database.entry_inputs)."""
    query = (
        select(func.coalesce(func.sum(trade_positions.c.contracts_open), 0))
        .where(trade_positions.c.firm_code == firm_code)
        .where(trade_positions.c.status == PositionStatus.OPEN)
    )
    if live_book:
        query = query.where(trade_positions.c.dry_run.is_(False))
    return int(connection.execute(query).scalar_one())


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
    if row.status != PositionStatus.OPEN or row.contracts_open <= 0:
        return 0
    reduced = min(contracts, row.contracts_open)
    remaining = row.contracts_open - reduced
    connection.execute(
        update(trade_positions)
        .where(trade_positions.c.id == position_id)
        .values(
            contracts_open=trade_positions.c.contracts_open - reduced,
            status=PositionStatus.CLOSED if remaining == 0 else PositionStatus.OPEN,
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
        .where(trade_positions.c.status.in_((PositionStatus.OPEN, PositionStatus.CLOSED)))
        .where(trade_positions.c.contracts_open + contracts <= trade_positions.c.contracts_opened)
        .values(
            contracts_open=trade_positions.c.contracts_open + contracts,
            status=PositionStatus.OPEN,
            updated_at=func.now(),
        )
    )


# Namespace of the per-firm position advisory locks (ASCII "posl"); the second key is the firm.
POSITION_LOCK_NAMESPACE = 0x706F736C


def note_position_contract(connection: Connection, position_id: int, contract: str) -> None:
    """The firm's contract an entry order went out for (sent, answered or not): its exit closes
    that contract. Recorded once; a later call changes nothing. Never shortened: an id longer
    than the column is refused (ValueError, on both backends) and the exit falls back to the
    front contract, instead of looking up a wrong one."""
    limit = trade_positions.c.firm_contract.type.length
    if limit is not None and len(contract) > limit:
        raise ValueError(f"firm contract {contract[:80]!r} is longer than {limit} characters; not recorded")
    connection.execute(
        update(trade_positions)
        .where(trade_positions.c.id == position_id)
        .where(trade_positions.c.firm_contract.is_(None))
        .values(firm_contract=contract, updated_at=func.now())
    )


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


_SIDES = tuple(map(str, PositionSide))


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Reservation:
    """One entry order's claim on its position (`PositionRepository.reserve_positions`)."""

    trade_id: str
    firm_code: str
    program_id: int
    symbol: str
    side: str
    contracts: int
    entry_price: Decimal | float | int | str | None
    stop_price: Decimal | float | int | str | None
    task_id: int | None
    client_order_id: str | None
    dry_run: bool
    firm_position_limit: int | None = None
    rate_cap: EntryRateCap | None = None

    @property
    def checked(self) -> bool:
        """Re-checked under the firm's lock (a position limit or an entry rate cap)."""
        return self.firm_position_limit is not None or self.rate_cap is not None


Reserved = Union[PositionRecord, None, PositionLimitError, EntryRateLimitError]
"""A claim's outcome: the position, None (already claimed), or why it was refused."""


def _position_values(r: Reservation) -> dict[str, Any]:
    if r.side not in _SIDES:
        raise ValueError(f"side must be one of {_SIDES}, got {r.side!r}")
    positive_int(r.contracts, "contracts")
    return {
        "trade_id": r.trade_id,
        "firm_code": r.firm_code,
        "program_id": r.program_id,
        "symbol": r.symbol,
        "side": r.side,
        "contracts_opened": r.contracts,
        "contracts_open": r.contracts,
        "entry_price": exact_price(r.entry_price, "entry_price"),
        "stop_price": exact_price(r.stop_price, "stop_price"),
        "status": PositionStatus.OPEN,
        "dry_run": bool(r.dry_run),
        "client_order_id": r.client_order_id,
        "opened_task_id": r.task_id,
    }


class PositionRepository:
    """The positions trades opened; one transaction per call."""

    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine

    def open_position(self, **reservation: Any) -> PositionRecord | None:
        """Claim the right to open ``trade_id`` at ``firm_code``/``program_id``; None if taken.
        One `Reservation` (its fields as keywords) through `reserve_positions`; a refusal raises
        (``PositionLimitError``, ``EntryRateLimitError``)."""
        (outcome,) = self.reserve_positions([Reservation(**reservation)])
        if isinstance(outcome, RepositoryError):
            raise outcome
        return outcome

    def reserve_positions(self, reservations: Sequence[Reservation]) -> list[Reserved]:
        """Claim an entry's positions, each before its order is sent, in one transaction.

        The unique key (trade_id, firm_code, program_id) makes exactly one worker win, so a
        repeated or concurrent signal never sends a second order: a claim already taken is None.
        If an order then fails, ``release_position`` records that nothing is open.

        A firm with ``firm_position_limit`` or ``rate_cap`` is locked once (firms in sorted order,
        so two batches never wait on each other crosswise), its open contracts and recent
        entries are counted under that lock, and each claim is checked against them plus the
        batch's own earlier claims: a claim that would pass the limit gets ``PositionLimitError``
        (or ``EntryRateLimitError``) in its place and the others go on; two simultaneous
        entries can never both pass a limit only one fits. A live claim counts live positions
        only, a dry-run one every position. An error of any other kind claims nothing.
        """
        rows = [_position_values(r) for r in reservations]  # every claim checked before any is written
        out: list[Reserved] = []
        with self._db.transaction() as connection:
            for firm_code in sorted({r.firm_code for r in reservations if r.checked}):
                lock_firm_positions(connection, firm_code)
            opened: dict[tuple[str, bool], int] = {}  # (firm, live book) -> open contracts, this batch's too
            entered: dict[str, int] = {}  # firm -> entries reserved in the cap's window, this batch's too
            for r, values in zip(reservations, rows):
                book = (r.firm_code, not r.dry_run)
                if r.firm_position_limit is not None:
                    if book not in opened:
                        opened[book] = _open_contracts(connection, r.firm_code, live_book=not r.dry_run)
                    if opened[book] + r.contracts > r.firm_position_limit:
                        out.append(PositionLimitError(r.firm_code, opened[book], r.contracts, r.firm_position_limit))
                        continue
                if r.rate_cap is not None:
                    if r.firm_code not in entered:
                        entered[r.firm_code] = entries_reserved_since(connection, r.firm_code, r.rate_cap.since)
                    if entered[r.firm_code] + 1 > r.rate_cap.max_entries:
                        out.append(EntryRateLimitError(r.firm_code, entered[r.firm_code], r.rate_cap.max_entries))
                        continue
                row = insert_or_skip(
                    connection, trade_positions, values, ("trade_id", "firm_code", "program_id"),
                    tuple(POSITION_COLUMNS),
                ).first()
                if row is not None and book in opened:
                    opened[book] += r.contracts
                if row is not None and r.firm_code in entered:
                    entered[r.firm_code] += 1
                out.append(position_from_row(row) if row is not None else None)
        return out

    def release_position(self, position_id: int) -> None:
        """The entry order failed: mark the position RELEASED with nothing open.

        The row stays, so the trade does not re-open at that firm/program on a repeated signal.
        Releasing a position that is no longer OPEN changes nothing.
        """
        with self._db.transaction() as connection:
            result = connection.execute(
                update(trade_positions)
                .where(trade_positions.c.id == position_id)
                .where(trade_positions.c.status == PositionStatus.OPEN)
                .values(status=PositionStatus.RELEASED, contracts_open=0, updated_at=func.now())
            )
            if result.rowcount == 0 and not self._position_exists(connection, position_id):
                raise PositionNotFoundError(position_id)

    def open_positions_for_trade(self, trade_id: str) -> list[PositionRecord]:
        """What this trade still has open, per firm/program (what an exit must close)."""
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(
                select(*POSITION_COLUMNS)
                .where(trade_positions.c.trade_id == trade_id)
                .where(trade_positions.c.status == PositionStatus.OPEN)
                .where(trade_positions.c.contracts_open > 0)
                .order_by(trade_positions.c.firm_code, trade_positions.c.program_id)
            ).all()
        return [position_from_row(row) for row in rows]

    def open_positions_for_account(self, firm_code: str, program_id: int) -> list[PositionRecord]:
        """What one account still has open, oldest first (what the account guard closes)."""
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(
                select(*POSITION_COLUMNS)
                .where(trade_positions.c.firm_code == firm_code, trade_positions.c.program_id == program_id)
                .where(trade_positions.c.status == PositionStatus.OPEN)
                .where(trade_positions.c.contracts_open > 0)
                .order_by(trade_positions.c.id)
            ).all()
        return [position_from_row(row) for row in rows]

    def newest_open_trade(self, trade_id_prefix: str, side: str | None = None) -> tuple[str, str] | None:
        """(trade_id, side) of the newest trade whose id starts with ``trade_id_prefix`` (and of
        ``side``, when given) that still has contracts open anywhere: the trade an alert without a
        trade_id closes or reverses."""
        pattern = _like_escaped(trade_id_prefix) + "%"
        query = (
            select(trade_positions.c.trade_id, trade_positions.c.side)
            .where(trade_positions.c.trade_id.like(pattern, escape="\\"))
            .where(trade_positions.c.status == PositionStatus.OPEN)
            .where(trade_positions.c.contracts_open > 0)
            .order_by(trade_positions.c.id.desc())
            .limit(1)
        )
        if side is not None:
            query = query.where(trade_positions.c.side == side)
        with self._db.transaction(one_statement=True) as connection:
            row = connection.execute(query).first()
        return (row.trade_id, row.side) if row is not None else None

    def has_position_history(self, trade_id: str) -> bool:
        """Whether this trade ever opened anything (any status), e.g. to tell an exit for an
        unknown trade from an exit for a trade that is already flat."""
        with self._db.transaction(one_statement=True) as connection:
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
        positive_int(contracts, "contracts")
        with self._db.transaction() as connection:
            return reduce_position_locked(connection, position_id, contracts)

    def open_contracts_for_firm(self, firm_code: str) -> int:
        """Contracts currently open at a firm (all programs), for its max_position_size cap."""
        with self._db.transaction(one_statement=True) as connection:
            return _open_contracts(connection, firm_code)

    @staticmethod
    def _position_exists(connection: Connection, position_id: int) -> bool:
        return bool(
            connection.execute(select(exists().where(trade_positions.c.id == position_id))).scalar()
        )
