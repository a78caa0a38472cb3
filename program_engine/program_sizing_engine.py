"""Position sizing for one firm/program: a pure function from scaling rules + signal to contracts.

The program's sizing mode picks the count before the caps: RISK (the formula below, the
default), FIXED (`fixed_contracts`) or ALERT (the signal's `contracts` x `quantity_multiplier`,
floored). Every mode then gets the same caps and stop checks, and the details name the mode
whenever the rules say which (the settings always do; the guide's plain dict does not):

    risk_amount    = account_size * risk_per_trade
    risk_distance  = ceil(|entry_price - stop_loss| / tick) * tick   (whole ticks, index points)
    calculated     = risk_amount / (risk_distance * point_value)
    contracts      = floor(min(calculated, max_contracts, position_capacity, max_contracts_per_order))

point_value is dollars per 1.00 point from `instruments.contract_specs` (NQ 20, not the guide's
5.00 tick value; docs/design.md "Money math"). `position_capacity` is what the firm's
max_position_size still allows after open contracts; the router computes it.
`max_contracts_per_order` is the service-wide hard ceiling (MAX_CONTRACTS_PER_ORDER), applied
after every other cap: a formula that divides by a tiny stop must never become an absurd order.

Why it is written this way:
- Never risk more than risk_amount. The floor is taken with exact Decimal arithmetic
  (`risk_amount // (distance * point_value)` in a wide context that traps any inexact step), so
  rounding can never push 1.99999... up to 2 contracts. The invariant
  contracts * distance * point_value <= risk_amount is re-checked before returning.
- Bounded sizes (docs/design.md Decision 7). A stop closer than one tick of the instrument is refused
  (`STOP_INSIDE_ONE_TICK`): no order can be stopped out inside one tick, and dividing by such a
  distance gives millions of contracts. The distance is rounded *up* to whole ticks before
  dividing, so the size never risks more than risk_amount whichever tick the firm puts the stop on.
- Fail closed (docs/design.md Decision 1). The guide returned APPROVED with contracts=0 for a missing
  account size and APPROVED on exceptions. Here anything that cannot produce at least one
  contract is REJECTED with contracts=0 and a rule naming the cause, and any exception is ERROR
  (`ENGINE_ERROR`) with contracts=0. No division error, no fractional or negative contracts.
"""
from __future__ import annotations

from contextlib import contextmanager
from decimal import ROUND_CEILING, Decimal, Inexact, localcontext
from functools import partial
from typing import Any, Iterator, Mapping

from engine_common.numbers import (
    as_mapping,
    describe,
    format_amount,
    parse_count,
    parse_positive_decimal,
    read_number,
    to_float,
)
from engine_common.rules import ScalingRules, SizingMode
from engine_common.statuses import ReasonCode, VerdictStatus
from engine_common.verdict import Rejection, SizingVerdict, fail_closed
from instruments.contract_specs import ContractSpec, get_contract_spec, resolve_root

# Wide enough that products of any realistic inputs are exact; a step that still is not exact
# raises (Inexact is trapped) and the result is ERROR rather than a rounded contract count.
_EXACT_PRECISION = 1000


def calculate_program_sizing(
    firm_code: str,
    program_id: Any,
    scaling_rules: ScalingRules | Mapping[str, Any] | None,
    task_payload: Mapping[str, Any] | None,
) -> SizingVerdict:
    """Size one entry signal for one firm/program; never raises, never sizes on bad input."""
    verdict = partial(SizingVerdict, firm_code=firm_code, program_id=program_id)

    def decide() -> SizingVerdict:
        rules = ScalingRules.coerce(scaling_rules)
        payload = as_mapping(task_payload, "task_payload")
        if rules.mode is SizingMode.RISK:
            contracts, details = _size(rules, payload)
        else:
            contracts, details = _size_by_count(rules, payload, f"{firm_code}_{program_id}_")
        return verdict(status=VerdictStatus.APPROVED, contracts=contracts, details=details)

    return fail_closed(verdict, "Program sizing engine", decide, invalid_input=VerdictStatus.REJECTED)


def _size(rules: ScalingRules, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """RISK: as many contracts as the account's risk amount pays for at the stop."""
    account_size = rules.account_size
    if not account_size:  # None (missing) or zero
        raise Rejection(
            ReasonCode.NO_ACCOUNT_SIZE, "No account size configured for this program.",
            {"key": "account_size", "value": describe(account_size)},
        )
    risk_per_trade = rules.risk_per_trade
    if risk_per_trade is None:
        raise Rejection(
            ReasonCode.INVALID_RISK_PER_TRADE, "No risk_per_trade configured for this program.",
            {"key": "risk_per_trade", "value": describe(risk_per_trade)},
        )
    entry = _price(payload, "entry_price")
    stop = _price(payload, "stop_loss")
    symbol, root, spec = _instrument(payload, rules)
    point_value = spec.point_value

    with _exact():
        risk_amount = account_size * risk_per_trade
        stop_distance, stop_ticks, risk_distance = _stop_distance(entry, stop, spec, root)
        risk_per_contract = risk_distance * point_value
        whole = int(risk_amount // risk_per_contract)  # exact floor (both operands positive)
        final, caps = _capped(whole, rules, risk_per_contract)
        if final * risk_per_contract > risk_amount:  # invariant, fail closed
            raise ArithmeticError("sizing invariant violated")
    calculated = risk_amount / risk_per_contract  # display only, ordinary precision

    details: dict[str, Any] = {} if rules.sizing_mode is None else {"sizing_mode": SizingMode.RISK.value}
    details.update({
        "account_size": to_float(account_size),
        "risk_per_trade": to_float(risk_per_trade),
        "risk_amount": to_float(risk_amount),
        "risk_distance": to_float(risk_distance),
        "point_value": to_float(point_value),
        "calculated_contracts": to_float(calculated),
        "max_contracts": rules.max_contracts,
        "final_contracts": final,
    })
    details.update(_cap_details(whole, final, caps, stop_distance, stop_ticks, risk_distance, symbol, root))
    details.update(_room_details(rules))
    if final >= 1:
        return final, details
    _refuse_capped(rules, details)
    raise Rejection(
        ReasonCode.BELOW_ONE_CONTRACT,
        f"Risk amount {format_amount(risk_amount)} is less than the "
        f"{format_amount(risk_per_contract)} risk of one {root} contract "
        f"({format_amount(risk_distance)} points x {format_amount(point_value)} per point).",
        details,
    )


def _size_by_count(rules: ScalingRules, payload: Mapping[str, Any], prefix: str) -> tuple[int, dict[str, Any]]:
    """FIXED or ALERT: a count chosen before the caps; the stop, when there is one, is still
    checked, and its risk shown, because it is what the firm will hold the position to."""
    mode = rules.mode
    entry = _price(payload, "entry_price")
    stop = read_number(payload, "stop_loss", parse_positive_decimal, rule=ReasonCode.INVALID_PRICE,
                       subject="Signal field")
    if stop is None and not rules.allow_no_stop:
        raise Rejection(
            ReasonCode.NO_STOP_LOSS,
            f"Signal has no stop_loss: {mode} sizing sends an entry without a stop only where the program "
            f"allows it ({prefix}ALLOW_NO_STOP=true).",
            {"key": "stop_loss", "value": None, "sizing_mode": mode.value},
        )
    symbol, root, spec = _instrument(payload, rules)
    requested, count_details = _requested_count(rules, payload)
    stop_distance = stop_ticks = risk_distance = None
    with _exact():
        if stop is not None:
            stop_distance, stop_ticks, risk_distance = _stop_distance(entry, stop, spec, root)
        final, caps = _capped(requested, rules,
                              risk_distance * spec.point_value if risk_distance is not None else None)
        risk_at_stop = final * risk_distance * spec.point_value if risk_distance is not None else None

    details: dict[str, Any] = {
        "sizing_mode": mode.value,
        **count_details,
        "point_value": to_float(spec.point_value),
        "max_contracts": rules.max_contracts,
        "final_contracts": final,
    }
    if risk_distance is None:
        details["stop_loss"] = None
    else:
        details["risk_distance"] = to_float(risk_distance)
        details["risk_at_stop"] = to_float(risk_at_stop)
    details.update(_cap_details(requested, final, caps, stop_distance, stop_ticks, risk_distance, symbol, root))
    details.update(_room_details(rules))
    if final >= 1:
        return final, details
    _refuse_capped(rules, details)
    raise Rejection(ReasonCode.BELOW_ONE_CONTRACT,
                    f"{mode} sizing gives {format_amount(count_details['calculated_contracts'])} contracts: "
                    "less than one.", details)


def _requested_count(rules: ScalingRules, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """The count FIXED or ALERT asks for, floored to whole contracts, with what it came from."""
    if rules.mode is SizingMode.FIXED:
        if rules.fixed_contracts is None:
            raise Rejection(ReasonCode.NO_FIXED_CONTRACTS, "No fixed_contracts configured for this program.",
                            {"key": "fixed_contracts", "value": None})
        return rules.fixed_contracts, {"fixed_contracts": rules.fixed_contracts,
                                       "calculated_contracts": rules.fixed_contracts}
    quantity = read_number(payload, "contracts", parse_count, rule=ReasonCode.INVALID_ALERT_QUANTITY,
                           subject="Signal field")
    if quantity is None:
        raise Rejection(ReasonCode.NO_ALERT_QUANTITY,
                        "Signal has no contracts: ALERT sizing trades the alert's quantity.",
                        {"key": "contracts", "value": None})
    multiplier = rules.quantity_multiplier if rules.quantity_multiplier is not None else Decimal(1)
    with _exact():
        scaled = quantity * multiplier
        whole = int(scaled // 1)  # floor: never more than the alert asked for, scaled
    return whole, {"alert_contracts": quantity, "quantity_multiplier": to_float(multiplier),
                   "calculated_contracts": to_float(scaled)}


@contextmanager
def _exact() -> Iterator[None]:
    """A Decimal context where any inexact step raises instead of rounding a contract count."""
    with localcontext() as ctx:
        ctx.prec = _EXACT_PRECISION
        ctx.traps[Inexact] = True
        yield


def _instrument(payload: Mapping[str, Any], rules: ScalingRules) -> tuple[object, str, ContractSpec]:
    symbol = payload.get("symbol")
    root = resolve_root(symbol)
    if root is None:
        raise Rejection(
            ReasonCode.UNKNOWN_SYMBOL,
            "Signal has no symbol." if symbol is None
            else f"Unknown symbol {describe(symbol)}: no contract spec, so no point value.",
            {"key": "symbol", "value": describe(symbol)},
        )
    return symbol, root, _contract_spec(rules.point_value(root), symbol, root)


def _stop_distance(entry: Decimal, stop: Decimal, spec: ContractSpec, root: str) -> tuple[Decimal, int, Decimal]:
    """|entry - stop|, in whole ticks rounded up, and those ticks in points; a stop on or inside
    one tick of the entry is refused (nothing can be stopped out there)."""
    stop_distance = abs(entry - stop)
    if stop_distance == 0:
        raise Rejection(
            ReasonCode.ZERO_STOP_DISTANCE,
            f"Entry price equals stop loss ({format_amount(entry)}): risk per contract is zero.",
            {"entry_price": to_float(entry), "stop_loss": to_float(stop)},
        )
    if stop_distance < spec.tick_size:
        raise Rejection(
            ReasonCode.STOP_INSIDE_ONE_TICK,
            f"Stop {format_amount(stop_distance)} points from entry is inside one {root} tick "
            f"({format_amount(spec.tick_size)}): no order can be stopped out there.",
            {"entry_price": to_float(entry), "stop_loss": to_float(stop),
             "stop_distance": to_float(stop_distance), "tick_size": to_float(spec.tick_size)},
        )
    # exact: every tick size is a power-of-ten fraction or 1/4, so the quotient terminates
    stop_ticks = int((stop_distance / spec.tick_size).to_integral_value(rounding=ROUND_CEILING))
    return stop_distance, stop_ticks, stop_ticks * spec.tick_size


def _capped(whole: int, rules: ScalingRules, risk_per_contract: Decimal | None) -> tuple[int, dict[str, Any]]:
    caps: dict[str, Any] = {"max_contracts": rules.max_contracts, "position_capacity": rules.position_capacity,
                            "max_contracts_per_order": rules.max_contracts_per_order, "loss_room": None}
    if rules.size_to_room and rules.loss_room is not None:
        if risk_per_contract is None:  # no stop: nothing says what a stop-out would cost
            raise Rejection(ReasonCode.NO_STOP_LOSS, "SIZE_TO_ROOM needs the signal's stop to measure the room.",
                            {"key": "stop_loss", "value": None})
        caps["loss_room"] = max(0, int(rules.loss_room // risk_per_contract))  # floor: a stop-out fits the room
    final = min([whole, *(cap for cap in caps.values() if cap is not None)])
    if final < 0:  # invariant, fail closed
        raise ArithmeticError("sizing invariant violated")
    return final, caps


def _cap_details(whole: int, final: int, caps: Mapping[str, int | None], stop_distance: Decimal | None,
                 stop_ticks: int | None, risk_distance: Decimal | None, symbol: object, root: str) -> dict[str, Any]:
    """The caps that applied, the off-grid stop and the resolved root, when the trader should see them."""
    details: dict[str, Any] = {}
    if caps["position_capacity"] is not None:
        details["position_capacity"] = caps["position_capacity"]
    if stop_distance is not None and stop_distance != risk_distance:  # the stop was not on the tick grid
        details["stop_distance"] = to_float(stop_distance)
        details["stop_ticks"] = stop_ticks
    if caps["max_contracts_per_order"] is not None:
        details["max_contracts_per_order"] = caps["max_contracts_per_order"]
    if caps["loss_room"] is not None:
        details["loss_room_contracts"] = caps["loss_room"]
    bound = _binding_cap(whole, final, caps)
    if bound is not None:
        details["capped_by"] = bound
    if not isinstance(symbol, str) or symbol.strip().upper() != root:
        details["symbol_root"] = root
    return details


def _room_details(rules: ScalingRules) -> dict[str, Any]:
    """SIZE_TO_ROOM: the room the account had and the limit it came from."""
    if not rules.size_to_room or rules.loss_room is None:
        return {}
    return {"loss_room": to_float(rules.loss_room), "loss_room_rule": rules.loss_room_rule}


def _refuse_capped(rules: ScalingRules, details: dict[str, Any]) -> None:
    """Raise the cap's own rule when a zero cap, not the count, left nothing to size."""
    if rules.max_contracts == 0:
        raise Rejection(ReasonCode.MAX_CONTRACTS_ZERO, "max_contracts is 0 for this program.", details)
    if rules.position_capacity == 0:
        raise Rejection(
            ReasonCode.POSITION_CAPACITY_EXHAUSTED,
            "No position capacity left under the firm's max_position_size.",
            details,
        )
    if details.get("loss_room_contracts") == 0:
        raise Rejection(
            ReasonCode.NO_LOSS_ROOM,
            f"A stop-out of even one contract would take the account past its {details.get('loss_room_rule')} "
            f"room ({details.get('loss_room')}).",
            details,
        )


def _price(payload: Mapping[str, Any], key: str) -> Decimal:
    price = read_number(
        payload, key, parse_positive_decimal, rule=ReasonCode.INVALID_PRICE, subject="Signal field"
    )
    if price is None:
        raise Rejection(ReasonCode.MISSING_PRICE, f"Signal has no {key}.", {"key": key, "value": None})
    return price


def _binding_cap(whole: int, final: int, caps: Mapping[str, int | None]) -> str | None:
    """Which cap set the size below what the risk allows (the ceiling named first: it is the one
    a trader must know bound, since it overrides the account's own numbers)."""
    if final >= whole:
        return None
    for name in ("max_contracts_per_order", "max_contracts", "position_capacity", "loss_room"):
        if caps[name] == final:
            return name
    return None


def _contract_spec(override: Decimal | None, symbol: object, root: str) -> ContractSpec:
    spec = get_contract_spec(symbol, None if override is None else {root: override})
    if spec is None:  # resolve_root succeeded, so this is a contract_specs inconsistency
        raise LookupError(f"no contract spec for resolved root {root}")
    return spec
