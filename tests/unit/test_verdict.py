"""The engines' shared verdict: the exact JSON it gives, and its enums in the stored result JSON."""
from __future__ import annotations

import json
from typing import Any

import pytest

from account_engine import evaluate_account_breach
from database.json_documents import json_document_problem, result_json
from engine_common.statuses import ReasonCode, VerdictStatus
from engine_common.verdict import ProgramVerdict, SizingVerdict, Verdict, fail_closed
from program_engine import calculate_program_sizing
from risk_engine import evaluate_risk

SIZING_PAYLOAD = {"entry_price": 16500.0, "stop_loss": 16475.0, "symbol": "NQ"}
SIZING_RULES = {"account_size": 100000.0, "risk_per_trade": 0.01, "max_contracts": 5}

RISK_KEYS = ["firm_code", "status", "rule", "reason", "details"]
BREACH_KEYS = ["firm_code", "program_id", "status", "rule", "reason", "details"]
SIZING_KEYS = ["firm_code", "program_id", "status", "contracts", "rule", "reason", "details"]


@pytest.mark.parametrize(
    ("verdict", "keys"),
    [
        (evaluate_risk("FTMO", {"max_position_size": 10}, {"contracts": 5}), RISK_KEYS),
        (evaluate_risk("FTMO", {"max_position_size": 10}, {"contracts": 15}), RISK_KEYS),
        (evaluate_risk("FTMO", {"max_daily_loss": "x"}, {}), RISK_KEYS),
        (evaluate_account_breach("FTMO", 1, {"day_pl": -1}, {"max_daily_loss": 1000}), BREACH_KEYS),
        (evaluate_account_breach("FTMO", 1, {"day_pl": -1000}, {"max_daily_loss": 1000}), BREACH_KEYS),
        (evaluate_account_breach("FTMO", 1, {"day_pl": "x"}, {}), BREACH_KEYS),
        (calculate_program_sizing("FTMO", 1, SIZING_RULES, SIZING_PAYLOAD), SIZING_KEYS),
        (calculate_program_sizing("FTMO", 1, {}, SIZING_PAYLOAD), SIZING_KEYS),
        (calculate_program_sizing("FTMO", 1, [1], SIZING_PAYLOAD), SIZING_KEYS),
    ],
)
def test_each_kind_of_verdict_gives_its_keys_in_order_as_plain_text(verdict: Verdict, keys: list[str]) -> None:
    data = verdict.to_dict()
    assert list(data) == keys
    assert type(data["status"]) is str
    assert data["rule"] is None or type(data["rule"]) is str


def test_a_verdict_built_directly_gives_the_documented_json() -> None:
    common: dict[str, Any] = {"firm_code": "APEX", "status": VerdictStatus.REJECTED,
                              "rule": ReasonCode.MAX_DAILY_LOSS, "reason": "Daily loss.", "details": {"day_pl": -1.0}}
    assert json.dumps(Verdict(**common).to_dict()) == (
        '{"firm_code": "APEX", "status": "REJECTED", "rule": "MAX_DAILY_LOSS", "reason": "Daily loss.", '
        '"details": {"day_pl": -1.0}}')
    assert json.dumps(ProgramVerdict(program_id=2, **common).to_dict()) == (
        '{"firm_code": "APEX", "program_id": 2, "status": "REJECTED", "rule": "MAX_DAILY_LOSS", '
        '"reason": "Daily loss.", "details": {"day_pl": -1.0}}')
    assert json.dumps(SizingVerdict(program_id=2, **common).to_dict()) == (
        '{"firm_code": "APEX", "program_id": 2, "status": "REJECTED", "contracts": 0, "rule": "MAX_DAILY_LOSS", '
        '"reason": "Daily loss.", "details": {"day_pl": -1.0}}')


def test_details_in_the_dict_are_a_copy() -> None:
    verdict = Verdict(firm_code="FTMO", status=VerdictStatus.ERROR, rule=ReasonCode.ENGINE_ERROR,
                      reason="x.", details={"error": "x"})
    verdict.to_dict()["details"]["error"] = "changed"
    assert verdict.details == {"error": "x"}


def test_statuses_are_their_text() -> None:
    assert VerdictStatus.APPROVED == "APPROVED" and str(ReasonCode.MAX_DRAWDOWN) == "MAX_DRAWDOWN"
    assert {s.value for s in VerdictStatus} == {"APPROVED", "REJECTED", "ERROR"}


def test_enum_values_round_trip_through_the_stored_result_json() -> None:
    """A document holding enum members (not only their text) stores as the same JSON text."""
    document = {
        "status": VerdictStatus.REJECTED,
        VerdictStatus.APPROVED: [ReasonCode.INVALID_RULE],
        "risk_checks": [{"firm_code": "FTMO", "status": VerdictStatus.ERROR, "rule": ReasonCode.ENGINE_ERROR}],
    }
    plain = json.loads(json.dumps(document))
    assert json_document_problem(document, "result") is None  # the walk accepts str subclasses
    stored = result_json(document)
    assert json.loads(stored) == plain == {
        "status": "REJECTED", "APPROVED": ["INVALID_RULE"],
        "risk_checks": [{"firm_code": "FTMO", "status": "ERROR", "rule": "ENGINE_ERROR"}],
    }


def test_a_verdict_stores_as_its_to_dict() -> None:
    verdict = evaluate_account_breach("FTMO", 1, {"drawdown": -2500}, {"max_drawdown": 2000})
    assert json.loads(result_json({"account_breaches": [verdict.to_dict()]})) == {"account_breaches": [{
        "firm_code": "FTMO", "program_id": 1, "status": "REJECTED", "rule": "MAX_DRAWDOWN",
        "reason": "Drawdown -2500.0 exceeds max_drawdown 2000.0.",
        "details": {"drawdown": -2500.0, "max_drawdown": 2000.0},
    }]}


def test_fail_closed_turns_a_crash_into_an_engine_error() -> None:
    def crash() -> Verdict:
        raise ZeroDivisionError("boom")

    verdict = fail_closed(lambda **kw: Verdict(firm_code="FTMO", **kw), "Some engine", crash)
    assert (verdict.status, verdict.rule, verdict.approved) == ("ERROR", "ENGINE_ERROR", False)
    assert verdict.reason == "Some engine failed: ZeroDivisionError: boom."
