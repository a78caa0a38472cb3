"""Resending an exit that did not get through: which firm/programs run again.

An exit is keyed like any signal (safety/idempotency.py), so a plain resend would answer with the
stored result while the position stays open at the firm. A trader resends an exit *because* part
of it failed (a rate limit, a penalty, trading HALTED, an order the firm never received), so a
resend of such an exit runs again - but only for the firm/programs whose part did not succeed:
running a partial exit again where it already filled would close a second part.

A part runs again when its last attempt
- FAILED at the firm (nothing was closed there; the router kept the position open), or
- was SKIPPED before any order could leave (trading HALTED, no connector, a live position while
  its firm is in dry-run), or
- was UNKNOWN and reconciliation has since found that order not at the firm. This is decided
  after the resend's own reconciliation pass (`ResendPlan.parts_now`): an order that may still
  have reached the firm is never sent a second time.
Every other outcome (SUCCESS, the dry-run skips, already closed, a simulated position) is done.
The attempt also closes only what is still open, so even a wrong guess cannot close twice.

A task that FAILED as a whole (an exception, no per-part outcome) runs again for every part it
covered except those its result records as done.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from connectors import FAILED, SKIPPED, UNKNOWN

Part = tuple[str, int]
"""(firm_code, program_id)."""

RESENDABLE_SKIPS = frozenset({"TRADING_HALTED", "NO_CONNECTOR", "LIVE_POSITION_FIRM_IN_DRY_RUN"})
"""SKIPPED reasons of an exit part that sent nothing and left the position open."""


@dataclass(frozen=True)
class ResendPlan:
    """What a resend of an exit runs again: `parts` (None: every part still open, less `done`),
    plus the UNKNOWN parts that run again only if their order is now known not to be at the firm."""

    of_task: int
    parts: frozenset[Part] | None
    done: frozenset[Part] = frozenset()
    unknown: dict[Part, str] = field(default_factory=dict)
    """UNKNOWN part -> the client order id whose journal status decides it."""

    def parts_now(self, journal_status: Callable[[str], str | None]) -> "ResendPlan":
        """The plan once reconciliation has run: an UNKNOWN part joins if its order FAILED."""
        if not self.unknown:
            return self
        lost = {part for part, order_id in self.unknown.items() if journal_status(order_id) == FAILED}
        parts = None if self.parts is None else self.parts | lost
        done = self.done | (set(self.unknown) - lost)
        return ResendPlan(self.of_task, parts, frozenset(done), {})

    def includes(self, firm_code: str, program_id: int) -> bool:
        part = (firm_code, int(program_id))
        if part in self.done or part in self.unknown:
            return False
        return self.parts is None or part in self.parts

    def describe(self) -> dict[str, Any]:
        """The result document's note of what this attempt re-ran."""
        return {
            "retry_of": self.of_task,
            "retried_parts": None if self.parts is None else _listed(self.parts),
            "retry_excluded_parts": _listed(self.done | set(self.unknown)),
        }


def plan_resend(previous: dict[str, Any], task_id: int) -> ResendPlan | None:
    """The plan for resending the exit whose last attempt (task `task_id`) recorded `previous`,
    or None when every part of it succeeded (the resend is a duplicate)."""
    outcomes = [(_part(r), r) for r in previous.get("connector_results") or [] if _part(r) is not None]
    unknown = {p: _client_order_id(r) for p, r in outcomes if r.get("status") == UNKNOWN}
    lost_track = {p for p, order_id in unknown.items() if order_id is None}  # cannot be judged: leave it
    unknown = {p: order_id for p, order_id in unknown.items() if order_id is not None}
    done = frozenset({p for p, r in outcomes if not _resendable(r)} | lost_track)
    if previous.get("error"):  # failed as a whole: everything it covered that is not known done
        covered = previous.get("retried_parts")
        parts = None if covered is None else frozenset(p for p in map(_part, covered) if p is not None) - done
        return ResendPlan(task_id, parts, done, unknown)
    again = frozenset(p for p, r in outcomes if _resendable(r) and r.get("status") != UNKNOWN)
    if not again and not unknown:
        return None
    return ResendPlan(task_id, again, done, unknown)


_RESEND_KEY = re.compile(r":retry-of-(\d+)$")


def resent_task_id(idempotency_key: str | None) -> int | None:
    """The attempt a resend's task follows, from its key (safety/idempotency.retry_key); None for
    a first attempt (or a key hashed for length, which keeps no such suffix)."""
    match = _RESEND_KEY.search(idempotency_key or "")
    return int(match.group(1)) if match else None


def _resendable(result: dict[str, Any]) -> bool:
    status = result.get("status")
    if status in (FAILED, UNKNOWN):
        return True
    return status == SKIPPED and result.get("reason") in RESENDABLE_SKIPS


def _part(item: dict[str, Any]) -> Part | None:
    firm, program = item.get("firm_code"), item.get("program_id")
    if not isinstance(firm, str) or isinstance(program, bool) or not isinstance(program, int):
        return None
    return firm, program


def _client_order_id(result: dict[str, Any]) -> str | None:
    details = result.get("details")
    value = details.get("client_order_id") if isinstance(details, dict) else None
    return value if isinstance(value, str) and value else None


def _listed(parts: Iterable[Part]) -> list[dict[str, Any]]:
    return [{"firm_code": f, "program_id": p} for f, p in sorted(parts)]


