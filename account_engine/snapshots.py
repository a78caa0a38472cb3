"""The seam between live broker connectors and the account state: account snapshots.

In live mode a fresh snapshot from the firm (balance, equity, open P&L) takes precedence over
the ledger, because the firm's own numbers are what it breaches accounts on. The live
connectors' provider is connectors/snapshots.py (`ConnectorSnapshots`), wired by create_app. A snapshot that is older than `{FIRM}_SNAPSHOT_MAX_AGE_SECONDS` or that
could not be fetched is handled by `{FIRM}_SNAPSHOT_POLICY`: BLOCK entries, or fall back to
the LEDGER; either way the result says which source was used and why.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

SOURCE_LEDGER = "LEDGER"
SOURCE_SNAPSHOT = "SNAPSHOT"
SOURCE_LEDGER_FALLBACK = "LEDGER_FALLBACK"
SOURCE_BLOCKED = "BLOCKED"

POLICY_BLOCK = "BLOCK"
POLICY_LEDGER = "LEDGER"
SNAPSHOT_POLICIES = (POLICY_BLOCK, POLICY_LEDGER)


class SnapshotUnavailable(ValueError):
    """The firm answered, and its answer cannot give this account's figures (say, a ProjectX
    account holding a position: no open P&L over REST). Unlike a timeout, reading again sooner
    changes nothing, so no earlier refresh is asked for."""


@dataclass(frozen=True)
class AccountSnapshot:
    """The firm's view of one account at `taken_at` (timezone-aware)."""

    balance: Decimal
    equity: Decimal
    open_pl: Decimal
    taken_at: datetime


class SnapshotProvider(ABC):
    """Fetches the live snapshot of one account; raise on any failure (it is reported)."""

    @abstractmethod
    def fetch(self, firm_code: str, program_id: int) -> AccountSnapshot:
        """The current snapshot; raising means "failed" (timeout, HTTP error, bad data)."""

    def close(self) -> None:
        """Stop any background refresh (the router closes its provider)."""

    def forget(self, firm_code: str, program_id: int) -> None:
        """An order reached the account: a cached snapshot predates it (the next read is fresh)."""

    def prefetch(self, accounts: Iterable[tuple[str, int]]) -> None:
        """An entry is about to `fetch` these accounts: a provider that can read them together
        does so now, so the entry waits about one read instead of one per account."""


def snapshot_problem(snapshot: AccountSnapshot, now: datetime, max_age_seconds: int) -> str | None:
    """Why a snapshot must not be used (stale, from the future, not aware), or None."""
    if snapshot.taken_at.tzinfo is None:
        return "snapshot time has no time zone"
    age = (now - snapshot.taken_at).total_seconds()
    if age > max_age_seconds:
        return f"snapshot is stale ({age:.0f}s old, limit {max_age_seconds}s)"
    if age < -5:
        return "snapshot time is in the future"
    for name in ("balance", "equity", "open_pl"):
        if not Decimal(getattr(snapshot, name)).is_finite():
            return f"snapshot {name} is not a finite number"
    return None
