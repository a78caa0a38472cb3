"""SQL for dashboard logouts: the revocation list every worker and instance reads.

Only digests of session ids are stored (see database/tables_sessions.py). One transaction per
public method, like the other repositories.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from database.tables_sessions import dashboard_session_revocations as revocations
from database.unit_of_work import Connections, connections


class DashboardSessionRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine

    def revoke(self, session_key: str, expires_at: dt.datetime, *, prune_before: dt.datetime) -> None:
        """Refuse this session until `expires_at`; drop rows that expired before `prune_before`.

        Revoking twice (a double-clicked logout) is not an error."""
        with self._db.transaction() as connection:
            connection.execute(delete(revocations).where(revocations.c.expires_at < prune_before))
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(revocations).values(session_key=session_key, expires_at=expires_at)
            connection.execute(statement.on_conflict_do_nothing(index_elements=["session_key"]))

    def is_revoked(self, session_key: str) -> bool:
        """One primary-key read: cheap enough for every cookie-authenticated request."""
        with self._db.transaction(one_statement=True) as connection:
            found = connection.execute(
                select(revocations.c.session_key).where(revocations.c.session_key == session_key)
            ).first()
        return found is not None
