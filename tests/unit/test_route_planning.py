"""The router's planning stages are pure: signal + settings + account states in, every verdict and
order out, with no database, clock or connector. These are the decisions a trader's money rests on."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from account_engine.snapshots import SOURCE_BLOCKED
from account_service import AccountService, AccountView, FirmAccounts
from config import RuleBook, parse_settings
from database import PositionRecord
from routing.entry_plan import plan_entry
from routing.exit_plan import plan_exit
from signals import parse_signal
from tests.conftest import GUIDE_PAYLOAD, STEP2_ENV

NOW = dt.datetime(2025, 11, 22, 14, 30, tzinfo=dt.timezone.utc)


def _accounts(settings, firm_pl=None, program_pl=None, open_contracts=0, blocked=()):
    """Every routed firm's accounts as the entry's one read would give them (empty ledgers)."""
    service = AccountService(settings, ledger=None)  # type: ignore[arg-type] - views from given events only
    out = {}
    for code in settings.route_to_firms:
        views = {}
        for pid in settings.firms[code].program_ids:
            view = service.view_from(code, pid, events=[], open_contracts=0, now=NOW)
            if (code, pid) in blocked:
                view = AccountView(view.state, SOURCE_BLOCKED, "snapshot is 90 s old")
            views[pid] = view
        out[code] = FirmAccounts(
            open_contracts=open_contracts, views=views,
            firm_metrics=(firm_pl or {}).get(code, service.metrics_for_firm(code, views)),
            program_metrics={pid: (program_pl or {}).get((code, pid), service.metrics_for_program(code, pid, v))
                             for pid, v in views.items()},
        )
    return out


def test_the_guide_signal_plans_two_orders_sized_by_risk():
    settings = parse_settings(STEP2_ENV)
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 7, _accounts(settings))
    assert [(o.firm_code, o.program_id, o.contracts, o.side) for o in plan.orders] == [
        ("FTMO", 1, 2, "BUY"), ("APEX", 1, 3, "BUY")]  # $1,000 / $500 and $1,500 / $500 per contract
    assert all(o.client_order_id.startswith(f"ER-7-{o.firm_code[:4]}1-E-") for o in plan.orders)
    assert [r.status for r in plan.risk_checks + plan.program_sizing + plan.account_breaches] == ["APPROVED"] * 6
    assert [v.source for v in plan.account_states] == ["LEDGER", "LEDGER"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.orders = ()  # type: ignore[misc]


def test_a_firm_over_its_daily_loss_gets_no_sizing_and_no_order():
    settings = parse_settings(STEP2_ENV)
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1,
                      _accounts(settings, firm_pl={"FTMO": {"day_pl": Decimal("-1200")}}))
    assert [(r.firm_code, r.status) for r in plan.risk_checks] == [("FTMO", "REJECTED"), ("APEX", "APPROVED")]
    assert [s.firm_code for s in plan.program_sizing] == ["APEX"]
    assert [o.firm_code for o in plan.orders] == ["APEX"]


def test_an_account_over_its_breach_limit_is_sized_but_not_ordered():
    settings = parse_settings(STEP2_ENV)
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1,
                      _accounts(settings, program_pl={("APEX", 1): {"day_pl": Decimal("-1600")}}))
    assert [(b.firm_code, b.status) for b in plan.account_breaches] == [("FTMO", "APPROVED"), ("APEX", "REJECTED")]
    assert [o.firm_code for o in plan.orders] == ["FTMO"]


def test_a_blocked_live_snapshot_is_an_error_that_blocks_only_its_account():
    settings = parse_settings(STEP2_ENV)
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1, _accounts(settings, blocked={("FTMO", 1)}))
    ftmo = plan.account_breaches[0]
    assert (ftmo.status, ftmo.rule) == ("ERROR", "ACCOUNT_SNAPSHOT_UNAVAILABLE")
    assert "90 s old" in ftmo.reason and "FTMO_SNAPSHOT_POLICY=BLOCK" in ftmo.reason
    assert [o.firm_code for o in plan.orders] == ["APEX"]


def test_programs_of_one_firm_share_its_position_limit_in_order():
    env = dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", FTMO_PROGRAM_IDS="1,2", FTMO_MAX_POSITION_SIZE="3",
               FTMO_2_ACCOUNT_SIZE="100000.0", FTMO_2_RISK_PER_TRADE="0.01", FTMO_2_MAX_CONTRACTS="5")
    settings = parse_settings(env)
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1, _accounts(settings, open_contracts=0))
    assert [(o.program_id, o.contracts) for o in plan.orders] == [(1, 2), (2, 1)]  # 2 of 3, then the 1 left


def test_no_routed_firm_plans_nothing():
    settings = parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS=""))
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1, {})
    assert plan.firm_codes == () and plan.orders == () and plan.risk_checks == ()


# -- exits ----------------------------------------------------------------------------------------

def _position(firm="FTMO", open_=5, dry_run=True, side="LONG", **kw) -> PositionRecord:
    base = dict(id=1, trade_id=GUIDE_PAYLOAD["trade_id"], firm_code=firm, program_id=1, symbol="NQ", side=side,
                contracts_opened=open_, contracts_open=open_, entry_price=Decimal("16500"),
                stop_price=Decimal("16475"), status="OPEN", dry_run=dry_run, client_order_id="ER-1-FTMO1-E-x")
    return PositionRecord(**{**base, **kw})


def _exit(payload, positions, state="ACTIVE", modes=None):
    signal = parse_signal({"trade_id": GUIDE_PAYLOAD["trade_id"], **payload})
    return plan_exit(signal, 9, positions, trading_state=state,
                     connector_dry_run=modes if modes is not None else {"FTMO": True, "APEX": True},
                     point_values={"NQ": Decimal("20")})


def test_a_stop_loss_exit_closes_everything_at_the_entry_stop_when_no_price_is_given():
    (step,) = _exit({"event_type": "EXIT_STOP_LOSS"}, [_position(open_=5)])
    assert step.refusal is None and step.order.contracts == 5 and step.order.side == "SELL"
    assert (step.exit_price, step.price_source) == (Decimal("16475"), "ENTRY_STOP_LOSS")
    assert step.pl_for(5) == Decimal("-2500")  # 25 points x $20 x 5


@pytest.mark.parametrize("payload, source, pl", [
    ({"event_type": "EXIT_TAKE_PROFIT", "exit_price": 16550.0}, "SIGNAL_EXIT_PRICE", Decimal("1000")),
    ({"event_type": "EXIT_BREAK_EVEN"}, "ENTRY_PRICE", Decimal("0")),
    ({"event_type": "EXIT_TAKE_PROFIT"}, "UNKNOWN", None),
])
def test_the_exit_price_and_where_it_came_from(payload, source, pl):
    (step,) = _exit(payload, [_position(open_=1)])
    assert step.price_source == source and step.pl_for(1) == pl


def test_a_partial_exit_rounds_down_and_refuses_below_one_contract():
    (half,) = _exit({"event_type": "EXIT_PARTIAL", "exit_fraction": 0.5}, [_position(open_=3)])
    assert half.order.contracts == 1 and half.refusal is None
    (tiny,) = _exit({"event_type": "EXIT_PARTIAL", "exit_fraction": 0.2}, [_position(open_=3)])
    assert tiny.refusal[0] == "PARTIAL_BELOW_ONE_CONTRACT"


def test_exit_contracts_above_what_is_open_closes_what_is_open_and_says_so():
    (step,) = _exit({"event_type": "EXIT_PARTIAL", "exit_contracts": 9}, [_position(open_=4)])
    assert step.order.contracts == 4 and step.requested_contracts == 9


@pytest.mark.parametrize("position, state, modes, reason", [
    (_position(firm="TOPSTEP"), "ACTIVE", {"FTMO": True}, "NO_CONNECTOR"),
    (_position(dry_run=False), "ACTIVE", {"FTMO": True}, "LIVE_POSITION_FIRM_IN_DRY_RUN"),
    (_position(), "HALTED", {"FTMO": True}, "TRADING_HALTED"),
])
def test_an_exit_part_that_cannot_be_sent_is_refused_before_anything_is_claimed(position, state, modes, reason):
    (step,) = _exit({"event_type": "EXIT_STOP_LOSS"}, [position], state=state, modes=modes)
    assert step.refusal is not None and step.refusal[0] == reason


def test_reducing_still_sends_exits_and_a_simulated_position_at_a_live_firm_is_closed_here_only():
    live, simulated = _exit({"event_type": "EXIT_STOP_LOSS"},
                            [_position(dry_run=False), _position(firm="APEX", dry_run=True)],
                            state="REDUCING", modes={"FTMO": False, "APEX": False})
    assert live.refusal is None and not live.local_only
    assert simulated.refusal is None and simulated.local_only


# -- size to room -----------------------------------------------------------------------------------

@pytest.mark.parametrize("day_pl, contracts, capped", [
    (Decimal("0"), 2, False),        # room 1,000: the risk size (2 x $500) fits
    (Decimal("-200"), 1, True),      # room 800: one $500 stop-out fits, two do not
    (Decimal("500"), 2, False),      # a profit adds room (the firm measures the day)
])
def test_size_to_room_caps_what_a_stop_out_could_lose(day_pl, contracts, capped):
    settings = parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", FTMO_1_SIZE_TO_ROOM="true"))
    accounts = _accounts(settings, program_pl={("FTMO", 1): {"day_pl": day_pl, "total_pl": day_pl,
                                                             "drawdown": min(day_pl, Decimal(0))}})
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1, accounts)
    (sizing,) = plan.program_sizing
    assert sizing.contracts == contracts
    assert sizing.details["loss_room_rule"] == "MAX_DAILY_LOSS"
    assert sizing.details["loss_room"] == float(Decimal(1000) + day_pl)
    assert (sizing.details.get("capped_by") == "loss_room") is capped


def test_no_room_for_one_stop_out_refuses_the_entry_naming_the_limit():
    settings = parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", FTMO_1_SIZE_TO_ROOM="true"))
    accounts = _accounts(settings, program_pl={("FTMO", 1): {"day_pl": Decimal("-600")}})
    plan = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1, accounts)
    (sizing,) = plan.program_sizing
    assert (sizing.status, sizing.rule) == ("REJECTED", "NO_LOSS_ROOM") and plan.orders == ()
    assert "MAX_DAILY_LOSS" in sizing.reason and sizing.details["loss_room"] == 400.0


def test_without_size_to_room_the_room_is_not_consulted():
    settings = parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO"))
    accounts = _accounts(settings, program_pl={("FTMO", 1): {"day_pl": Decimal("-600")}})
    (sizing,) = plan_entry(parse_signal(GUIDE_PAYLOAD), RuleBook(settings), 1, accounts).program_sizing
    assert sizing.contracts == 2 and "loss_room" not in sizing.details
