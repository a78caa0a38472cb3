"""`reconcile-orders`: settle live orders whose outcome is UNKNOWN by asking the firms."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from database.orders_repository import ConnectorOrderRepository

NOTIFY_WAIT_SECONDS = 30.0
"""How long the command waits for its notifications to be sent before exiting."""


@click.command("reconcile-orders")
@with_appcontext
def reconcile_orders() -> None:
    """Ask the firms about live orders whose outcome is UNKNOWN (by client order id)."""
    app = current_app
    try:
        outcomes = app.extensions["execution_router"].reconciler().reconcile_unresolved()
    finally:  # what it found for the trader is sent before the command exits (bounded wait)
        app.extensions["notifier"].close(timeout=NOTIFY_WAIT_SECONDS)
    journal = ConnectorOrderRepository(app.extensions["db_engine"])
    for client_id, status in outcomes:
        record = journal.get(client_id)  # its message says why, and whether a stop needs a hand
        click.echo(f"{client_id}  {status}  {record.message if record is not None and record.message else ''}".rstrip())
    click.echo(f"{len(outcomes)} unresolved order(s) checked.")
