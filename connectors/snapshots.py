"""Live account snapshots from each firm's documented account read (`BaseConnector.account_snapshot`),
behind the loss checks' `SnapshotProvider` seam.

An entry must not wait on a firm for its loss checks: snapshots are cached per account and kept
fresh by a background job (APScheduler) every half `{FIRM}_SNAPSHOT_MAX_AGE_SECONDS`; an entry
that finds its account's snapshot older than that reads it once itself, bounded by
`READ_BUDGET_SECONDS` (`FIRST_READ_BUDGET_SECONDS` for the first, which logs in too; both well
inside the request's deadline), and a read that fails brings the
background refresh forward (it has a longer budget). A failed read raises: AccountService
then follows `{FIRM}_SNAPSHOT_POLICY` (BLOCK the entry, or the LEDGER) and says which in the
result. Some firms also ask for it (Tradovate calls repeated snapshot requests "an anti-pattern").
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping

from account_engine.snapshots import AccountSnapshot, SnapshotProvider, SnapshotUnavailable
from config import Settings
from connectors.base_connector import BaseConnector
from connectors.http_client import Deadline

log = logging.getLogger(__name__)

READ_BUDGET_SECONDS = 0.25
"""One account read inside an entry (TradingView gives the whole request 3 s)."""
FIRST_READ_BUDGET_SECONDS = 0.6
"""An account's reads until one succeeds (after a start): it also logs in to the firm and looks the
account up (Tradovate: the token, the account list, then the snapshot), which the entry's order
would need anyway. Bounded so that it and the order dispatch's deadline (2.2 s) stay inside
TradingView's 3 s."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ConnectorSnapshots(SnapshotProvider):
    """Snapshots of the live firms' accounts, cached and refreshed in the background."""

    def __init__(self, connectors: Mapping[str, BaseConnector], settings: Settings,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.connectors = {code: c for code, c in connectors.items() if not c.dry_run}
        self.settings = settings
        self.clock = clock
        self._cache: dict[tuple[str, int], AccountSnapshot] = {}
        self._known: set[tuple[str, int]] = set()  # read once since the start: logged in, account found
        self._lock = threading.Lock()
        self._failed: dict[tuple[str, int], tuple[float, Exception]] = {}  # a prefetch's failure, for its fetch
        self._pool: ThreadPoolExecutor | None = None
        self._scheduler = None
        self.on_refresh: Callable[[str, int], object] | None = None
        """Called after each account the background refresh read (the account guard looks at it)."""

    def fetch(self, firm_code: str, program_id: int) -> AccountSnapshot:
        """The account's snapshot: the cached one while it is younger than half the allowed age,
        else read now (one bounded read); raises when it cannot be read."""
        key = (firm_code, int(program_id))
        with self._lock:
            cached = self._cache.get(key)
            failed = self._failed.pop(key, None)
        if cached is not None and self._fresh(firm_code, cached):
            return cached
        if failed is not None and time.monotonic() - failed[0] <= READ_BUDGET_SECONDS:
            self._refresh_soon(firm_code, failed[1])  # this entry's own read, made by `prefetch`, just failed
            raise failed[1]
        try:
            return self._read(firm_code, int(program_id), self._budget(key))
        except Exception as exc:
            self._refresh_soon(firm_code, exc)  # the background job, with its longer budget, warms the cache
            raise

    def prefetch(self, accounts: Iterable[tuple[str, int]]) -> None:
        """Read the entry's accounts whose cached snapshot is too old, in parallel (an order that
        reached an account drops its snapshot, so each entry after a fill reads every account it
        routes to: one after the other, those reads added up per account). A failure is kept for
        the entry's own `fetch` to raise, so a failing account is not read twice."""
        with self._lock:
            stale = [(code, int(pid)) for code, pid in accounts if code in self.connectors
                     and ((cached := self._cache.get((code, int(pid)))) is None or not self._fresh(code, cached))]
            if len(stale) < 2:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="snapshot-read")
            pool = self._pool
        for key, error in zip(stale, pool.map(self._read_quietly, stale)):
            if error is not None:
                with self._lock:
                    self._failed[key] = (time.monotonic(), error)

    def _read_quietly(self, key: tuple[str, int]) -> Exception | None:
        try:
            self._read(key[0], key[1], self._budget(key))
        except Exception as exc:  # noqa: BLE001 - raised by the entry's fetch
            return exc
        return None

    def _refresh_soon(self, firm_code: str, cause: Exception) -> None:
        """Bring the firm's refresh forward after a read that may succeed with more time; not
        after an answer that cannot give the figures (every entry would reread the whole firm)."""
        if self._scheduler is not None and not isinstance(cause, SnapshotUnavailable):
            try:
                self._scheduler.modify_job(f"snapshot-{firm_code}", next_run_time=self.clock())
            except Exception:  # noqa: BLE001 - the regular run still comes
                log.debug("could not bring the %s snapshot refresh forward", firm_code)

    def refresh(self, firm_code: str) -> None:
        """Read every program's snapshot of one firm (the background job); failures are logged."""
        for program_id in self.settings.firms[firm_code].program_ids:
            try:
                self._read(firm_code, program_id, READ_BUDGET_SECONDS * 3)
            except Exception as exc:  # noqa: BLE001 - reported at the next entry, by its own read
                log.warning("account snapshot refresh %s/%s failed: %s", firm_code, program_id, type(exc).__name__)
                continue
            if self.on_refresh is not None:
                self.on_refresh(firm_code, program_id)

    def start(self) -> "ConnectorSnapshots":
        """Refresh each live firm every half its snapshot max age (the first read is the first
        entry's, so starting a worker sends the firms nothing)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        if not self.connectors or self._scheduler is not None:
            return self
        scheduler = BackgroundScheduler(daemon=True, job_defaults={"coalesce": True, "max_instances": 1})
        for code in self.connectors:
            scheduler.add_job(self.refresh, "interval", args=[code], id=f"snapshot-{code}",
                              seconds=max(1.0, self._max_age(code) / 2))
        scheduler.start()
        self._scheduler = scheduler
        return self

    def forget(self, firm_code: str, program_id: int) -> None:
        with self._lock:
            self._cache.pop((firm_code, int(program_id)), None)

    def close(self) -> None:
        """Stop the refresh; a read still running is waited for (bounded by its budget), so
        nothing reaches a firm after the router closed."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _read(self, firm_code: str, program_id: int, budget: float) -> AccountSnapshot:
        connector = self.connectors.get(firm_code)
        if connector is None:
            raise LookupError(f"{firm_code} is not routed live")
        snapshot = connector.account_snapshot(program_id, Deadline(budget))
        with self._lock:
            self._cache[(firm_code, program_id)] = snapshot
            self._known.add((firm_code, program_id))
        return snapshot

    def _budget(self, key: tuple[str, int]) -> float:
        with self._lock:
            return READ_BUDGET_SECONDS if key in self._known else FIRST_READ_BUDGET_SECONDS

    def _fresh(self, firm_code: str, snapshot: AccountSnapshot) -> bool:
        """Young enough to use without reading again: half the firm's allowed age."""
        return self._age(snapshot) <= self._max_age(firm_code) / 2

    def _age(self, snapshot: AccountSnapshot) -> float:
        return (self.clock() - snapshot.taken_at).total_seconds()

    def _max_age(self, firm_code: str) -> int:
        return self.settings.firms[firm_code].snapshot_max_age_seconds
