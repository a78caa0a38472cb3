"""LedgerRepository: SQL for the account ledger (``account_events``) and per-account positions.

Every method is one transaction. Closing contracts and recording their realized P&L happen in
the SAME transaction (`close_position`), so a committed close always has its P&L row and a
crash between the two is impossible; a failed exit order gives the contracts back and records a
reversing row in one transaction too (`reopen_position`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import Connection, Engine, func, insert, select

from database.position_repository import reduce_position_locked, restore_position_in
from database.tables import trade_positions
from database.tables_ledger import account_events
from database.unit_of_work import Connections, connections
from database.validation import exact_price
from domain.account_event import AccountEventKind
from domain.position import PositionStatus

ACTOR_MAX = 128


@dataclass(frozen=True)
class AccountEvent:
    """One ledger row."""

    id: int
    firm_code: str
    program_id: int
    kind: str
    amount: Decimal | None
    occurred_at: dt.datetime
    simulated: bool
    trade_id: str | None
    position_id: int | None
    task_id: int | None
    symbol: str | None
    side: str | None
    contracts: int | None
    entry_price: Decimal | None
    exit_price: Decimal | None
    price_source: str | None
    actor: str
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key, value in out.items():
            if isinstance(value, Decimal):
                out[key] = float(value)
            elif isinstance(value, dt.datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class ClosedContracts:
    """What `close_position` took off a position and the P&L row it wrote (None if nothing)."""

    contracts: int
    event_id: int | None
    amount: Decimal | None


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor must name who made the change")
    if len(actor.strip()) > ACTOR_MAX:
        raise ValueError(f"actor must be at most {ACTOR_MAX} characters")
    return actor.strip()


class LedgerRepository:
    """The account ledger: realized P&L, adjustments, balance corrections, day resets."""

    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine

    # -- reads ----------------------------------------------------------------------------------

    def events_for_account(self, firm_code: str, program_id: int, limit: int | None = None) -> list[AccountEvent]:
        """The account's events in time order (the last `limit` when given)."""
        query = (
            select(account_events)
            .where(account_events.c.firm_code == firm_code)
            .where(account_events.c.program_id == program_id)
            .order_by(account_events.c.occurred_at.desc(), account_events.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.transaction() as connection:
            rows = connection.execute(query).all()
        return [_event(row._mapping) for row in reversed(rows)]

    def open_contracts_for_account(self, firm_code: str, program_id: int, live_book: bool = False) -> int:
        """Open contracts of the account: live positions only in the live book, all in the paper book."""
        query = (
            select(func.coalesce(func.sum(trade_positions.c.contracts_open), 0))
            .where(trade_positions.c.firm_code == firm_code)
            .where(trade_positions.c.program_id == program_id)
            .where(trade_positions.c.status == PositionStatus.OPEN)
        )
        if live_book:
            query = query.where(trade_positions.c.dry_run.is_(False))
        with self._db.transaction() as connection:
            total = connection.execute(query).scalar_one()
        return int(total)

    # -- closes ---------------------------------------------------------------------------------

    def close_position(
        self,
        *,
        position_id: int,
        contracts: int,
        amount_for: Callable[[int], Decimal | None],
        exit_price: Decimal | None,
        price_source: str,
        occurred_at: dt.datetime,
        task_id: int | None,
        actor: str,
    ) -> ClosedContracts:
        """Reduce the position and record the realized P&L of what was taken, atomically.

        `amount_for(taken)` gives the P&L of the contracts actually taken (None = unknown: the
        row is still written, with a NULL amount, so the gap shows in the account state).
        """
        _aware(occurred_at, "occurred_at")
        with self._db.transaction() as connection:
            taken = reduce_position_locked(connection, position_id, contracts)
            if taken <= 0:
                return ClosedContracts(0, None, None)
            pos = connection.execute(
                select(trade_positions).where(trade_positions.c.id == position_id)
            ).one()._mapping
            amount = amount_for(taken)
            event_id = connection.execute(
                insert(account_events).values(
                    firm_code=pos["firm_code"], program_id=pos["program_id"], kind=AccountEventKind.CLOSE,
                    amount=amount, occurred_at=occurred_at, simulated=bool(pos["dry_run"]),
                    trade_id=pos["trade_id"], position_id=position_id, task_id=task_id,
                    symbol=pos["symbol"], side=pos["side"], contracts=taken,
                    entry_price=pos["entry_price"], exit_price=exact_price(exit_price, "exit_price"),
                    price_source=price_source, actor=_actor(actor),
                    reason=None if amount is not None else "exit price unknown: P&L not known",
                ).returning(account_events.c.id)
            ).scalar_one()
        return ClosedContracts(taken, int(event_id), amount)

    def reopen_position(self, *, position_id: int, contracts: int, close_event_id: int, actor: str, reason: str) -> None:
        """The exit order FAILED: give the contracts back and reverse its P&L row, atomically."""
        with self._db.transaction() as connection:
            self._reopen_in(connection, position_id, contracts, close_event_id, actor, reason)

    def reopen_exit(self, *, position_id: int, task_id: int | None, contracts: int, actor: str, reason: str) -> None:
        """`reopen_position` for an exit known only by its task (reconciliation found its order
        never reached the firm): the close that task booked for the position is reversed with it.
        A close already reversed is not reversed twice; the contracts come back either way."""
        with self._db.transaction() as connection:
            reversed_ids = select(account_events.c.position_id).where(
                account_events.c.kind == AccountEventKind.CLOSE_REVERSED, account_events.c.position_id == position_id,
                account_events.c.task_id == task_id)
            close_event_id = connection.execute(
                select(account_events.c.id)
                .where(account_events.c.kind == AccountEventKind.CLOSE, account_events.c.position_id == position_id,
                       account_events.c.task_id == task_id, ~reversed_ids.exists())
                .order_by(account_events.c.id.desc()).limit(1)
            ).scalar_one_or_none()
            if close_event_id is None:
                restore_position_in(connection, position_id, contracts)
            else:
                self._reopen_in(connection, position_id, contracts, int(close_event_id), actor, reason)

    @staticmethod
    def _reopen_in(connection: Connection, position_id: int, contracts: int, close_event_id: int,
                   actor: str, reason: str) -> None:
        restore_position_in(connection, position_id, contracts)
        close = connection.execute(
            select(account_events).where(account_events.c.id == close_event_id)
        ).one()._mapping
        values = {k: close[k] for k in (
            "firm_code", "program_id", "occurred_at", "simulated", "trade_id", "position_id",
            "task_id", "symbol", "side", "contracts", "entry_price", "exit_price", "price_source")}
        amount = close["amount"]
        connection.execute(
            insert(account_events).values(
                **values, kind=AccountEventKind.CLOSE_REVERSED,
                # an unknown close is reversed by another unknown-free zero: nothing was counted
                amount=-amount if amount is not None else Decimal(0),
                actor=_actor(actor), reason=f"{reason} (reverses event {close_event_id})",
            )
        )

    # -- operator changes -------------------------------------------------------------------------

    def record_operator_event(
        self,
        *,
        firm_code: str,
        program_id: int,
        kind: str,
        amount: Decimal | None,
        occurred_at: dt.datetime,
        actor: str,
        reason: str,
        trade_id: str | None = None,
        simulated: bool = False,
    ) -> AccountEvent:
        """An ADJUSTMENT, SET_BALANCE or NEW_DAY, with who and why (both required). A simulated
        NEW_DAY is a paper reset (account_engine.ledger): only a dry-run account's state reads it."""
        if kind not in (AccountEventKind.ADJUSTMENT, AccountEventKind.SET_BALANCE, AccountEventKind.NEW_DAY):
            raise ValueError(f"kind must be ADJUSTMENT, SET_BALANCE or NEW_DAY, got {kind!r}")
        if kind != AccountEventKind.NEW_DAY and amount is None:
            raise ValueError(f"amount is required for {kind}")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("reason must say why the change was made")
        if simulated and kind != AccountEventKind.NEW_DAY:
            raise ValueError("only a NEW_DAY (a paper reset) is recorded as simulated")
        with self._db.transaction() as connection:
            row = connection.execute(
                insert(account_events).values(
                    firm_code=firm_code, program_id=program_id, kind=kind,
                    amount=exact_price(amount, "amount") if amount is not None else None,
                    occurred_at=_aware(occurred_at, "occurred_at"), simulated=bool(simulated),
                    actor=_actor(actor), reason=reason.strip(), trade_id=trade_id,
                ).returning(*account_events.c)
            ).one()
        return _event(row._mapping)


def _event(m: Any) -> AccountEvent:
    return AccountEvent(
        id=m["id"], firm_code=m["firm_code"], program_id=m["program_id"], kind=m["kind"],
        amount=m["amount"], occurred_at=m["occurred_at"], simulated=bool(m["simulated"]),
        trade_id=m["trade_id"], position_id=m["position_id"], task_id=m["task_id"],
        symbol=m["symbol"], side=m["side"], contracts=m["contracts"],
        entry_price=m["entry_price"], exit_price=m["exit_price"],
        price_source=m["price_source"], actor=m["actor"], reason=m["reason"],
    )
