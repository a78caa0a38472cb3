"""An entry reads its live accounts' snapshots together, not one after the other, and an account
whose read fails is read once per entry: the failure is what that entry's check reports."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from account_engine.snapshots import AccountSnapshot
from config import parse_settings
from connectors.snapshots import ConnectorSnapshots

READ_SECONDS = 0.15


class SlowFirm:
    """A live connector whose account read takes READ_SECONDS; program 2's read fails."""

    dry_run = False

    def __init__(self) -> None:
        self.reads: list[int] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def account_snapshot(self, program_id: int, deadline) -> AccountSnapshot:
        with self._lock:
            self.reads.append(program_id)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(READ_SECONDS)
            if program_id == 2:
                raise ConnectionError("account read refused")
            return AccountSnapshot(balance=Decimal(100000), equity=Decimal(100000 + program_id), open_pl=Decimal(program_id),
                                   taken_at=datetime.now(timezone.utc))
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def provider():
    settings = parse_settings({"ROUTE_TO_FIRMS": "FTMO", "FTMO_PROGRAM_IDS": "1,2,3,4",
                               **{f"FTMO_{p}_{k}": v for p in range(1, 5)
                                  for k, v in (("ACCOUNT_SIZE", "100000"), ("RISK_PER_TRADE", "0.01"))}})
    firm = SlowFirm()
    snapshots = ConnectorSnapshots({"FTMO": firm}, settings)
    yield snapshots, firm
    snapshots.close()


def test_an_entrys_accounts_are_read_together_and_each_once(provider):
    snapshots, firm = provider
    started = time.monotonic()
    snapshots.prefetch([("FTMO", p) for p in (1, 2, 3, 4)])
    results = {}
    for p in (1, 2, 3, 4):
        try:
            results[p] = snapshots.fetch("FTMO", p).equity
        except ConnectionError as exc:
            results[p] = str(exc)
    elapsed = time.monotonic() - started
    assert results == {1: Decimal(100001), 2: "account read refused", 3: Decimal(100003), 4: Decimal(100004)}
    assert sorted(firm.reads) == [1, 2, 3, 4]  # the failing account too: read once, its failure reported
    assert firm.most_in_flight == 4
    assert elapsed < 3 * READ_SECONDS  # one after the other they take 4 x READ_SECONDS


def test_fresh_snapshots_are_not_read_again_and_a_forgotten_one_is(provider):
    snapshots, firm = provider
    snapshots.prefetch([("FTMO", 1), ("FTMO", 3)])
    snapshots.forget("FTMO", 3)
    snapshots.prefetch([("FTMO", 1), ("FTMO", 3), ("FTMO", 4)])
    assert sorted(firm.reads) == [1, 3, 3, 4]
    assert snapshots.fetch("FTMO", 3).equity == Decimal(100003) and sorted(firm.reads) == [1, 3, 3, 4]


def test_an_old_prefetch_failure_is_not_reported_by_a_later_entry(provider, monkeypatch):
    snapshots, firm = provider
    snapshots.prefetch([("FTMO", 1), ("FTMO", 2)])
    real = time.monotonic
    monkeypatch.setattr("connectors.snapshots.time.monotonic", lambda: real() + 60)
    with pytest.raises(ConnectionError):
        snapshots.fetch("FTMO", 2)  # read again now (and failing again), not the minute-old failure
    assert sorted(firm.reads) == [1, 2, 2]
