"""The timed jobs the firms' rules ask for, one per program that configures them:

- `flat-by:{FIRM}.{ID}` at each `{FIRM}_{ID}_FLAT_BY` cutoff: close the program's open positions
  (the firm's own cutoff: Topstep 3:10 PM CT, Apex 4:59 PM ET, docs/firm-rules.md). A cutoff
  missed while the service was down is applied at start-up until the firm's next trading day
  begins (entries are refused over that span anyway, safety/hours.py).
- `news-flatten:{FIRM}.{ID}` at the start of each news blackout when
  `{FIRM}_{ID}_FLATTEN_BEFORE_NEWS=true`; a missed one is applied while the blackout lasts.

Each run closes the account through safety/flattening.py (keyed by the job and the due instant,
so a repeat sends nothing twice) and notifies what it closed. When a run finds nothing open it
says so and sends no message.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from config.models import FirmSettings, ProgramSettings
from observability.notifications import Notification
from safety.flattening import close_account, failed_exits
from safety.hours import blackouts_at, flat_by_cutoff, next_flat_by, next_news_flatten
from scheduling.scheduler import ScheduledJob

if TYPE_CHECKING:
    from execution_router import ExecutionRouter

FLAT_BY = "FLAT_BY"
NEWS_FLATTEN = "NEWS_FLATTEN"


def firm_jobs(router: "ExecutionRouter", notify: Callable[[Notification], Any] | None) -> list[ScheduledJob]:
    """Every flat-by and flatten-before-news job the routed programs configure."""
    jobs = []
    for code in router.settings.route_to_firms:
        firm = router.settings.firms[code]
        for program in firm.programs.values():
            if program.flat_by is not None:
                jobs.append(_flat_by_job(router, notify, firm, program))
            if program.flatten_before_news:
                jobs.append(_news_job(router, notify, firm, program))
    return jobs


def _flat_by_job(router, notify, firm: FirmSettings, program: ProgramSettings) -> ScheduledJob:
    def last_due(now: datetime) -> datetime | None:
        cutoff = flat_by_cutoff(firm, program, now)  # this trading day's, which ends at the next day start
        return cutoff if cutoff is not None and cutoff <= now else None

    assert program.flat_by is not None
    when = f"{program.flat_by.strftime('%H:%M')} {firm.trading_day_timezone}"
    return ScheduledJob(
        id=f"flat-by:{firm.code}.{program.program_id}",
        description=f"close {firm.code} program {program.program_id} at its flat-by cutoff ({when})",
        next_due=lambda now: next_flat_by(firm, program, now), last_due=last_due,
        run=lambda due: _flatten(router, notify, firm.code, program.program_id, FLAT_BY, due,
                                 f"Flat-by cutoff {when} ({firm.code}_{program.program_id}_FLAT_BY)."),
    )


def _news_job(router, notify, firm: FirmSettings, program: ProgramSettings) -> ScheduledJob:
    def next_due(now: datetime) -> datetime | None:
        found = next_news_flatten(firm, program, now)
        return found[0] if found else None

    def last_due(now: datetime) -> datetime | None:
        active = blackouts_at(firm.news_blackouts, now)
        return min(b.start for b in active) if active else None

    def run(due: datetime) -> dict[str, Any]:
        names = ", ".join(str(b) for b in firm.news_blackouts if b.start == due) or "news"
        return _flatten(router, notify, firm.code, program.program_id, NEWS_FLATTEN, due,
                        f"News blackout {names} ({firm.code}_{program.program_id}_FLATTEN_BEFORE_NEWS).")

    return ScheduledJob(
        id=f"news-flatten:{firm.code}.{program.program_id}",
        description=f"close {firm.code} program {program.program_id} when a news blackout starts",
        next_due=next_due, last_due=last_due, run=run,
    )


def _flatten(router: "ExecutionRouter", notify, firm_code: str, program_id: int, cause: str, due: datetime,
             reason: str) -> dict[str, Any]:
    outcome = close_account(router, firm_code, program_id, key=f"{cause.lower()}:{due.isoformat()}",
                            cause=cause, reason=reason)
    if outcome and notify is not None:
        problems = failed_exits(outcome)
        text = (f"{firm_code} program {program_id}: closed {len(outcome)} position(s) - {reason} "
                + ", ".join(f"{o['trade_id']} {o['contracts']} {o['symbol']} ({o['status']})" for o in outcome))
        if problems:
            text += f". {len(problems)} exit(s) did not go through: check the account at the firm now."
        notify(Notification(cause, text, {"firm_code": firm_code, "program_id": program_id, "due": due.isoformat(),
                                          "closed": outcome}))
    return {"reason": reason, "closed": outcome}
