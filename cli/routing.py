"""`check-config`: the effective routing table. Invalid configuration never gets this far: the
app is not built and `refuse_configuration` (cli/__init__.py) prints the problems instead."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from config.report import routing_table


@click.command("check-config")
@with_appcontext
def check_config() -> None:
    """Print the effective routing table: firms, programs, every rule and where it came from."""
    click.echo(routing_table(current_app.config["ROUTER_SETTINGS"]))
