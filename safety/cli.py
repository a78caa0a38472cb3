"""CLI: ``flask --app web_server trading-state [ACTIVE|REDUCING|HALTED]`` and ``recover-tasks``."""
from __future__ import annotations

import click
from flask import Flask

from database.safety_repository import SafetyRepository
from database.tables_safety import TRADING_STATES
from safety.recovery import recover_stuck_tasks


def register_safety_cli(app: Flask) -> None:
    @app.cli.command("trading-state")
    @click.argument("state", required=False, type=click.Choice(TRADING_STATES, case_sensitive=False))
    @click.option("--reason", default=None, help="Why (shown in /health and the admin API).")
    def trading_state(state: str | None, reason: str | None) -> None:
        """Show or set the trading state: ACTIVE, REDUCING (exits only) or HALTED (nothing sent)."""
        repo = SafetyRepository(app.extensions["db_engine"])
        if state is None:
            click.echo(f"Trading state: {repo.get_trading_state().state}")
            return
        previous = repo.set_trading_state(state.upper(), reason, changed_by="cli")
        click.echo(f"Trading state: {previous.state} -> {state.upper()}")

    @app.cli.command("recover-tasks")
    @click.option("--older-than", type=int, default=None, help="Seconds (default STUCK_TASK_SECONDS).")
    def recover_tasks(older_than: int | None) -> None:
        """Finish tasks left PENDING/PROCESSING by a crashed worker (also done at start-up)."""
        settings = app.config["ROUTER_SETTINGS"]
        threshold = older_than if older_than is not None else settings.stuck_task_seconds
        summaries = recover_stuck_tasks(app.extensions["execution_router"], threshold)
        for s in summaries:
            click.echo(f"task {s['task_id']}: {s['outcome']}{' (' + s['error'] + ')' if s.get('error') else ''}")
        click.echo(f"Recovered {len(summaries)} task(s).")
