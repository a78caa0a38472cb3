"""The loss checks of a live account read the firm's own numbers: each connector's documented
account read (MetaApi accountInformation, Tradovate cash balance snapshot, ProjectX account
search), cached per account and refreshed in the background, with {FIRM}_SNAPSHOT_POLICY
deciding what an entry does when no fresh snapshot can be had. Through the webhook, against the
simulator over HTTP."""
from __future__ import annotations

import datetime as dt

import pytest

from account_service import utc_now
from tests.e2e.live_support import ENTRY, backend, by_firm, live_env, post, sim  # noqa: F401 (fixtures)


@pytest.fixture
def live_app(make_app, sim):  # noqa: F811
    def factory(**overrides: str):
        return make_app(**live_env(sim.url, **overrides))
    return factory


def _states(body):
    return {(s["firm_code"], s["program_id"]): s for s in body["account_states"]}


def _entry(n: int) -> dict:
    return dict(ENTRY, trade_id=f"SNAP_{n}")


def test_an_open_loss_at_the_firm_blocks_the_next_entry_on_the_firms_own_equity(live_app, sim, db):
    """FTMO's daily loss counts floating P&L: the firm reports equity 98,800 on a 100,000 balance,
    so the 1,000 daily limit is gone although our ledger has no closed trade."""
    client = live_app(ROUTE_TO_FIRMS="FTMO,APEX").test_client()
    sim.set_account("FTMO", "sim-mt5-1", balance=100000.0, equity=98800.0)
    sim.set_account("APEX", 201, balance=150000.0, open_pl=250.0)
    body = post(client, _entry(1)).get_json()
    ftmo, apex = _states(body)[("FTMO", 1)], _states(body)[("APEX", 1)]
    assert (ftmo["source"], ftmo["equity"], ftmo["open_pl"], ftmo["day_pl"]) == ("SNAPSHOT", 98800.0, -1200.0, -1200.0)
    assert ftmo["snapshot_age_seconds"] is not None and 0 <= ftmo["snapshot_age_seconds"] < 5
    assert (apex["source"], apex["equity"], apex["open_pl"]) == ("SNAPSHOT", 150250.0, 250.0)
    risk = {r["firm_code"]: r for r in body["risk_checks"]}
    assert risk["FTMO"]["status"] == "REJECTED" and risk["FTMO"]["rule"] == "MAX_DAILY_LOSS"
    assert [r["status"] for r in body["connector_results"]] == ["SUCCESS"]  # APEX only
    assert [o["firm"] for o in sim.orders] == ["APEX"]


def test_the_snapshot_is_reused_while_fresh_and_read_again_after_an_order_reached_the_account(live_app, sim, db):
    client = live_app(ROUTE_TO_FIRMS="FTMO").test_client()
    sim.set_account("FTMO", "sim-mt5-1", balance=100000.0, equity=98800.0)  # over the daily loss: nothing sent

    def reads():
        return len([path for _, path in sim.requests if path.endswith("/accountInformation")])

    post(client, _entry(1))
    post(client, _entry(2))
    assert reads() == 1 and sim.orders_for("FTMO") == []  # the second refused entry used the cached snapshot
    sim.set_account("FTMO", "sim-mt5-1", balance=100000.0, equity=100000.0)
    post(client, _entry(3))  # still the cached (losing) snapshot: refused
    assert reads() == 1 and sim.orders_for("FTMO") == []


def test_an_order_that_reached_the_account_makes_the_next_entry_read_it_again(live_app, sim, db):
    client = live_app(ROUTE_TO_FIRMS="FTMO").test_client()
    first = post(client, _entry(1)).get_json()
    assert first["connector_results"][0]["status"] == "SUCCESS"
    sim.set_account("FTMO", "sim-mt5-1", balance=100000.0, equity=98800.0)  # the fill went against us
    second = post(client, _entry(2)).get_json()
    assert _states(second)[("FTMO", 1)]["equity"] == 98800.0  # read again, not the pre-fill snapshot
    assert second["risk_checks"][0]["status"] == "REJECTED"


@pytest.mark.parametrize("policy, source, approved", [("BLOCK", "BLOCKED", False), ("LEDGER", "LEDGER_FALLBACK", True)])
def test_an_account_read_that_fails_follows_the_snapshot_policy(live_app, sim, db, policy, source, approved):
    client = live_app(ROUTE_TO_FIRMS="FTMO", FTMO_SNAPSHOT_POLICY=policy).test_client()
    sim.set_faults("FTMO", latency=1.5)  # longer than an entry may wait for its account read
    body = post(client, _entry(1)).get_json()
    ftmo = _states(body)[("FTMO", 1)]
    assert ftmo["source"] == source and "snapshot failed" in ftmo["snapshot_problem"]
    breach = body["account_breaches"][0]
    if approved:
        assert breach["status"] == "APPROVED"
    else:
        assert (breach["status"], breach["rule"]) == ("ERROR", "ACCOUNT_SNAPSHOT_UNAVAILABLE")
        assert body["connector_results"] == [] and sim.orders_for("FTMO") == []


def test_a_stale_snapshot_is_not_trusted(live_app, sim, db):
    """The cached snapshot is older than FTMO_SNAPSHOT_MAX_AGE_SECONDS by the router's clock."""
    app = live_app(ROUTE_TO_FIRMS="FTMO", FTMO_SNAPSHOT_MAX_AGE_SECONDS="60")
    client = app.test_client()
    post(client, _entry(1))  # caches a snapshot
    router = app.extensions["execution_router"]
    router.clock = lambda: utc_now() + dt.timedelta(seconds=120)
    body = post(client, _entry(2)).get_json()
    ftmo = _states(body)[("FTMO", 1)]
    assert ftmo["source"] == "BLOCKED" and "stale" in ftmo["snapshot_problem"]
    assert ftmo["snapshot_age_seconds"] >= 119


def test_a_topstep_account_with_an_open_position_has_no_rest_equity(live_app, sim, db):
    """ProjectX positions carry no profit and its REST API no quote: the equity is known only
    while the account is flat, so the second entry follows the policy (here BLOCK)."""
    client = live_app(ROUTE_TO_FIRMS="TOPSTEP").test_client()
    first = post(client, _entry(1)).get_json()
    assert _states(first)[("TOPSTEP", 1)]["source"] == "SNAPSHOT"
    assert by_firm(first["connector_results"])["TOPSTEP"]["status"] == "SUCCESS"
    second = post(client, _entry(2)).get_json()
    state = _states(second)[("TOPSTEP", 1)]
    assert state["source"] == "BLOCKED" and "no open P&L over REST" in state["snapshot_problem"]
    assert second["connector_results"] == []


def test_an_account_holding_a_position_costs_the_firm_one_read_per_entry(live_app, sim, db):
    """No balance is asked for an account that cannot be priced anyway, and the firm-wide
    background refresh is not brought forward for it: rereading changes nothing while the
    position is open (ProjectX answers, it simply has no open P&L over REST)."""
    app = live_app(ROUTE_TO_FIRMS="TOPSTEP", TOPSTEP_SNAPSHOT_POLICY="LEDGER")
    client = app.test_client()
    assert by_firm(post(client, _entry(1)).get_json()["connector_results"])["TOPSTEP"]["status"] == "SUCCESS"
    job = app.extensions["execution_router"].snapshot_provider._scheduler.get_job("snapshot-TOPSTEP")
    regular_run = job.next_run_time
    sent = len(sim.requests)
    second = post(client, dict(_entry(2), trade_id="SNAP_2", action="buy")).get_json()
    assert _states(second)[("TOPSTEP", 1)]["source"] == "LEDGER_FALLBACK"
    reads = [path for _, path in sim.requests[sent:] if path in ("/api/Position/searchOpen", "/api/Account/search")]
    assert reads == ["/api/Position/searchOpen"]
    assert job.next_run_time == regular_run


def test_the_background_refresh_keeps_entries_off_the_firms_clock(live_app, sim, db):
    """The job the scheduler runs every half FTMO_SNAPSHOT_MAX_AGE_SECONDS: after it, an entry
    needs no account read of its own."""
    app = live_app(ROUTE_TO_FIRMS="FTMO", FTMO_SNAPSHOT_MAX_AGE_SECONDS="60")
    provider = app.extensions["execution_router"].snapshot_provider
    jobs = {job.id: job.trigger.interval.total_seconds() for job in provider._scheduler.get_jobs()}
    assert jobs == {"snapshot-FTMO": 30.0}
    provider.refresh("FTMO")
    reads = len([p for _, p in sim.requests if p.endswith("/accountInformation")])
    body = post(app.test_client(), _entry(1)).get_json()
    assert _states(body)[("FTMO", 1)]["source"] == "SNAPSHOT"
    assert len([p for _, p in sim.requests if p.endswith("/accountInformation")]) == reads == 1


def test_the_first_entry_after_start_gets_the_firms_figures_through_its_login(live_app, sim, db):
    """A firm 100 ms away: the first read logs in, lists the accounts and reads the snapshot
    (three calls), longer than an entry's usual 0.25 s read. The first entry after a start still
    gets the firm's own figures instead of being blocked; later reads need the snapshot call only."""
    sim.set_faults("APEX", latency=0.1)
    client = live_app(ROUTE_TO_FIRMS="APEX", APEX_SNAPSHOT_MAX_AGE_SECONDS="2").test_client()
    first = post(client, _entry(1)).get_json()
    assert _states(first)[("APEX", 1)]["source"] == "SNAPSHOT"
    assert by_firm(first["connector_results"])["APEX"]["status"] == "SUCCESS"
    second = post(client, _entry(2)).get_json()  # the order dropped the snapshot: read again, warm
    assert _states(second)[("APEX", 1)]["source"] == "SNAPSHOT"
    sim.set_faults("APEX", latency=0.35)  # one call now outlasts an entry's usual 0.25 s read
    third = post(client, _entry(3)).get_json()
    assert _states(third)[("APEX", 1)]["source"] == "BLOCKED"  # the longer budget was the first read's only
