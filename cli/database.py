"""`init-db`: apply the database migrations (a pre-deploy step; start-up does it too)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from database import upgrade_to_head


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Apply database migrations (idempotent; also done at start-up)."""
    engine = current_app.extensions["db_engine"]
    upgrade_to_head(engine)
    click.echo(f"Database schema is up to date ({engine.dialect.name}).")
