"""ROUTES: the routing table is a pure function of the signal and the settings; start-up refuses
a rule that names anything not configured, naming it."""
from __future__ import annotations

import pytest

from config import ConfigError, RuleBook, get_routing_rules_for_task, parse_settings
from config.routes import Route, RouteTarget
from routing.entry_plan import plan_entry
from signals import parse_signal
from tests.conftest import GUIDE_PAYLOAD, STEP2_ENV
from tests.unit.test_route_planning import _accounts

# FTMO programs 1 and 2, APEX program 1
THREE_PROGRAMS = dict(STEP2_ENV, FTMO_PROGRAM_IDS="1,2", FTMO_2_ACCOUNT_SIZE="50000", FTMO_2_RISK_PER_TRADE="0.01")
ROUTES = "strategy:NQ_FVG_CORE=FTMO.1,APEX.1; symbol:ES=FTMO.2; strategy:scalp_*=APEX.1"


def settings(routes: str = ROUTES, **env: str):
    return parse_settings(dict(THREE_PROGRAMS, ROUTES=routes, **env))


def route(strategy: str | None = None, symbol: str = "NQ", routes: str = ROUTES) -> Route:
    payload = dict(GUIDE_PAYLOAD, symbol=symbol)
    if strategy is not None:
        payload["strategy_name"] = strategy
    return RuleBook(settings(routes)).routes_for(parse_signal(payload))


@pytest.mark.parametrize(("strategy", "symbol", "rule", "targets"), [
    ("NQ_FVG_CORE", "NQ", "strategy:NQ_FVG_CORE", ["FTMO.1", "APEX.1"]),
    ("nq_fvg_core", "NQ", "strategy:NQ_FVG_CORE", ["FTMO.1", "APEX.1"]),  # case-insensitive
    (" NQ_FVG_CORE ", "NQ", "strategy:NQ_FVG_CORE", ["FTMO.1", "APEX.1"]),
    ("NQ_FVG_CORE", "ES", "strategy:NQ_FVG_CORE", ["FTMO.1", "APEX.1"]),  # the first matching rule wins
    ("OTHER", "ES", "symbol:ES", ["FTMO.2"]),
    (None, "CME_MINI:ES1!", "symbol:ES", ["FTMO.2"]),  # the resolved root
    (None, "ESZ2025", "symbol:ES", ["FTMO.2"]),
    (None, "MES1!", None, ["FTMO.1", "FTMO.2", "APEX.1"]),  # MES is its own root
    ("SCALP_NQ", "NQ", "strategy:scalp_*", ["APEX.1"]),  # `*` as a wildcard
    ("scalp_", "NQ", "strategy:scalp_*", ["APEX.1"]),
    ("my_scalp_nq", "NQ", None, ["FTMO.1", "FTMO.2", "APEX.1"]),  # the whole name must match
    ("NQ_FVG_CORE_2", "NQ", None, ["FTMO.1", "FTMO.2", "APEX.1"]),
    (None, "NQ", None, ["FTMO.1", "FTMO.2", "APEX.1"]),  # no rule: ROUTE_TO_FIRMS, every program
    ("", "NQ", None, ["FTMO.1", "FTMO.2", "APEX.1"]),
])
def test_the_first_matching_rule_wins_and_no_match_goes_to_every_routed_program(strategy, symbol, rule, targets):
    chosen = route(strategy, symbol)
    assert chosen.to_dict() == {"rule": rule, "targets": targets}


def test_a_route_groups_programs_by_firm_in_the_order_named():
    chosen = route("X", routes="strategy:X=APEX.1,FTMO.2,FTMO.1")
    assert chosen.firm_codes == ("APEX", "FTMO")
    assert chosen.program_ids == {"APEX": (1,), "FTMO": (2, 1)}


def test_a_lone_star_matches_any_named_strategy_but_not_a_signal_without_one():
    assert route("anything", routes="strategy:*=APEX.1").rule == "strategy:*"
    assert route(None, routes="strategy:*=APEX.1").rule is None


def test_without_routes_every_signal_goes_to_route_to_firms():
    plain = RuleBook(parse_settings(THREE_PROGRAMS)).routes_for(parse_signal(dict(GUIDE_PAYLOAD, strategy_name="A")))
    assert plain.to_dict() == {"rule": None, "targets": ["FTMO.1", "FTMO.2", "APEX.1"]}


def test_each_route_is_built_once_per_settings():
    book = RuleBook(settings())
    signal = parse_signal(dict(GUIDE_PAYLOAD, strategy_name="NQ_FVG_CORE"))
    assert book.routes_for(signal) is book.routes_for(parse_signal(dict(GUIDE_PAYLOAD, strategy_name="nq_fvg_core")))


def test_the_guides_routing_function_answers_per_payload():
    s = settings()
    assert get_routing_rules_for_task({"strategy_name": "NQ_FVG_CORE", "symbol": "NQ"}, s) == (
        ["FTMO", "APEX"], {"program_ids": {"FTMO": [1], "APEX": [1]}, "rule": "strategy:NQ_FVG_CORE"})
    assert get_routing_rules_for_task({"symbol": "ES1!"}, s) == (
        ["FTMO"], {"program_ids": {"FTMO": [2]}, "rule": "symbol:ES"})
    assert get_routing_rules_for_task(None, s) == (
        ["FTMO", "APEX"], {"program_ids": {"FTMO": [1, 2], "APEX": [1]}, "rule": None})


def test_an_entry_lists_only_the_firms_and_programs_its_route_selected():
    s = settings()
    es = parse_signal(dict(GUIDE_PAYLOAD, symbol="ES", entry_price=5000, stop_loss=4990))
    plan = plan_entry(es, RuleBook(s), 3, _accounts(s))
    assert plan.route.rule == "symbol:ES"
    assert [r.firm_code for r in plan.risk_checks] == ["FTMO"]
    assert [(v.firm_code, v.program_id) for v in plan.program_sizing] == [("FTMO", 2)]
    assert [(v.firm_code, v.program_id) for v in plan.account_breaches] == [("FTMO", 2)]
    assert [(v.state.firm_code, v.state.program_id) for v in plan.account_states] == [("FTMO", 2)]
    assert [(o.firm_code, o.program_id, o.contracts) for o in plan.orders] == [("FTMO", 2, 1)]  # $500 / (10 x $50)


@pytest.mark.parametrize(("routes", "problem"), [
    ("strategy:A=TOPSTEP.1", "ROUTES: TOPSTEP.1 in rule 'strategy:A=TOPSTEP.1' is not configured: "
                             "TOPSTEP is not in ROUTE_TO_FIRMS"),
    ("strategy:A=FTMO.3", "ROUTES: FTMO.3 in rule 'strategy:A=FTMO.3' is not configured: FTMO_PROGRAM_IDS lists 1, 2"),
    ("symbol:ES=NOPE.1", "ROUTES: NOPE.1 in rule 'symbol:ES=NOPE.1': unknown firm 'NOPE'; known firms: "
                         "FTMO, APEX, TOPSTEP, BULENOX, LEELOO"),
    ("strategy:A=FTMO", "ROUTES: 'FTMO' in rule 'strategy:A=FTMO' must be FIRM.PROGRAM, such as FTMO.1"),
    ("strategy:A=FTMO.1,", "ROUTES: '' in rule 'strategy:A=FTMO.1,' must be FIRM.PROGRAM, such as FTMO.1"),
    ("strategy:A=FTMO.1,ftmo.1", "ROUTES: rule 'strategy:A=FTMO.1,ftmo.1' lists FTMO.1 twice"),
    ("symbol:XYZ=FTMO.1", "ROUTES: rule 'symbol:XYZ=FTMO.1': 'XYZ' is not a futures root; known roots: "
                          "NQ, MNQ, ES, MES, YM, MYM, RTY, M2K, CL, MCL, GC, MGC"),
    ("ticker:NQ=FTMO.1", "ROUTES: rule 'ticker:NQ=FTMO.1' must be strategy:NAME=FIRM.PROGRAM,... or "
                         "symbol:ROOT=FIRM.PROGRAM,..."),
    ("strategy:=FTMO.1", "ROUTES: rule 'strategy:=FTMO.1' must be strategy:NAME=FIRM.PROGRAM,... or "
                         "symbol:ROOT=FIRM.PROGRAM,..."),
    ("strategy:A FTMO.1", "ROUTES: rule 'strategy:A FTMO.1' must be strategy:NAME=FIRM.PROGRAM,... or "
                          "symbol:ROOT=FIRM.PROGRAM,..."),
    ("strategy:A=FTMO.1; STRATEGY:a=APEX.1", "ROUTES: rule 'STRATEGY:a=APEX.1' matches the same signals as an "
                                             "earlier rule, which always wins: remove one"),
])
def test_start_up_refuses_a_rule_naming_what_is_wrong(routes, problem):
    with pytest.raises(ConfigError) as info:
        settings(routes)
    assert info.value.problems == [problem]


def test_every_bad_rule_is_reported_at_once_and_empty_rules_are_ignored():
    with pytest.raises(ConfigError) as info:
        settings("strategy:A=FTMO.9;; symbol:ES=TOPSTEP.1;")
    assert [p.split(" in rule")[0] for p in info.value.problems] == ["ROUTES: FTMO.9", "ROUTES: TOPSTEP.1"]
    assert settings("strategy:A=FTMO.1;").routes[0].targets == (RouteTarget("FTMO", 1),)
