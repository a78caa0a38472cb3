"""`trading-state [ACTIVE|REDUCING|HALTED]` and `recover-tasks`.

Arguments are validated by the admin API's models (web/admin_models.py): a bad one is refused
with one line naming it (exit code 2) before anything is changed.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from database.safety_repository import SafetyRepository
from safety.recovery import recover_stuck_tasks
from web.admin_models import RecoverTasks, TradingStateChange, cli_validate


@click.command("trading-state")
@click.argument("state", required=False, metavar="[ACTIVE|REDUCING|HALTED]")
@click.option("--reason", default=None, help="Why (shown in /health and the admin API; at most 500 characters).")
@with_appcontext
def trading_state(state: str | None, reason: str | None) -> None:
    """Show or set the trading state: ACTIVE, REDUCING (exits only) or HALTED (nothing sent)."""
    repository = SafetyRepository(current_app.extensions["db_engine"])
    if state is None and reason is None:
        click.echo(f"Trading state: {repository.get_trading_state().state}")
        return
    change = cli_validate(TradingStateChange, state=state, reason=reason)
    previous = repository.set_trading_state(change.state, change.reason, changed_by="cli")
    click.echo(f"Trading state: {previous.state} -> {change.state}")


@click.command("recover-tasks")
@click.option("--older-than", default=None, help="Seconds, 1-86400 (default STUCK_TASK_SECONDS).")
@with_appcontext
def recover_tasks(older_than: str | None) -> None:
    """Finish tasks left PENDING/PROCESSING by a crashed worker (also done at start-up)."""
    args = cli_validate(RecoverTasks, older_than=older_than)
    settings = current_app.config["ROUTER_SETTINGS"]
    threshold = args.older_than if args.older_than is not None else settings.stuck_task_seconds
    summaries = recover_stuck_tasks(current_app.extensions["execution_router"], threshold)
    for s in summaries:
        click.echo(f"task {s['task_id']}: {s['outcome']}{' (' + s['error'] + ')' if s.get('error') else ''}")
    click.echo(f"Recovered {len(summaries)} task(s).")
