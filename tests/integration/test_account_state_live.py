"""Live snapshot precedence (the seam for the live connectors) and failed-exit reversal.

The connector and snapshot provider are fakes that subclass the real bases; the router, the
ledger and the database are real (SQLite and PostgreSQL via `make_settings`).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from account_engine.snapshots import AccountSnapshot, SnapshotProvider
from connectors import FAILED, SUCCESS, BaseConnector, ConnectorResult, OrderRequest
from database import ExecutionRepository, create_db_engine, upgrade_to_head
from execution_router import ExecutionRouter
from tests.conftest import GUIDE_PAYLOAD

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)


class FakeLiveConnector(BaseConnector):
    firm_code = "FTMO"
    live_supported = True

    def __init__(self, firm, *, exit_status=SUCCESS):
        super().__init__(firm, dry_run=False)
        self.exit_status = exit_status
        self.sent: list[OrderRequest] = []

    def _result(self, order, status):
        self.sent.append(order)
        return ConnectorResult(firm_code="FTMO", program_id=order.program_id, status=status, dry_run=False,
                               order_id=f"X{len(self.sent)}", order=order.to_dict())

    def _place_entry(self, order):
        return self._result(order, SUCCESS)

    def _place_exit(self, order):
        return self._result(order, self.exit_status)

    def _account_status(self):
        return {}


class FakeProvider(SnapshotProvider):
    def __init__(self, snapshot=None, error=None):
        self.snapshot, self.error, self.calls = snapshot, error, 0

    def fetch(self, firm_code, program_id):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.snapshot


def live_router(make_settings, provider, **env):
    settings = make_settings(ROUTE_TO_FIRMS="FTMO", EXECUTION_DRY_RUN="false", FTMO_MAX_DAILY_LOSS=None, **env)
    url = settings.database_url.get_secret_value() if settings.database_url else None
    engine = create_db_engine(url, settings.sqlite_path)
    upgrade_to_head(engine)
    connector = FakeLiveConnector(settings.firms["FTMO"])
    router = ExecutionRouter(settings=settings, repository=ExecutionRepository(engine), connectors={"FTMO": connector},
                             clock=lambda: NOW, snapshot_provider=provider)
    return router, connector, engine


def snap(equity, open_pl, age_seconds=5):
    return AccountSnapshot(balance=Decimal(equity) - Decimal(open_pl), equity=Decimal(equity),
                           open_pl=Decimal(open_pl), taken_at=NOW - timedelta(seconds=age_seconds))


def test_fresh_snapshot_takes_precedence_over_the_ledger(make_settings):
    provider = FakeProvider(snap("98900", "-1100"))
    router, connector, engine = live_router(make_settings, provider)
    result = router.route(dict(GUIDE_PAYLOAD))
    state = result["account_states"][0]
    assert state["source"] == "SNAPSHOT" and state["equity"] == 98900.0 and state["day_pl"] == -1100.0
    breach = result["account_breaches"][0]
    assert breach["status"] == "REJECTED" and breach["reason"] == "Daily loss -1100.0 exceeds max_daily_loss 1000.0."
    assert connector.sent == [] and provider.calls == 1  # one fetch per account per signal
    engine.dispose()


def test_stale_snapshot_blocks_entries_by_default(make_settings):
    provider = FakeProvider(snap("100000", "0", age_seconds=600))
    router, connector, engine = live_router(make_settings, provider)
    result = router.route(dict(GUIDE_PAYLOAD))
    assert result["account_states"][0]["source"] == "BLOCKED"
    assert "stale" in result["account_states"][0]["snapshot_problem"]
    breach = result["account_breaches"][0]
    assert (breach["status"], breach["rule"]) == ("ERROR", "ACCOUNT_SNAPSHOT_UNAVAILABLE")
    assert "FTMO_SNAPSHOT_POLICY=BLOCK" in breach["reason"]
    assert connector.sent == [] and result["connector_results"] == []
    engine.dispose()


def test_failed_snapshot_falls_back_to_the_ledger_when_configured(make_settings):
    provider = FakeProvider(error=TimeoutError("firm API timed out"))
    router, connector, engine = live_router(make_settings, provider, FTMO_SNAPSHOT_POLICY="LEDGER")
    result = router.route(dict(GUIDE_PAYLOAD))
    state = result["account_states"][0]
    assert state["source"] == "LEDGER_FALLBACK" and "TimeoutError" in state["snapshot_problem"]
    assert result["account_breaches"][0]["status"] == "APPROVED"
    assert [r["status"] for r in result["connector_results"]] == ["SUCCESS"] and len(connector.sent) == 1
    engine.dispose()


def test_dry_run_firms_use_the_ledger_without_asking_for_a_snapshot(make_settings):
    settings = make_settings(ROUTE_TO_FIRMS="FTMO")
    provider = FakeProvider(snap("1", "0"))
    router = ExecutionRouter(settings=settings, clock=lambda: NOW, snapshot_provider=provider)
    result = router.route(dict(GUIDE_PAYLOAD))
    assert result["account_states"][0]["source"] == "LEDGER" and provider.calls == 0
    router.repository.engine.dispose()


def test_failed_exit_order_reopens_the_position_and_reverses_its_pl(make_settings):
    router, connector, engine = live_router(make_settings, None)
    router.route(dict(GUIDE_PAYLOAD))
    connector.exit_status = FAILED
    result = router.route({"event_type": "EXIT_SL", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_price": 16480})
    close = result["account_closes"][0]
    assert (close["realized_pl"], close["simulated"], close["reversed"]) == (-800.0, False, True)
    assert router.repository.open_positions_for_trade(GUIDE_PAYLOAD["trade_id"])[0].contracts_open == 2
    state = router.accounts.view("FTMO", 1)
    assert state.state.realized_pl == 0 and state.state.open_contracts == 2
    kinds = [(e.kind, e.amount) for e in router.accounts.ledger.events_for_account("FTMO", 1)]
    assert kinds == [("CLOSE", Decimal(-800)), ("CLOSE_REVERSED", Decimal(800))]
    connector.exit_status = SUCCESS
    again = router.route({"event_type": "EXIT_SL", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_price": 16490})
    assert again["account_closes"][0]["realized_pl"] == -400.0
    assert router.accounts.view("FTMO", 1).state.realized_pl == Decimal(-400)
    engine.dispose()
