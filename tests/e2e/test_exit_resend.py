"""Resending an exit that did not get through: it runs again where it failed, and only there.

The README tells a trader whose exit failed (a rate limit, a penalty, trading HALTED) to resend
it. Idempotency must not turn that resend into the stale failure while the position stays open
at the firm, and must not let it close a second part where the first attempt already filled.
"""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text, update

from database.tables import execution_logs

from tests.conftest import GUIDE_PAYLOAD
from tests.e2e.live_support import ENTRY, EXIT, by_firm, live_env, post, sim  # noqa: F401 (fixture)

WEBHOOK = "/api/automated-signals/webhook"
DRY_EXIT = {"event_type": "EXIT_STOP_LOSS", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_price": 16475.0}


def _post(client, payload):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json").get_json()


def _set_state(app, state: str) -> None:
    result = app.test_cli_runner().invoke(args=["trading-state", state])
    assert result.exit_code == 0, result.output


def _open(db) -> dict[str, int]:
    return {r.firm_code: r.contracts_open for r in db.execute(text(
        "SELECT firm_code, contracts_open FROM trade_positions ORDER BY firm_code")).all()}


def _pl_rows(db) -> int:
    return db.execute(text("SELECT COUNT(*) FROM account_events WHERE kind = 'CLOSE'")).scalar_one()


# --- dry-run: an exit refused while HALTED, resent after ACTIVE (both databases) -------------
def test_an_exit_refused_while_halted_runs_when_resent_after_active(app, client, db):
    _post(client, GUIDE_PAYLOAD)
    _set_state(app, "HALTED")
    refused = _post(client, DRY_EXIT)
    assert {r["reason"] for r in refused["connector_results"]} == {"TRADING_HALTED"}
    assert _open(db) == {"APEX": 3, "FTMO": 2}

    still_halted = _post(client, DRY_EXIT)  # a resend while HALTED is refused again, not "duplicate"
    assert {r["reason"] for r in still_halted["connector_results"]} == {"TRADING_HALTED"}
    assert still_halted.get("duplicate") is not True and still_halted["retry_of"] == refused["task_id"]

    _set_state(app, "ACTIVE")
    resent = _post(client, DRY_EXIT)
    assert resent.get("duplicate") is not True
    assert resent["retry_of"] == still_halted["task_id"]
    assert {r["reason"] for r in resent["connector_results"]} == {"GLOBAL_DRY_RUN_ENABLED"}
    assert _open(db) == {"APEX": 0, "FTMO": 0}
    assert _pl_rows(db) == 2  # one P&L row per position, never two

    again = _post(client, DRY_EXIT)  # everything got through: a plain duplicate now
    assert again["duplicate"] is True and again["task_id"] == resent["task_id"]
    assert _open(db) == {"APEX": 0, "FTMO": 0} and _pl_rows(db) == 2


def test_a_done_exit_is_still_a_duplicate(client, db):
    _post(client, GUIDE_PAYLOAD)
    first = _post(client, DRY_EXIT)
    again = _post(client, DRY_EXIT)
    assert again["duplicate"] is True and again["task_id"] == first["task_id"]
    assert "retry_of" not in again and _pl_rows(db) == 2


# --- live against the simulator ----------------------------------------------------------------
@pytest.fixture
def live_client(make_app, sim):
    def factory(**overrides: str):
        app = make_app(**live_env(sim.url, **overrides))
        app.extensions["execution_router"].reconcile_min_age = 0.0
        return app, app.test_client()
    return factory


def _clear_rate_limit(client, firm: str) -> None:
    """The firm's Retry-After has passed (the connector honours it until then, sending nothing)."""
    client.application.extensions["execution_router"].connectors[firm].http.blocked_until = 0.0


def _at_once(count: int, send) -> list[dict]:
    answers: list[dict] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        answers.append(send())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == count
    return answers


def _closes(sim, firm):
    return [o for o in sim.orders_for(firm) if o["kind"] == "CLOSE"]


def test_an_exit_rate_limited_at_one_firm_is_resent_there_only(live_client, sim, db):
    _, client = live_client()
    post(client, ENTRY)
    sim.set_faults("APEX", rate_limit=1, retry_after=5)  # longer than the request may wait
    first = post(client, EXIT).get_json()
    assert {f: r["status"] for f, r in by_firm(first["connector_results"]).items()} == {
        "FTMO": "SUCCESS", "APEX": "FAILED", "TOPSTEP": "SUCCESS"}
    assert _open(db)["APEX"] == 3 and len(_closes(sim, "APEX")) == 0

    _clear_rate_limit(client, "APEX")
    resent = post(client, EXIT).get_json()
    assert resent.get("duplicate") is not True and resent["retry_of"] == first["task_id"]
    assert resent["retried_parts"] == [{"firm_code": "APEX", "program_id": 1}]
    assert [(r["firm_code"], r["status"]) for r in resent["connector_results"]] == [("APEX", "SUCCESS")]
    assert [len(_closes(sim, f)) for f in ("FTMO", "APEX", "TOPSTEP")] == [1, 1, 1]
    assert _open(db) == {"APEX": 0, "FTMO": 0, "TOPSTEP": 0}
    assert list(sim.tradovate_net.values()) == [0]

    again = post(client, EXIT).get_json()
    assert again["duplicate"] is True and again["task_id"] == resent["task_id"]
    assert [len(_closes(sim, f)) for f in ("FTMO", "APEX", "TOPSTEP")] == [1, 1, 1]


def test_a_resent_partial_exit_closes_no_second_part_where_the_first_filled(live_client, sim, db):
    _, client = live_client(ROUTE_TO_FIRMS="APEX,TOPSTEP", TOPSTEP_1_ACCOUNT_SIZE="150000")
    post(client, ENTRY)  # APEX 3, TOPSTEP 3
    partial = dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1, exit_price=16480.0)
    sim.set_faults("TOPSTEP", rate_limit=1, retry_after=5)
    first = post(client, partial).get_json()
    assert {f: r["status"] for f, r in by_firm(first["connector_results"]).items()} == {
        "APEX": "SUCCESS", "TOPSTEP": "FAILED"}
    assert _open(db) == {"APEX": 2, "TOPSTEP": 3}
    _clear_rate_limit(client, "TOPSTEP")
    resent = post(client, partial).get_json()
    assert [(r["firm_code"], r["status"]) for r in resent["connector_results"]] == [("TOPSTEP", "SUCCESS")]
    assert _open(db) == {"APEX": 2, "TOPSTEP": 2}  # one contract off each, once
    assert list(sim.tradovate_net.values()) == [2]  # APEX: bought 3, sold 1 once
    assert [(o["kind"], o["quantity"]) for o in sim.orders_for("TOPSTEP")][1:] == [("CLOSE", 1), ("MODIFY", 2)]  # stop cut to 2


def test_an_exit_reconciliation_found_missing_at_the_firm_is_resent(live_client, sim, db):
    app, client = live_client(ROUTE_TO_FIRMS="APEX")
    post(client, ENTRY)
    sim.set_faults("APEX", fail_5xx=1)  # answered 5xx, not processed: the outcome is UNKNOWN
    first = post(client, EXIT).get_json()
    assert first["connector_results"][0]["status"] == "UNKNOWN"
    resent = post(client, EXIT).get_json()  # reconciles first: not at the firm, so it runs again
    assert resent["retry_of"] == first["task_id"]
    assert resent["connector_results"][0]["status"] == "SUCCESS"
    assert len(_closes(sim, "APEX")) == 1 and list(sim.tradovate_net.values()) == [0]
    assert _open(db) == {"APEX": 0}


def test_an_unknown_exit_that_reached_the_firm_is_not_sent_again(live_client, sim, db):
    app, client = live_client(ROUTE_TO_FIRMS="APEX")
    post(client, ENTRY)
    sim.set_faults("APEX", hang=1, hang_seconds=4.0)  # processed, answered after the deadline
    first = post(client, EXIT).get_json()
    assert first["connector_results"][0]["status"] == "UNKNOWN"
    resent = post(client, EXIT).get_json()
    assert resent["connector_results"] == []  # reconciliation found it filled: nothing to resend
    assert len(_closes(sim, "APEX")) == 1 and list(sim.tradovate_net.values()) == [0]
    assert _open(db) == {"APEX": 0}


def test_concurrent_resends_of_a_failed_exit_run_once(live_client, sim, db):
    app, _ = live_client(ROUTE_TO_FIRMS="APEX")
    post(app.test_client(), ENTRY)
    sim.set_faults("APEX", rate_limit=1, retry_after=5)
    assert post(app.test_client(), EXIT).get_json()["connector_results"][0]["status"] == "FAILED"
    _clear_rate_limit(app.test_client(), "APEX")
    answers = _at_once(6, lambda: post(app.test_client(), EXIT).get_json())
    assert len(_closes(sim, "APEX")) == 1 and list(sim.tradovate_net.values()) == [0]
    ran = {a["task_id"] for a in answers if not a.get("duplicate")}
    assert len(ran) == 1  # one resend ran; the others answered with its result



def test_copies_of_a_resend_that_fails_again_do_not_each_run_again(live_client, sim, db):
    """Copies that arrive while a resend runs are that resend, even when it fails again: they
    get its answer instead of starting one attempt each against a firm that refuses."""
    app, _ = live_client(ROUTE_TO_FIRMS="APEX")
    post(app.test_client(), ENTRY)
    sim.set_faults("APEX", rate_limit=1, retry_after=5)
    assert post(app.test_client(), EXIT).get_json()["connector_results"][0]["status"] == "FAILED"
    _clear_rate_limit(app.test_client(), "APEX")
    sim.set_faults("APEX", latency=0.6, rate_limit=1, retry_after=5)  # the resend is refused too, slowly
    tasks_before = db.execute(text("SELECT COUNT(*) FROM execution_tasks")).scalar_one()
    answers = _at_once(6, lambda: post(app.test_client(), EXIT).get_json())
    assert db.execute(text("SELECT COUNT(*) FROM execution_tasks")).scalar_one() == tasks_before + 1
    assert len({a["task_id"] for a in answers}) == 1
    assert all(a["connector_results"][0]["reason"] == "RATE_LIMITED" for a in answers)
    assert _open(db) == {"APEX": 3} and len(_closes(sim, "APEX")) == 0


def test_a_resend_attempt_recovered_after_a_crash_still_runs_only_where_it_failed(app, client, db):
    """A worker died during the resend of a partial exit (its task left PENDING): recovery re-runs
    it as the resend it was, so the firm where the first attempt filled loses no second part."""
    from safety.idempotency import derive_key, retry_key
    from safety.recovery import recover_stuck_tasks
    from signals import parse_signal

    _post(client, GUIDE_PAYLOAD)  # FTMO 2, APEX 3
    partial = {"event_type": "EXIT_PARTIAL", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_contracts": 1,
               "exit_price": 16480.0}
    _set_state(app, "HALTED")
    first = _post(client, partial)  # refused at both firms
    _set_state(app, "ACTIVE")
    router = app.extensions["execution_router"]
    # as if the first attempt had filled at FTMO: its stored outcome there is a dry-run success
    body = dict(first, connector_results=[dict(r, reason="GLOBAL_DRY_RUN_ENABLED") if r["firm_code"] == "FTMO" else r
                                          for r in first["connector_results"]])
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(execution_logs).where(execution_logs.c.task_id == first["task_id"])
                           .values(response_body=body))
    key = retry_key(derive_key(parse_signal(partial), partial, None), first["task_id"])
    stuck = router.repository.create_task(partial["trade_id"], "EXIT_PARTIAL", partial, idempotency_key=key)
    (summary,) = [s for s in recover_stuck_tasks(router, 0) if s["task_id"] == stuck]
    assert summary["outcome"] == "RERUN"
    assert _open(db) == {"APEX": 2, "FTMO": 2}  # only APEX, where the first attempt was refused
    recovered = router.repository.get_log_for_task(stuck)["response_body"]
    assert recovered["retry_of"] == first["task_id"] and recovered["recovered"] is True
