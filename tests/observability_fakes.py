"""Fakes (subclasses of the real bases, no mocks) and one mixed routing scenario, shared by the
monitoring SQL, query API, dashboard, metrics and notification tests.

`StubAccounts` answers the account service's two metrics reads from dicts the test sets (what the
account ledger answers in production), so a scenario can script any P&L.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from account_service import AccountService
from config import Settings, parse_settings
from connectors import BaseConnector
from connectors.orders import SUCCESS, ConnectorResult, OrderRequest
from database import ExecutionRepository
from database.ledger_repository import LedgerRepository
from execution_router import ExecutionRouter
from tests.conftest import GUIDE_PAYLOAD, STEP2_ENV

WEBHOOK = "/api/automated-signals/webhook"


class StubAccounts(AccountService):
    """The account service, with the metrics the checks read set by the test."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.firm_pl: dict[str, dict[str, Any]] = {}
        self.program_pl: dict[tuple[str, int], dict[str, Any]] = {}
        self.ledger_down = False

    def metrics_for_firm(self, firm_code: str, views: Any) -> dict[str, Any]:
        if self.ledger_down:
            raise RuntimeError("account ledger unavailable")
        return dict(self.firm_pl.get(firm_code, {}))

    def metrics_for_program(self, firm_code: str, program_id: int, view: Any) -> dict[str, Any]:
        return dict(self.program_pl.get((firm_code, program_id), {}))


class AcceptingConnector(BaseConnector):
    """A live firm that accepts every order."""

    live_supported = True

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self.firm_code = firm.code  # type: ignore[misc]

    def _place_entry(self, order: OrderRequest, deadline: Any = None) -> ConnectorResult:
        return ConnectorResult(self.firm_code, order.program_id, SUCCESS, False, order_id=f"X-{order.client_order_id}",
                               message="accepted", order=order.to_dict())

    _place_exit = _place_entry

    def _account_status(self) -> dict[str, Any]:
        return {"available": True}


class FailingConnector(AcceptingConnector):
    """A live firm whose API is down: every order raises (the base turns it into FAILED)."""

    def _place_entry(self, order: OrderRequest, deadline: Any = None) -> ConnectorResult:
        raise ConnectionError("broker API unreachable")

    _place_exit = _place_entry


def live_settings(database_url: str = "", **overrides: str) -> Settings:
    """Step 2 settings routed live (only for routers built directly with fake connectors)."""
    env = dict(STEP2_ENV, EXECUTION_DRY_RUN="false", DATABASE_URL=database_url,
               APEX_REQUIRE_STOP_AND_TARGET="false", **overrides)  # the subject is a failing order, not the rule
    return parse_settings(env)


def install_stub_router(app) -> ExecutionRouter:
    """Swap the app's router for one with fake live connectors and the ledger stub."""
    app.extensions["execution_router"].close()
    router = build_stub_router(live_settings(), app.extensions["db_engine"])
    app.extensions["execution_router"] = router
    return router


def build_stub_router(settings: Settings, engine) -> ExecutionRouter:
    """A router with fake live connectors whose account metrics are `StubAccounts` (router.accounts)."""
    connectors = {
        "FTMO": AcceptingConnector(settings.firms["FTMO"], dry_run=False),
        "APEX": FailingConnector(settings.firms["APEX"], dry_run=False),
    }
    return ExecutionRouter(settings=settings, repository=ExecutionRepository(engine), connectors=connectors,
                           accounts=StubAccounts(settings, LedgerRepository(engine)))


ENTRY_T1 = dict(GUIDE_PAYLOAD, trade_id="20251122_143000_BULLISH")
ENTRY_T2 = dict(GUIDE_PAYLOAD, trade_id="20251122_150000_BULLISH")
ENTRY_T3 = dict(GUIDE_PAYLOAD, trade_id="20251122_160000_BULLISH")
EXIT_T1 = {"event_type": "EXIT_SL", "trade_id": ENTRY_T1["trade_id"], "exit_price": 16475.0}
MFE_T1 = {"event_type": "MFE_UPDATE", "trade_id": ENTRY_T1["trade_id"], "be_mfe": 0.5}


def run_scenario(router: ExecutionRouter, send=None) -> list[dict[str, Any]]:
    """Five signals covering every outcome; `send(payload)` posts through HTTP when given.

    T1 entry: FTMO accepted (2 ct), APEX order FAILED.      T2 entry: FTMO risk REJECTED
    (daily loss), APEX breach REJECTED (daily loss).         T1 exit: FTMO closes 2 (SUCCESS).
    T3 entry: the ledger is down -> task FAILED.            T1 MFE update: recorded only.
    """
    send = send or router.route
    accounts = router.accounts
    assert isinstance(accounts, StubAccounts)
    results = [send(ENTRY_T1)]
    accounts.firm_pl = {"FTMO": {"day_pl": -1200}}
    accounts.program_pl = {("APEX", 1): {"day_pl": -1600}}
    results.append(send(ENTRY_T2))
    accounts.firm_pl, accounts.program_pl = {}, {}
    results.append(send(EXIT_T1))
    accounts.ledger_down = True
    results.append(send(ENTRY_T3))
    accounts.ledger_down = False
    results.append(send(MFE_T1))
    return results


def run_scenario_over_http(app, client=None) -> list[dict[str, Any]]:
    """`run_scenario` posted through the app's webhook (Flask client), with the stub router installed."""
    client = client or app.test_client()
    router = install_stub_router(app)
    return run_scenario(router, send=lambda payload: post_json(client, WEBHOOK, payload))


def post_json(client_or_session, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = client_or_session.post(url, data=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text if hasattr(response, "text") else response.data
    return response.json() if callable(getattr(response, "json", None)) else response.get_json()


@dataclass
class FakeSwitch:
    """Stands in for issue 6's trading-state switch: get() and set(state, who, why)."""

    state: str = "ACTIVE"
    who: str | None = None
    why: str | None = None

    def get(self):
        return {"state": self.state, "who": self.who, "why": self.why}

    def set(self, state: str, who: str, why: str) -> None:
        self.state, self.who, self.why = state, who, why
