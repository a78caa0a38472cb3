"""Paper never counts as money, and daily loss is on equity: a scripted day through the webhook
on SQLite and PostgreSQL, switching FTMO between dry-run and live on the same database.

The live router has a fake connector and snapshot provider that subclass the real bases
(tests/integration/test_account_state_live.py); the webhook, the router, the ledger and the
database are real. NQ is $20 a point; every entry is long 16500 with a 16475 stop: 2 contracts.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import text

from database import ExecutionRepository
from execution_router import ExecutionRouter
from account_engine.snapshots import AccountSnapshot
from tests.integration.test_account_state_live import FakeLiveConnector, FakeProvider

WEBHOOK = "/api/automated-signals/webhook"
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)  # 15:00 in Prague; FTMO's day began 23:00 UTC
ENV = dict(ROUTE_TO_FIRMS="FTMO", FTMO_MAX_DAILY_LOSS=None, FTMO_MAX_POSITION_SIZE="3")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)  # every event a distinct instant, in order
        return self.now


def post(client, payload):
    resp = client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def entry(client, trade_id):
    return post(client, {"event_type": "ENTRY", "trade_id": trade_id, "direction": "Bullish",
                         "entry_price": 16500, "stop_loss": 16475, "symbol": "NQ1!"})


def trade(client, trade_id, exit_price):
    opened = entry(client, trade_id)
    assert opened["program_sizing"][0]["contracts"] == 2, opened
    closed = post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": trade_id, "exit_price": exit_price})
    return closed["account_closes"][0]


def snapshot(desk, equity, open_pl):
    return AccountSnapshot(balance=Decimal(equity) - Decimal(open_pl), equity=Decimal(equity), open_pl=Decimal(open_pl),
                           taken_at=desk.clock.now)


class Desk:
    """One app whose FTMO is switched between dry-run and live (a new router on the same database)."""

    def __init__(self, make_app, make_settings, **env):
        self.env = {**ENV, **env}
        self.app = make_app(**self.env)
        self.make_settings, self.clock = make_settings, Clock()
        self.client = self.app.test_client()
        self.connector = None
        self.paper()

    def _install(self, router):
        self.app.extensions["execution_router"].close()
        self.app.extensions["execution_router"] = router

    def paper(self):
        settings = self.make_settings(**self.env)
        self._install(ExecutionRouter(settings=settings, repository=ExecutionRepository(self.app.extensions["db_engine"]),
                                      clock=self.clock))

    def live(self, provider=None):
        settings = self.make_settings(EXECUTION_DRY_RUN="false", **self.env)
        self.connector = FakeLiveConnector(settings.firms["FTMO"])
        self._install(ExecutionRouter(settings=settings, repository=ExecutionRepository(self.app.extensions["db_engine"]),
                                      connectors={"FTMO": self.connector}, clock=self.clock, snapshot_provider=provider))


def test_a_paper_profit_gives_the_live_account_no_room(make_app, make_settings):
    desk = Desk(make_app, make_settings)
    desk.live()
    assert trade(desk.client, "T1_LIVE_LOSS", 16480)["realized_pl"] == -800.0
    desk.paper()
    paper_win = trade(desk.client, "T2_PAPER_WIN", 16550)
    assert (paper_win["realized_pl"], paper_win["simulated"]) == (2000.0, True)
    desk.live()
    second = trade(desk.client, "T3_LIVE_LOSS", 16490)
    assert second["realized_pl"] == -400.0 and second["simulated"] is False
    blocked = entry(desk.client, "T4_LIVE")
    state, breach = blocked["account_states"][0], blocked["account_breaches"][0]
    assert (state["day_pl"], state["realized_pl"], state["simulated"]) == (-1200.0, -1200.0, False)
    assert breach["status"] == "REJECTED" and breach["reason"] == "Daily loss -1200.0 exceeds max_daily_loss 1000.0."
    assert [o.trade_id for o in desk.connector.sent] == ["T3_LIVE_LOSS", "T3_LIVE_LOSS"]  # T4 never sent
    desk.paper()  # the paper book sees the live closes too (the account it rehearses lost them)
    rehearsal = entry(desk.client, "T5_PAPER")
    assert rehearsal["account_states"][0]["day_pl"] == 800.0 and rehearsal["account_breaches"][0]["status"] == "APPROVED"


def test_a_paper_loss_and_open_paper_contracts_do_not_block_the_live_account(make_app, make_settings):
    desk = Desk(make_app, make_settings)
    trade(desk.client, "T1_PAPER_LOSS", 16470)  # -1200 on paper
    assert entry(desk.client, "T2_PAPER")["account_breaches"][0]["rule"] == "MAX_DAILY_LOSS"
    desk.live()
    live = entry(desk.client, "T3_LIVE")
    state = live["account_states"][0]
    assert (state["day_pl"], state["realized_pl"], state["simulated"]) == (0.0, 0.0, False)
    assert live["account_breaches"][0]["status"] == "APPROVED" and len(desk.connector.sent) == 1
    post(desk.client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": "T3_LIVE", "exit_price": 16500})

    desk.clock.now = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)  # FTMO's next day: paper may trade again
    desk.paper()
    held = entry(desk.client, "T4_PAPER_HELD")  # left open: 2 paper contracts
    assert held["program_sizing"][0]["contracts"] == 2
    desk.live()
    live = entry(desk.client, "T5_LIVE")
    # FTMO_MAX_POSITION_SIZE=3: with the 2 paper contracts counted, 2 more would not fit
    assert live["account_states"][0]["open_contracts"] == 0
    assert live["program_sizing"][0]["contracts"] == 2 and live["connector_results"][0]["status"] == "SUCCESS"
    with desk.app.extensions["db_engine"].begin() as conn:
        open_rows = conn.execute(text("SELECT trade_id, dry_run, contracts_open FROM trade_positions "
                                      "WHERE status = 'OPEN' ORDER BY id")).all()
    assert [(r.trade_id, bool(r.dry_run), r.contracts_open) for r in open_rows] == [
        ("T4_PAPER_HELD", True, 2), ("T5_LIVE", False, 2)]
    desk.paper()  # the paper book counts every open contract: 4, no room for 2 more under 3
    assert entry(desk.client, "T6_PAPER")["program_sizing"] == []


def test_daily_loss_counts_a_live_snapshots_open_loss_with_the_days_live_closes(make_app, make_settings):
    desk = Desk(make_app, make_settings)
    trade(desk.client, "T1_PAPER_LOSS", 16400)  # -4000 on paper: the live account never sees it
    desk.live()
    assert trade(desk.client, "T2_LIVE_LOSS", 16495)["realized_pl"] == -200.0
    desk.live(FakeProvider(snapshot(desk, "98900", "-900")))
    blocked = entry(desk.client, "T3_LIVE")
    state, breach = blocked["account_states"][0], blocked["account_breaches"][0]
    assert (state["source"], state["open_pl"], state["realized_pl"], state["day_pl"]) == ("SNAPSHOT", -900.0, -200.0, -1100.0)
    assert (state["equity"], state["total_pl"]) == (98900.0, -1100.0)
    assert breach["status"] == "REJECTED" and breach["reason"] == "Daily loss -1100.0 exceeds max_daily_loss 1000.0."
    assert desk.connector.sent == []
    desk.live(FakeProvider(snapshot(desk, "99850", "50")))  # the open position recovered: room again
    approved = entry(desk.client, "T4_LIVE")
    assert approved["account_states"][0]["day_pl"] == -150.0 and approved["account_breaches"][0]["status"] == "APPROVED"
    desk.clock.now = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)  # midnight in Prague: the day's closes drop out
    desk.live(FakeProvider(snapshot(desk, "98900", "-900")))
    next_day = entry(desk.client, "T5_LIVE")["account_states"][0]
    assert (next_day["day_pl"], next_day["trading_day_start"]) == (-900.0, "2026-03-10T23:00:00+00:00")


def test_reset_paper_through_the_cli_starts_a_clean_paper_account_and_leaves_live_alone(make_app, make_settings):
    desk = Desk(make_app, make_settings)
    desk.live()
    trade(desk.client, "T1_LIVE_LOSS", 16490)  # -400 live
    desk.paper()
    trade(desk.client, "T2_PAPER_LOSS", 16470)  # -1200 paper
    assert entry(desk.client, "T3_PAPER")["account_breaches"][0]["rule"] == "MAX_DAILY_LOSS"

    runner = desk.app.test_cli_runner()
    out = runner.invoke(args=["account", "reset-paper", "FTMO", "1", "--by", "alice", "--reason", "fresh rehearsal"])
    assert out.exit_code == 0, out.output
    assert "Recorded NEW_DAY (paper reset)" in out.output and "by alice: fresh rehearsal" in out.output
    with desk.app.extensions["db_engine"].begin() as conn:
        row = conn.execute(text("SELECT kind, amount, simulated, actor, reason FROM account_events ORDER BY id DESC")).first()
    assert (row.kind, row.amount, bool(row.simulated), row.actor, row.reason) == ("NEW_DAY", None, True, "alice", "fresh rehearsal")

    clean = entry(desk.client, "T4_PAPER")
    state = clean["account_states"][0]
    assert (state["realized_pl"], state["day_pl"], state["total_pl"], state["drawdown"]) == (0.0, 0.0, 0.0, 0.0)
    assert clean["account_breaches"][0]["status"] == "APPROVED"
    shown = json.loads(runner.invoke(args=["account", "show", "FTMO", "1"]).output)
    assert shown["account"]["realized_pl"] == 0.0 if "account" in shown else shown["realized_pl"] == 0.0

    desk.live()  # the reset never touched the live figures
    live = entry(desk.client, "T5_LIVE")["account_states"][0]
    assert (live["realized_pl"], live["day_pl"], live["trading_day_start"]) == (-400.0, -400.0, "2026-03-09T23:00:00+00:00")

    bad = runner.invoke(args=["account", "reset-paper", "FTMO", "9", "--reason", "x"])
    assert bad.exit_code == 2 and "program_id" in bad.output
    missing = runner.invoke(args=["account", "reset-paper", "FTMO", "1"])
    assert missing.exit_code == 2
