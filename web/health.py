"""GET /health — what a load balancer or Railway health check needs, and what an operator asks first."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from database.safety_repository import SafetyRepository
from version import __version__

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    router = current_app.extensions["execution_router"]
    db_ok = router.repository.ping()
    state = None
    if db_ok:
        try:
            state = SafetyRepository(router.repository.engine).get_trading_state().state
        except Exception:  # the database went away between the two queries
            db_ok = False
    body = {
        "status": "ok" if db_ok else "degraded",
        "database": "ok" if db_ok else "unreachable",
        "database_backend": router.repository.backend,
        "dry_run": router.dry_run,
        "trading_state": state or "UNKNOWN",
        "firm_modes": {code: ("DRY_RUN" if c.dry_run else "LIVE") for code, c in router.connectors.items()},
        "version": __version__,
        "scheduled_jobs": _jobs() if db_ok else [],
    }
    return jsonify(body), (200 if db_ok else 503)


def _jobs() -> list[dict]:
    """Each timed job's last run (whichever worker ran it) and next due instant."""
    scheduler = current_app.extensions.get("scheduler")
    if scheduler is None:
        return []
    try:
        return scheduler.status()
    except Exception:  # noqa: BLE001 - the health answer must not fail on its details
        return []
