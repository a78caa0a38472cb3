"""For tests that play a trading day: a scripted clock (set `now`, the router reads it) and what
is open per firm."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from database.tables import trade_positions


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def open_positions(app) -> dict[str, int]:
    """Contracts open per firm, read from the app's database."""
    with app.extensions["db_engine"].connect() as connection:
        rows = connection.execute(select(trade_positions.c.firm_code, trade_positions.c.contracts_open)
                                  .where(trade_positions.c.status == "OPEN")).all()
    return {r.firm_code: r.contracts_open for r in rows}
