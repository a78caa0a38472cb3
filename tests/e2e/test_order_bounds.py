"""Bounded sizes end to end: a stop inside one tick sends nothing, and no order, dry-run or live,
exceeds MAX_CONTRACTS_PER_ORDER whatever the account size and the stop say."""
from __future__ import annotations

import pytest

from tests.conftest import STEP2_ENV
from tests.e2e.live_support import ENTRY, backend, by_firm, live_env, post, sim  # noqa: F401 (fixtures)

# The documented live TOPSTEP setup: only ACCOUNT_SIZE and RISK_PER_TRADE configured.
TOPSTEP_ONLY = {"ROUTE_TO_FIRMS": "TOPSTEP", "TOPSTEP_PROGRAM_IDS": "1",
                "TOPSTEP_1_ACCOUNT_SIZE": "50000", "TOPSTEP_1_RISK_PER_TRADE": "0.01"}
HAIR_STOP = dict(ENTRY, entry_price="16500.000001", stop_loss="16500")
ONE_TICK_STOP = dict(ENTRY, entry_price="16500.25", stop_loss="16500")  # 500 / (0.25 x 20) = 100 contracts


def _dry_run_client(make_app, **env: str):
    base = {k: "" for k in STEP2_ENV if k.startswith(("FTMO_", "APEX_"))}
    return make_app(**{**base, **TOPSTEP_ONLY, **env}).test_client()


def test_a_stop_inside_one_tick_sizes_nothing_in_dry_run(make_app):
    body = post(_dry_run_client(make_app), HAIR_STOP).get_json()
    (sizing,) = body["program_sizing"]
    assert (sizing["status"], sizing["contracts"], sizing["rule"]) == ("REJECTED", 0, "STOP_INSIDE_ONE_TICK")
    assert body["connector_results"] == [] and body["routed"] is False


def test_every_order_is_held_to_the_ceiling_in_dry_run(make_app):
    body = post(_dry_run_client(make_app), ONE_TICK_STOP).get_json()
    (sizing,) = body["program_sizing"]
    assert sizing["contracts"] == 20
    assert sizing["details"]["calculated_contracts"] == 100.0
    assert sizing["details"]["capped_by"] == "max_contracts_per_order"
    (result,) = body["connector_results"]
    assert result["details"]["contracts"] == 20
    lower = post(_dry_run_client(make_app, MAX_CONTRACTS_PER_ORDER="3"), dict(ONE_TICK_STOP, trade_id="T-2")).get_json()
    assert lower["connector_results"][0]["details"]["contracts"] == 3


@pytest.fixture
def live_topstep(make_app, sim):
    def factory(**overrides: str):
        return make_app(**live_env(sim.url, ROUTE_TO_FIRMS="TOPSTEP", **overrides)).test_client()
    return factory


def test_a_stop_inside_one_tick_sends_nothing_to_the_firm(live_topstep, sim):
    body = post(live_topstep(), HAIR_STOP).get_json()
    assert body["program_sizing"][0]["rule"] == "STOP_INSIDE_ONE_TICK"
    assert body["connector_results"] == []
    assert sim.orders_for("TOPSTEP") == []


def test_the_firm_never_receives_more_than_the_ceiling(live_topstep, sim):
    client = live_topstep(TOPSTEP_1_MAX_CONTRACTS="1000")  # the account's own cap is no protection
    body = post(client, ONE_TICK_STOP).get_json()
    assert by_firm(body["connector_results"])["TOPSTEP"]["status"] == "SUCCESS"
    (order,) = [o for o in sim.orders_for("TOPSTEP") if o["kind"] in ("OPEN", "ORDER")]
    assert order["quantity"] == 20 and order["body"]["size"] == 20
