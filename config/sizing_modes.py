"""`{FIRM}_{ID}_SIZING_MODE` and what each mode reads, validated together.

A variable that the program's mode would ignore is refused rather than skipped: a trader who set
`FTMO_1_FIXED_CONTRACTS=1` but forgot the mode would otherwise be sized by risk, perhaps far larger.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, TypeAdapter

from config.models import MAX_ORDER_CEILING
from engine_common.rules import SizingMode

if TYPE_CHECKING:
    from config.settings import _Reader

_FIXED = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_ORDER_CEILING)])
_MULTIPLIER = TypeAdapter(Annotated[Decimal, Field(gt=0, le=1000, allow_inf_nan=False)])


def read_sizing_mode(r: "_Reader", prefix: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The ProgramSettings fields of one program's sizing mode, and the variable each came from."""
    raw_mode = r.raw(prefix + "SIZING_MODE")
    mode = SizingMode.RISK
    if raw_mode is not None:
        if raw_mode.upper() in SizingMode.__members__:
            mode = SizingMode(raw_mode.upper())
        else:
            r.problems.append(f"{prefix}SIZING_MODE={raw_mode!r}: must be one of {', '.join(SizingMode)}")
    fields: dict[str, Any] = {"sizing_mode": mode.value}
    sources = {"sizing_mode": prefix + "SIZING_MODE"} if raw_mode is not None else {}

    def only_for(suffix: str, needed: SizingMode) -> bool:
        if r.raw(prefix + suffix) is None or mode is needed:
            return True
        r.problems.append(f"{prefix}{suffix}: only used when {prefix}SIZING_MODE={needed} (it is {mode})")
        return False

    if only_for("FIXED_CONTRACTS", SizingMode.FIXED):
        fixed = r.typed(prefix + "FIXED_CONTRACTS", _FIXED, f"a whole number of contracts between 1 and {MAX_ORDER_CEILING}")
        if fixed is not None:
            fields["fixed_contracts"], sources["fixed_contracts"] = fixed, prefix + "FIXED_CONTRACTS"
        elif mode is SizingMode.FIXED and r.raw(prefix + "FIXED_CONTRACTS") is None:
            r.problems.append(f"{prefix}FIXED_CONTRACTS: required, because {prefix}SIZING_MODE=FIXED")
    if only_for("QUANTITY_MULTIPLIER", SizingMode.ALERT):
        multiplier = r.typed(prefix + "QUANTITY_MULTIPLIER", _MULTIPLIER, "a positive number up to 1000, e.g. 0.5 or 2")
        if multiplier is not None:
            fields["quantity_multiplier"], sources["quantity_multiplier"] = multiplier, prefix + "QUANTITY_MULTIPLIER"
    allow_no_stop = r.boolean(prefix + "ALLOW_NO_STOP", False)
    if allow_no_stop and mode is SizingMode.RISK:
        r.problems.append(f"{prefix}ALLOW_NO_STOP: RISK sizing measures the risk to the stop, so it needs one; "
                          f"set {prefix}SIZING_MODE=FIXED or ALERT, or remove it")
    elif allow_no_stop:
        fields["allow_no_stop"], sources["allow_no_stop"] = True, prefix + "ALLOW_NO_STOP"
    if r.boolean(prefix + "SIZE_TO_ROOM", False):  # cap by the loss limits' room (routing/entry_plan.py)
        fields["size_to_room"], sources["size_to_room"] = True, prefix + "SIZE_TO_ROOM"
    return fields, sources
