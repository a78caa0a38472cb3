"""CLI: ``flask --app web_server trading-state [ACTIVE|REDUCING|HALTED]`` and ``recover-tasks``.

Arguments are validated by the admin API's models (web/admin_models.py): a bad one is refused
with one line naming it (exit code 2) before anything is changed.
"""
from __future__ import annotations

import click
from flask import Flask

from database.safety_repository import SafetyRepository
from safety.recovery import recover_stuck_tasks
from web.admin_models import RecoverTasks, TradingStateChange, cli_validate


def register_safety_cli(app: Flask) -> None:
    @app.cli.command("trading-state")
    @click.argument("state", required=False, metavar="[ACTIVE|REDUCING|HALTED]")
    @click.option("--reason", default=None, help="Why (shown in /health and the admin API; at most 500 characters).")
    def trading_state(state: str | None, reason: str | None) -> None:
        """Show or set the trading state: ACTIVE, REDUCING (exits only) or HALTED (nothing sent)."""
        if state is None and reason is None:
            click.echo(f"Trading state: {SafetyRepository(app.extensions['db_engine']).get_trading_state().state}")
            return
        change = cli_validate(TradingStateChange, state=state, reason=reason)
        previous = SafetyRepository(app.extensions["db_engine"]).set_trading_state(change.state, change.reason, changed_by="cli")
        click.echo(f"Trading state: {previous.state} -> {change.state}")

    @app.cli.command("recover-tasks")
    @click.option("--older-than", default=None, help="Seconds, 1-86400 (default STUCK_TASK_SECONDS).")
    def recover_tasks(older_than: str | None) -> None:
        """Finish tasks left PENDING/PROCESSING by a crashed worker (also done at start-up)."""
        args = cli_validate(RecoverTasks, older_than=older_than)
        settings = app.config["ROUTER_SETTINGS"]
        threshold = args.older_than if args.older_than is not None else settings.stuck_task_seconds
        summaries = recover_stuck_tasks(app.extensions["execution_router"], threshold)
        for s in summaries:
            click.echo(f"task {s['task_id']}: {s['outcome']}{' (' + s['error'] + ')' if s.get('error') else ''}")
        click.echo(f"Recovered {len(summaries)} task(s).")
