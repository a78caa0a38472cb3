"""The account guard on live accounts, against the simulator over HTTP (PostgreSQL): it acts on the
firm's own numbers (a snapshot refresh), flattens through the connector with a journalled exit,
acts once however many service instances see the breach, and a restart finishes a flattening
that a stopped service left half done.

APEX 1 (Step 2: $150,000, 1% risk, MAX_DAILY_LOSS 1500, 3 NQ contracts on a 25-point stop) with
APEX_1_GUARD_BUFFER=300: Tradovate's cash balance snapshot reporting open P&L -1,250 leaves 250 of
room, inside the buffer.
"""
from __future__ import annotations

import threading

from sqlalchemy import text

from tests.e2e.live_support import ENTRY, backend, by_firm, live_env, post, sim  # noqa: F401 (fixtures)
from domain.account_guard import GuardTrigger


def live_guarded(make_app, sim, **overrides):
    app = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="APEX", APEX_1_GUARD_BUFFER="300", **overrides))
    app.extensions["execution_router"].reconcile_min_age = 0.0
    return app


def closes(sim):
    return [o for o in sim.orders_for("APEX") if o["kind"] == "CLOSE"]


def trips(db):
    return db.execute(text("SELECT firm_code, program_id, simulated, triggered_by, rule, room, source, status, outcome "
                           "FROM account_guard_trips ORDER BY id")).all()


def test_a_losing_snapshot_flattens_the_live_account_through_tradovate(make_app, sim, db):
    app = live_guarded(make_app, sim)
    client = app.test_client()
    opened = by_firm(post(client, ENTRY).get_json()["connector_results"])["APEX"]
    assert opened["status"] == "SUCCESS" and sim.tradovate_net
    sim.set_account("APEX", 201, balance=150000.0, open_pl=-1250.0)

    app.extensions["execution_router"].snapshot_provider.refresh("APEX")  # the background job's run

    [trip] = trips(db)
    assert (trip.firm_code, trip.simulated, trip.triggered_by, trip.rule, float(trip.room), trip.source, trip.status) == (
        "APEX", False, "SNAPSHOT", "MAX_DAILY_LOSS", 250.0, "SNAPSHOT", "DONE")
    [exit_outcome] = trip.outcome
    assert exit_outcome["status"] == "SUCCESS"
    [close] = closes(sim)
    assert (close["account"], close["side"], close["quantity"]) == (201, "SELL", 3)
    assert all(net == 0 for net in sim.tradovate_net.values())
    journal = db.execute(text("SELECT action, status FROM connector_orders ORDER BY id")).all()
    assert [(r.action, r.status) for r in journal] == [("ENTRY", "SUCCESS"), ("EXIT", "SUCCESS")]
    position = db.execute(text("SELECT status, contracts_open FROM trade_positions")).one()
    assert (position.status, position.contracts_open) == ("CLOSED", 0)

    sim.set_account("APEX", 201, balance=148750.0, open_pl=0.0)
    refused = by_firm(post(client, dict(ENTRY, trade_id="AFTER_GUARD")).get_json()["connector_results"])["APEX"]
    assert (refused["status"], refused["reason"]) == ("SKIPPED", "ACCOUNT_GUARD_REDUCING")
    assert len([o for o in sim.orders_for("APEX") if o["kind"] != "CLOSE"]) == 1  # nothing new reached the firm


def test_two_instances_seeing_the_breach_at_once_send_one_exit(make_app, sim, db):
    first, second = live_guarded(make_app, sim), live_guarded(make_app, sim)
    post(first.test_client(), ENTRY)
    sim.set_account("APEX", 201, balance=150000.0, open_pl=-1250.0)
    for app in (first, second):  # both read the firm afresh (the entry's own check cached the pre-loss snapshot)
        app.extensions["execution_router"].snapshot_provider.forget("APEX", 1)
    guards = [app.extensions["execution_router"].account_guard for app in (first, second)]
    start = threading.Barrier(2)
    results = []

    def check(guard):
        start.wait()
        results.append(guard.check("APEX", 1, GuardTrigger.SNAPSHOT))

    threads = [threading.Thread(target=check, args=(g,)) for g in guards]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len([r for r in results if r is not None]) == 1
    assert len(trips(db)) == 1 and len(closes(sim)) == 1


def test_a_restart_finishes_a_flattening_the_stopped_service_left_half_done(make_app, sim, db):
    app = live_guarded(make_app, sim)
    post(app.test_client(), ENTRY)
    sim.set_account("APEX", 201, balance=150000.0, open_pl=-1250.0)
    guard = app.extensions["execution_router"].account_guard
    guard.flatten = lambda trip: trip  # the service stops right after recording the trip
    app.extensions["execution_router"].snapshot_provider.forget("APEX", 1)
    assert guard.check("APEX", 1, GuardTrigger.SNAPSHOT) is not None
    assert [t.status for t in trips(db)] == ["FLATTENING"] and closes(sim) == []

    live_guarded(make_app, sim)  # the next start

    assert [t.status for t in trips(db)] == ["DONE"]
    assert len(closes(sim)) == 1 and all(net == 0 for net in sim.tradovate_net.values())
    live_guarded(make_app, sim)  # and once more: nothing is left to do, nothing is sent twice
    assert len(closes(sim)) == 1
