"""SQL for marks: the latest price per futures root, the open positions they value, and each
trailing account's equity peak. One transaction per public method, like the other repositories.

A price replaces the stored one only when its time is newer (one conditional upsert, so two
workers storing prices for the same root at once cannot move the mark backwards), and a peak
only when it is higher.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, Numeric, cast, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from account_engine.marks import Mark, OpenPosition
from database.tables import trade_positions
from database.tables_prices import account_equity_peaks as peaks
from database.tables_prices import market_prices as prices
from database.unit_of_work import Connections, connections
from domain.position import PositionStatus

Account = tuple[str, int]


@dataclass(frozen=True)
class StoredPrice:
    """What storing a price did: `stored` False when the mark it found is as new or newer."""

    stored: bool
    mark: Mark  # the mark now held for the root (the new one, or the newer one kept)


def _insert(connection: Connection):
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert


class PriceRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)

    def store_price(self, root: str, symbol: str, price: Decimal, price_time: dt.datetime,
                    received_at: dt.datetime) -> StoredPrice:
        """Keep `price` as the root's mark unless the stored one is at least as new."""
        with self._db.transaction() as connection:
            statement = _insert(connection)(prices).values(
                root=root, symbol=symbol, price=price, price_time=price_time, received_at=received_at)
            statement = statement.on_conflict_do_update(
                index_elements=["root"],
                set_={"price": statement.excluded.price, "price_time": statement.excluded.price_time,
                      "symbol": statement.excluded.symbol, "received_at": statement.excluded.received_at},
                where=prices.c.price_time < statement.excluded.price_time,
            ).returning(prices.c.root)
            stored = connection.execute(statement).first() is not None
            row = connection.execute(select(prices.c.price, prices.c.price_time).where(prices.c.root == root)).one()
        return StoredPrice(stored, Mark(root, row.price, row.price_time))

    def marks(self) -> dict[str, Mark]:
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(select(prices.c.root, prices.c.price, prices.c.price_time)).all()
        return {r.root: Mark(r.root, r.price, r.price_time) for r in rows}

    def open_positions(self, firm_codes: list[str] | None = None) -> dict[Account, list[OpenPosition]]:
        """Open positions per account (of `firm_codes`, or every firm)."""
        t = trade_positions.c
        query = select(t.firm_code, t.program_id, t.symbol, t.side, t.entry_price, t.contracts_open, t.dry_run).where(
            t.status == PositionStatus.OPEN)
        if firm_codes is not None:
            query = query.where(t.firm_code.in_(firm_codes))
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(query.order_by(t.id)).all()
        out: dict[Account, list[OpenPosition]] = defaultdict(list)
        for r in rows:
            out[(r.firm_code, r.program_id)].append(
                OpenPosition(r.symbol, r.side, r.entry_price, int(r.contracts_open), bool(r.dry_run)))
        return dict(out)

    def equity_peaks(self) -> dict[Account, Decimal]:
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(select(peaks.c.firm_code, peaks.c.program_id, peaks.c.equity_peak)).all()
        return {(r.firm_code, r.program_id): r.equity_peak for r in rows}

    def raise_equity_peak(self, firm_code: str, program_id: int, equity: Decimal, at: dt.datetime) -> bool:
        """Record `equity` as the account's peak if it is higher than the one stored."""
        with self._db.transaction() as connection:
            statement = _insert(connection)(peaks).values(
                firm_code=firm_code, program_id=program_id, equity_peak=equity, reached_at=at)
            statement = statement.on_conflict_do_update(
                index_elements=["firm_code", "program_id"],
                set_={"equity_peak": statement.excluded.equity_peak, "reached_at": statement.excluded.reached_at},
                # compared as numbers: SQLite stores exact decimals as text (database/tables.py)
                where=cast(peaks.c.equity_peak, Numeric) < cast(statement.excluded.equity_peak, Numeric),
            ).returning(peaks.c.firm_code)
            return connection.execute(statement).first() is not None

    def clear_equity_peak(self, firm_code: str, program_id: int) -> None:
        """Forget the peak (a new starting balance makes it meaningless)."""
        with self._db.transaction() as connection:
            connection.execute(delete(peaks).where(peaks.c.firm_code == firm_code, peaks.c.program_id == program_id))
