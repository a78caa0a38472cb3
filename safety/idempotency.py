"""Idempotency keys: the same signal is processed once, however often it arrives.

TradingView resends a webhook up to 3 times when it sees a 5xx or no answer within 3 s, and
strategies repeat alerts. The key is stored in ``execution_tasks.idempotency_key`` (UNIQUE), so
the database decides which of several concurrent copies runs; the others get its result.

Key derivation (documented in the README):
- an ``Idempotency-Key`` header wins (``hdr:<value>``), for senders that can set headers;
- entries and full exits: ``<trade_id>:<event_type>`` (canonical type, so ``EXIT_SL`` and
  ``EXIT_STOP_LOSS`` are the same signal) - a trade opens once and closes once;
- alerts without a trade_id (signals/trade_identity.py): an entry's trade id is derived from
  the alert's own `time` / `order_id` (or a digest of its body), so the rule above applies; an
  exit with such a stamp is keyed `alert:<strategy>:<ROOT>:<stamp>:<event_type>` (`alert_key`);
- informational events (MFE_UPDATE, BE_TRIGGERED, MFE_UPDATE_BATCH) and EXIT_PARTIAL repeat
  legitimately for one trade with different contents, so their key adds a SHA-256 of the
  canonical payload (sorted keys, secret removed): a byte-identical resend is a duplicate, a new
  MFE value is a new signal.

An exit whose attempt did not get through everywhere is the exception: its resend runs again for
the parts that failed (safety/exit_resend.py), under `retry_key`, so concurrent resends still run
once. An entry is never resent this way: opening late is worse than not opening (fail closed).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from signals import ENTRY_TYPES, EXIT_TYPES, Signal

HEADER = "Idempotency-Key"
MAX_HEADER_LENGTH = 200
_REPEATABLE = frozenset({"EXIT_PARTIAL"})


class IdempotencyKeyError(ValueError):
    """The Idempotency-Key header is unusable (empty, too long, control characters)."""


def payload_digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def header_idempotency_key(header: str | None) -> str | None:
    """The key an Idempotency-Key header gives (``hdr:<value>``), None without one."""
    if header is None:
        return None
    value = header.strip()
    if not value or len(value) > MAX_HEADER_LENGTH or not value.isprintable():
        raise IdempotencyKeyError(f"must be 1-{MAX_HEADER_LENGTH} printable characters")
    return f"hdr:{value}"


def derive_key(signal: Signal, payload: dict[str, Any], header: str | None) -> str:
    from_header = header_idempotency_key(header)
    if from_header is not None:
        return from_header
    base = f"{signal.trade_id}:{signal.event_type}"
    if (signal.event_type in ENTRY_TYPES or signal.event_type in EXIT_TYPES) and signal.event_type not in _REPEATABLE:
        key = base
    else:
        key = f"{base}:{payload_digest(payload)}"
    if len(key) > 255:  # trade ids may be 255 characters themselves
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def alert_key(strategy: str, root: str, stamp: str, event_type: str) -> str:
    """The key of an exit alert without a trade_id, from the alert's own fields: a resend is the
    same alert whichever trade is open by the time it arrives."""
    return _bounded(f"alert:{strategy}:{root}:{stamp}:{event_type}")


def _bounded(key: str) -> str:
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def retry_key(key: str, failed_task_id: int) -> str:
    """The key of the one resend allowed per failed attempt of an exit (safety/exit_resend.py):
    concurrent resends share it, so the database still lets only one of them run."""
    retry = f"{key}:retry-of-{failed_task_id}"
    return retry if len(retry) <= 255 else "sha256:" + hashlib.sha256(retry.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResult:
    """The first copy's stored result, and whether it was already finished when first looked at
    (a copy that waited for it arrived while it ran: it is the same attempt, not a resend)."""

    body: dict[str, Any]
    finished_before: bool


def wait_for_result(
    load_result: Callable[[int], dict[str, Any] | None],
    task_id: int,
    wait_seconds: float,
    poll_seconds: float = 0.05,
) -> StoredResult | None:
    """The first copy's stored result, waiting up to ``wait_seconds`` for it to finish (well
    inside TradingView's 3 s); None if it is still running."""
    deadline = time.monotonic() + wait_seconds
    first_look = True
    while True:
        log = load_result(task_id)
        if log is not None:
            body = dict(log["response_body"])
            body["duplicate"] = True
            return StoredResult(body, finished_before=first_look)
        if time.monotonic() >= deadline:
            return None
        first_look = False
        time.sleep(poll_seconds)
