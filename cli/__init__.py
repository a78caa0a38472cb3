"""Every `flask --app web_server ...` command, one module per group, registered by `register_cli`.

Commands read what they need from `current_app` (its settings, engine, router and notifier), so
they run against the same objects as the web service. The list, with options and exit codes, is
in docs/operations.md.
"""
from __future__ import annotations

from typing import NoReturn

import click
from flask import Flask

from cli.account import account
from cli.database import init_db
from cli.orders import reconcile_orders
from cli.routing import check_config
from cli.safety import recover_tasks, trading_state
from config import ConfigError

COMMANDS: tuple[click.Command, ...] = (init_db, check_config, reconcile_orders, trading_state, recover_tasks, account)


def register_cli(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def loading_app_for_a_command() -> bool:
    """True while the `flask` command line builds the app to find its command (a click context
    is active then, and never under gunicorn or in a test that calls create_app)."""
    return click.get_current_context(silent=True) is not None


def refuse_configuration(exc: ConfigError) -> NoReturn:
    """End a `flask ...` command whose app cannot be built: the problems, one per line on stderr,
    exit code 1. A traceback would bury the variable names the operator has to fix."""
    for problem in exc.problems:
        click.echo(problem, err=True)
    raise SystemExit(1)
