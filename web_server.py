"""Flask application factory.

gunicorn 'web_server:create_app()'  ·  flask --app web_server init-db | check-config | ... (cli/)

Nothing is built at import time; `create_app` validates settings, applies migrations (idempotent,
serialised across workers by an advisory lock on PostgreSQL) and wires one ExecutionRouter.
"""
from __future__ import annotations

import logging
import sys
from functools import partial

from flask import Flask

from cli import loading_app_for_a_command, refuse_configuration, register_cli
from config import ConfigError, Settings, load_settings, set_settings
from config.rules_report import log_firm_rules
from connectors import live_problems
from database import ExecutionRepository, create_db_engine, upgrade_to_head
from database.engine import DatabaseTimeouts
from connectors.snapshots import ConnectorSnapshots
from execution_router import ExecutionRouter
from version import __version__
from dashboard import views as dashboard_views
from observability.json_logging import install_handler, settings_secrets
from observability.notifications import Notifier
from safety.account_guard import AccountGuard
from domain.account_guard import GuardTrigger
from database.schedule_repository import ScheduleRepository
from scheduling.firm_jobs import firm_jobs
from scheduling.scheduler import JobScheduler
from web import account_admin, admin_trading_state, health, metrics_view, openapi, query_api, realtime_price, webhook
from web.db_errors import register_db_error_handlers
from database.safety_repository import SafetyRepository
from safety.switch import TradingStateSwitch
from web.errors import register_error_handlers

log = logging.getLogger("web_server")


def startup_problems(settings: Settings) -> list[str]:
    """Reasons the service must not start (docs/design.md Decision 6: live mode needs a secret)."""
    problems = live_problems(settings)
    any_live = any(not settings.firms[c].dry_run for c in settings.route_to_firms)
    if any_live and settings.webhook_secret is None:
        problems.insert(0, "WEBHOOK_SECRET: required when any firm routes live (EXECUTION_DRY_RUN=false or {FIRM}_DRY_RUN=false)")
    return problems


def _configure_logging(settings: Settings) -> None:
    """One JSON (or text) line per record on stderr, task ids attached, secrets redacted."""
    install_handler(settings.log_level, settings.log_format, settings_secrets(settings))


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Invalid configuration raises ConfigError naming every bad variable."""
    try:
        settings = settings if settings is not None else load_settings()
        problems = startup_problems(settings)
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        if loading_app_for_a_command():
            refuse_configuration(exc)
        print(str(exc), file=sys.stderr)
        raise
    _configure_logging(settings)
    set_settings(settings)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["ROUTER_SETTINGS"] = settings

    url = settings.database_url.get_secret_value() if settings.database_url else None
    engine = create_db_engine(url, settings.sqlite_path, DatabaseTimeouts.of(settings))
    upgrade_to_head(engine)
    router = ExecutionRouter(settings=settings, repository=ExecutionRepository(engine))
    if any(not c.dry_run for c in router.connectors.values()):  # the firms' own numbers for the loss checks
        router.snapshot_provider = ConnectorSnapshots(router.connectors, settings).start()
    app.extensions["execution_router"] = router
    app.extensions["db_engine"] = engine
    app.extensions["trading_state"] = TradingStateSwitch(SafetyRepository(engine))
    app.extensions["notifier"] = Notifier(
        {channel: url.get_secret_value() for channel, url in settings.notify_urls.items()},
        telegram_chat_id=settings.notify_telegram_chat_id,
    )
    router.reconcile_observer = app.extensions["notifier"].submit_reconciliation  # answers nobody waits for
    _install_account_guard(router, settings, app.extensions["notifier"])

    app.register_blueprint(webhook.bp)
    app.register_blueprint(realtime_price.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin_trading_state.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(query_api.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(metrics_view.bp)
    register_error_handlers(app)
    app.register_blueprint(account_admin.bp)
    register_db_error_handlers(app)
    register_cli(app)
    _install_safety(app, settings, router)
    _install_scheduler(app, router, engine)
    log_firm_rules(settings, log)
    log.info("execution router %s started (database: %s)", __version__, engine.dialect.name)
    return app


def _install_account_guard(router: ExecutionRouter, settings: Settings, notifier: Notifier) -> None:
    """The account guard, when a program has a GUARD_BUFFER: it looks after every task, price and
    live snapshot refresh, and first finishes any flattening a stopped service left half done."""
    if not AccountGuard.configured(settings):
        return
    guard = router.account_guard = AccountGuard(router, notifier.submit)
    if isinstance(router.snapshot_provider, ConnectorSnapshots):
        router.snapshot_provider.on_refresh = partial(_check_after_snapshot, guard)
    resumed = guard.resume()
    if resumed:
        log.warning("finished %d account guard flattening(s) left from before the restart", len(resumed))


def _install_scheduler(app: Flask, router: ExecutionRouter, engine) -> None:
    """The timed jobs the programs configure (flat-by, flattening before news), in every worker,
    each run once across them (scheduling/scheduler.py). Not in a `flask ...` command's process
    (a command that looks at an account must not close it), nor where TIMED_JOBS_ENABLED=false;
    /health shows the jobs either way."""
    jobs = firm_jobs(router, app.extensions["notifier"].submit)
    if not jobs:
        return
    scheduler = JobScheduler(jobs, ScheduleRepository(engine), clock=lambda: router.clock())
    app.extensions["scheduler"] = scheduler
    if router.settings.timed_jobs_enabled and not loading_app_for_a_command():
        scheduler.start()


def _check_after_snapshot(guard: AccountGuard, firm_code: str, program_id: int) -> None:
    guard.check(firm_code, program_id, GuardTrigger.SNAPSHOT)


def _install_safety(app: Flask, settings: Settings, router: ExecutionRouter) -> None:
    """Trusted proxies, and crash recovery at start-up plus periodically."""
    from safety.recovery import RecoveryThread, recover_at_start_up

    if settings.trusted_proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count)  # type: ignore[method-assign]
    recovered = recover_at_start_up(router, settings.stuck_task_seconds)
    if recovered:
        log.warning("recovered %d stuck task(s) at start-up: %s", len(recovered), recovered)
    if settings.recovery_interval_seconds:
        app.extensions["task_recovery"] = RecoveryThread(
            router, settings.stuck_task_seconds, settings.recovery_interval_seconds
        ).start()
