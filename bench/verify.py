"""Row checks for `make bench`: every request sent produced exactly one task and one log row.

wrk's Lua script names trades ``<prefix>-<thread>-<n>`` and reports how many requests each thread
generated, so the exact set of signals sent is known. Requests still in flight when wrk stops
its clock were already written to the socket and are still processed by the server, so after
the server has drained the database must hold exactly that set: nothing lost, nothing doubled,
every task COMPLETED with one execution_logs row.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

from sqlalchemy import Engine, func, select

from database.tables import execution_logs, execution_tasks
from signals import ENTRY_TYPES

Key = tuple[str, str]  # (trade_id, "entry" | "exit")


def expected_keys(prefix: str, generated: Mapping[str, int], mode: str = "entry") -> Counter[Key]:
    """The signals the Lua script sent, from its per-thread request counters.

    wrk calls ``request()`` once on the first thread's Lua state before the run, to check the
    script, and discards the result (``script_verify_request`` in wrk.c's main(); see
    https://github.com/wg/wrk/blob/master/src/wrk.c), so thread 1's request 1 is never sent.
    """
    keys: Counter[Key] = Counter()
    for thread, count in generated.items():
        for n in range(2 if str(thread) == "1" else 1, int(count) + 1):
            if mode == "mix":  # odd requests open trade (n+1)//2, even ones exit it
                keys[(f"{prefix}-{thread}-{(n + 1) // 2}", "entry" if n % 2 else "exit")] += 1
            else:
                keys[(f"{prefix}-{thread}-{n}", "entry")] += 1
    return keys


@dataclass(frozen=True)
class RowCheck:
    expected: int  # signals sent
    tasks: int  # execution_tasks rows found for them
    lost: int  # signals sent with no task row
    extra: int  # task rows beyond one per signal sent (duplicates or unknown ids)
    unfinished: int  # tasks not COMPLETED, or without exactly one execution_logs row

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.extra == 0 and self.unfinished == 0 and self.tasks == self.expected

    def to_dict(self) -> dict[str, int | bool]:
        return {**asdict(self), "ok": self.ok}

    @classmethod
    def from_dict(cls, data: Mapping[str, int | bool]) -> "RowCheck":
        return cls(**{k: int(v) for k, v in data.items() if k != "ok"})


def compare(expected: Counter[Key], found: Iterable[tuple[str, str, str, int]]) -> RowCheck:
    """Compare the signals sent with the task rows found as (trade_id, event_type, status, logs)."""
    seen: Counter[Key] = Counter()
    unfinished = tasks = 0
    for trade_id, event_type, status, logs in found:
        tasks += 1
        seen[(trade_id, "entry" if event_type in ENTRY_TYPES else "exit")] += 1
        if status != "COMPLETED" or logs != 1:
            unfinished += 1
    lost = sum((expected - seen).values())
    extra = sum((seen - expected).values())
    return RowCheck(expected=sum(expected.values()), tasks=tasks, lost=lost, extra=extra, unfinished=unfinished)


def check_rows(engine: Engine, prefix: str, expected: Counter[Key]) -> RowCheck:
    """Check the database against the signals sent under ``prefix``."""
    logs = (
        select(execution_logs.c.task_id, func.count().label("logs"))
        .where(execution_logs.c.trade_id.like(prefix + "-%"))
        .group_by(execution_logs.c.task_id)
        .subquery()
    )
    query = (
        select(
            execution_tasks.c.trade_id,
            execution_tasks.c.event_type,
            execution_tasks.c.status,
            func.coalesce(logs.c.logs, 0),
        )
        .select_from(execution_tasks.outerjoin(logs, logs.c.task_id == execution_tasks.c.id))
        .where(execution_tasks.c.trade_id.like(prefix + "-%"))
    )
    with engine.begin() as connection:
        rows = [(r[0], r[1], r[2], int(r[3])) for r in connection.execute(query)]
    return compare(expected, rows)


def check_reference_rows(found: Mapping[tuple[str, str], int], expected: Counter[Key]) -> RowCheck:
    """The reference app stores one row per request; ``found`` is rows per (trade_id, event_type)."""
    rows = [(trade_id, event, "COMPLETED", 1) for (trade_id, event), n in found.items() for _ in range(n)]
    return compare(expected, rows)
