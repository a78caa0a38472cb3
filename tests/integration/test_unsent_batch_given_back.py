"""Live signals commit each reservation/claim before sending; if the batch fails before any of its
orders is sent, what was reserved or claimed is given back (ExecutionRouter._given_back_if_unsent).

A FAILED task is never recovered, so without this a claimed exit would leave the database saying
"flat" while the firm still holds the position, and a reservation would hold capacity for an
order that never left. Both backends.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text

from connectors import SUCCESS, BaseConnector, ConnectorResult, OrderRequest
from database import ExecutionRepository
from execution_router import ExecutionRouter
from tests.conftest import GUIDE_PAYLOAD

EXIT = {"event_type": "EXIT_STOP_LOSS", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_price": 16475.0}


class Recording(BaseConnector):
    """A live firm that accepts every order and remembers what it was sent."""

    live_supported = True

    def __init__(self, firm: Any, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self.firm_code = firm.code  # type: ignore[misc]
        self.sent: list[OrderRequest] = []

    def _place_entry(self, order: OrderRequest, deadline: Any = None) -> ConnectorResult:
        self.sent.append(order)
        return ConnectorResult(self.firm_code, order.program_id, SUCCESS, False, order_id=f"X-{order.client_order_id}")

    _place_exit = _place_entry

    def _account_status(self) -> dict[str, Any]:
        return {}


def _live_router(app) -> tuple[ExecutionRouter, dict[str, Recording]]:
    settings = app.config["ROUTER_SETTINGS"]
    # The subject is what a failed batch gives back, not Apex's stop-and-target rule (test_firm_rules_live.py).
    firms = {code: firm.model_copy(update={"require_stop_and_target": False}) for code, firm in settings.firms.items()}
    settings = settings.model_copy(update={"firms": firms})
    connectors = {code: Recording(settings.firms[code], dry_run=False) for code in ("FTMO", "APEX")}
    router = ExecutionRouter(settings=settings, repository=ExecutionRepository(app.extensions["db_engine"]),
                             connectors=connectors)
    return router, connectors


def _fail_journal_on_second_order(monkeypatch) -> None:
    """The batch's journal write fails at its second order (the first row already inserted)."""
    import database.orders_repository as orders

    real = orders.checked_document
    calls = {"n": 0}

    def flaky(document: Any, field: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("journal write failed")
        return real(document, field)

    monkeypatch.setattr(orders, "checked_document", flaky)


def _positions(db) -> list[tuple[str, str, int]]:
    rows = db.execute(text("SELECT firm_code, status, contracts_open FROM trade_positions ORDER BY firm_code"))
    return [tuple(r) for r in rows]


def test_entry_reservations_are_released_when_the_batch_fails_before_sending(app, db, monkeypatch):
    router, connectors = _live_router(app)
    _fail_journal_on_second_order(monkeypatch)
    result = router.route(dict(GUIDE_PAYLOAD))
    assert "journal write failed" in result["error"]
    assert [c.sent for c in connectors.values()] == [[], []]  # nothing left
    assert _positions(db) == [("APEX", "RELEASED", 0), ("FTMO", "RELEASED", 0)]  # no capacity held
    router.close()


def test_exit_claims_are_given_back_with_their_pl_when_the_batch_fails_before_sending(app, db, monkeypatch):
    router, connectors = _live_router(app)
    assert router.route(dict(GUIDE_PAYLOAD))["routed"] is True
    opened = _positions(db)
    _fail_journal_on_second_order(monkeypatch)  # the entry's two orders are journalled; the 2nd exit fails
    result = router.route(dict(EXIT))
    assert "journal write failed" in result["error"]
    assert [[o.action for o in c.sent] for c in connectors.values()] == [["ENTRY"], ["ENTRY"]]  # no exit left
    assert _positions(db) == opened  # still open, at full size
    kinds = db.execute(text("SELECT firm_code, kind, amount FROM account_events ORDER BY id"))
    pl = {}
    for firm, kind, amount in kinds:
        pl[firm] = pl.get(firm, Decimal(0)) + Decimal(str(amount or 0))  # SQLite returns text
        assert kind in ("CLOSE", "CLOSE_REVERSED")
    assert all(total == 0 for total in pl.values())  # every booked close reversed: the ledger is unchanged
    router.close()


def test_an_exit_reconciled_as_not_at_the_firm_gets_its_contracts_and_pl_back(app, db):
    """An exit whose outcome was unknown and that the firm never received: reconciliation gives the
    contracts back and reverses the P&L it booked, so loss checks never count a close that did not
    happen (connectors/reconcile.py -> LedgerRepository.reopen_exit)."""
    router, connectors = _live_router(app)
    assert router.route(dict(GUIDE_PAYLOAD))["routed"] is True
    opened = _positions(db)

    class Unanswered(Recording):  # the exit may or may not have been placed; the firm says "never seen"
        def _place_exit(self, order: OrderRequest, deadline: Any = None) -> ConnectorResult:
            return ConnectorResult(self.firm_code, order.program_id, "UNKNOWN", False, reason="TIMEOUT")

        def _find_order(self, order: OrderRequest, deadline: Any) -> Any:
            from connectors.base_connector import OrderLookup

            return OrderLookup(False)

    for code in ("FTMO", "APEX"):
        router.connectors[code] = Unanswered(router.settings.firms[code], dry_run=False)
    exited = router.route(dict(EXIT))
    assert {r["status"] for r in exited["connector_results"]} == {"UNKNOWN"}
    assert _positions(db) != opened  # claimed while the outcome is unknown

    reconciler = router.reconciler()
    reconciler.min_age = 0
    assert {status for _, status in reconciler.reconcile_unresolved(GUIDE_PAYLOAD["trade_id"])} == {"FAILED"}
    assert _positions(db) == opened
    totals = db.execute(text("SELECT firm_code, COUNT(*) FROM account_events GROUP BY firm_code ORDER BY 1"))
    assert [tuple(r) for r in totals] == [("APEX", 2), ("FTMO", 2)]  # each close and its reversal
    amounts = db.execute(text("SELECT amount FROM account_events"))
    assert sum(Decimal(str(a)) for (a,) in amounts) == 0
    assert router.reconciler().reconcile_unresolved(GUIDE_PAYLOAD["trade_id"]) == []  # nothing left, nothing twice
    router.close()


def test_an_exit_after_a_firm_went_live_sends_nothing_for_positions_opened_in_dry_run(app, db):
    """A simulated position never existed at the firm: an exit order for it would close contracts of
    another, real trade there. It is closed here only; the real one still gets its order."""
    dry_router = ExecutionRouter(settings=app.config["ROUTER_SETTINGS"],
                                 repository=ExecutionRepository(app.extensions["db_engine"]))
    assert dry_router.route(dict(GUIDE_PAYLOAD))["dry_run"] is True  # both firms simulated
    dry_router.close()
    router, connectors = _live_router(app)  # the firms are live now
    live_trade = dict(GUIDE_PAYLOAD, trade_id="LIVE_TRADE")
    assert router.route(live_trade)["routed"] is True

    result = router.route(dict(EXIT))
    assert {r["reason"] for r in result["connector_results"]} == {"SIMULATED_POSITION"}
    assert [[o.trade_id for o in c.sent] for c in connectors.values()] == [["LIVE_TRADE"], ["LIVE_TRADE"]]
    assert len(result["account_closes"]) == 2 and all(c["simulated"] for c in result["account_closes"])
    rows = db.execute(text("SELECT trade_id, status FROM trade_positions ORDER BY trade_id, firm_code"))
    assert [tuple(r) for r in rows] == [(GUIDE_PAYLOAD["trade_id"], "CLOSED")] * 2 + [("LIVE_TRADE", "OPEN")] * 2
    router.close()


def test_an_exit_for_a_live_position_while_its_firm_is_in_dry_run_keeps_it_open(app, db):
    router, connectors = _live_router(app)
    assert router.route(dict(GUIDE_PAYLOAD))["routed"] is True
    dry_router = ExecutionRouter(settings=app.config["ROUTER_SETTINGS"],
                                 repository=ExecutionRepository(app.extensions["db_engine"]))
    result = dry_router.route(dict(EXIT))
    assert {r["reason"] for r in result["connector_results"]} == {"LIVE_POSITION_FIRM_IN_DRY_RUN"}
    assert {status for _, status, _ in _positions(db)} == {"OPEN"}  # still held at the firm: still open here
    assert db.execute(text("SELECT COUNT(*) FROM account_events")).scalar_one() == 0  # no P&L booked
    dry_router.close()
    router.close()
