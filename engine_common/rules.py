"""The engines' typed rule inputs: one frozen dataclass per engine.

The config getters build them once from the validated Settings (config/prop_firm_config.py);
the guide's plain dicts (`{"max_position_size": 10}`) still work through `from_mapping`, which is
how an engine reads a mapping it is given. Either way each field goes through the engines'
strict parsers on construction (engine_common.numbers), so a rule an engine reads is always a
finite Decimal or a whole count, and nonsense (a bool, NaN, a negative limit, 2.5 contracts) is
refused with an `InvalidInput` naming the field, which the engine reports as its verdict.
None means "not configured": that rule is disabled.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from engine_common.numbers import (
    InvalidInput,
    InvalidNumber,
    as_mapping,
    parse_count,
    parse_decimal,
    parse_non_negative_decimal,
    parse_positive_decimal,
)
from engine_common.statuses import ReasonCode

R = TypeVar("R", bound="_Rules")


def parse_risk_fraction(value: object) -> Decimal:
    """A share of the account per trade: above 0 and below 1 (0.01 = 1%)."""
    risk = parse_positive_decimal(value)
    if risk >= 1:
        raise InvalidNumber(value, "must be a fraction below 1 (0.01 = 1%)")
    return risk


class SizingMode(StrEnum):
    """How a program's entry is sized (`{FIRM}_{ID}_SIZING_MODE`): RISK measures the account's
    risk to the stop; FIXED and ALERT take a count (the configured one, or the alert's scaled)."""

    RISK = "RISK"
    FIXED = "FIXED"
    ALERT = "ALERT"


def parse_sizing_mode(value: object) -> SizingMode:
    if isinstance(value, str) and value.strip().upper() in SizingMode.__members__:
        return SizingMode(value.strip().upper())
    raise InvalidNumber(value, f"must be one of {', '.join(SizingMode)}")


def parse_flag(value: object) -> bool:
    """A real boolean: a string or a number here would be a guess at what was meant."""
    if isinstance(value, bool):
        return value
    raise InvalidNumber(value, "must be true or false")


def _rule(parser: Callable[[object], Any], invalid: ReasonCode = ReasonCode.INVALID_RULE) -> Any:
    """A rule field, None (disabled) unless set: `parser` reads it, `invalid` names a refusal."""
    return field(default=None, metadata={"parser": parser, "invalid": invalid})


class _Rules:
    """Parses each rule field (`_rule`) on construction.

    `subject` starts a refusal's sentence ("Risk rule max_daily_loss ..."); `argument` is the
    engine's parameter, named when what it was given is not a mapping at all.
    """

    _SUBJECT: ClassVar[str]
    _ARGUMENT: ClassVar[str]

    def __init_subclass__(cls, *, subject: str, argument: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._SUBJECT, cls._ARGUMENT = subject, argument

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or "parser" not in f.metadata:
                continue
            try:
                parsed = f.metadata["parser"](value)
            except InvalidNumber as exc:
                raise InvalidInput(f.metadata["invalid"], f.name, value, exc.problem, self._SUBJECT) from None
            object.__setattr__(self, f.name, parsed)

    @classmethod
    def from_mapping(cls: type[R], source: Mapping[str, Any] | None) -> R:
        """From the guide's dict form; keys it does not know are ignored, missing ones are None."""
        values = as_mapping(source, cls._ARGUMENT)
        return cls(**{f.name: values.get(f.name) for f in fields(cls)})  # type: ignore[arg-type]

    @classmethod
    def coerce(cls: type[R], rules: R | Mapping[str, Any] | None) -> R:
        """The rules an engine was given, as this type (a mapping is parsed, None is "no rules")."""
        return rules if isinstance(rules, cls) else cls.from_mapping(rules)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RiskRules(_Rules, subject="Risk rule", argument="risk_rules"):
    """One firm's pre-trade limits (`{FIRM}_MAX_POSITION_SIZE|MAX_DAILY_LOSS|MAX_TOTAL_LOSS`)."""

    max_position_size: int | None = _rule(parse_count)
    max_daily_loss: Decimal | None = _rule(parse_positive_decimal)
    max_total_loss: Decimal | None = _rule(parse_positive_decimal)


@dataclass(frozen=True)
class BreachRules(_Rules, subject="Breach rule", argument="breach_rules"):
    """One account's limits (`{FIRM}_{ID}_MAX_DAILY_LOSS|MAX_TOTAL_LOSS|MAX_DRAWDOWN`)."""

    max_daily_loss: Decimal | None = _rule(parse_positive_decimal)
    max_total_loss: Decimal | None = _rule(parse_positive_decimal)
    max_drawdown: Decimal | None = _rule(parse_positive_decimal)


@dataclass(frozen=True)
class ScalingRules(_Rules, subject="Scaling rule", argument="scaling_rules"):
    """What sizing one firm/program needs.

    `position_capacity` is what the firm's max_position_size still allows after its open
    contracts (the router knows those, so it sets it with `dataclasses.replace`);
    `max_contracts_per_order` is the service-wide ceiling (MAX_CONTRACTS_PER_ORDER).
    A missing account size or risk_per_trade is allowed here and REJECTED by the sizing engine:
    it is a program nobody finished configuring, not a broken value.
    `sizing_mode` (None = RISK) picks the formula; FIXED reads `fixed_contracts`, ALERT the
    signal's `contracts` times `quantity_multiplier` (None = 1). Only FIXED and ALERT may size an
    entry without a stop, and only with `allow_no_stop`.
    """

    account_size: Decimal | None = _rule(parse_non_negative_decimal, ReasonCode.INVALID_ACCOUNT_SIZE)
    risk_per_trade: Decimal | None = _rule(parse_risk_fraction, ReasonCode.INVALID_RISK_PER_TRADE)
    max_contracts: int | None = _rule(parse_count, ReasonCode.INVALID_MAX_CONTRACTS)
    position_capacity: int | None = _rule(parse_count, ReasonCode.INVALID_POSITION_CAPACITY)
    max_contracts_per_order: int | None = _rule(parse_count, ReasonCode.INVALID_ORDER_CEILING)
    sizing_mode: SizingMode | None = _rule(parse_sizing_mode, ReasonCode.INVALID_SIZING_MODE)
    fixed_contracts: int | None = _rule(parse_count)
    quantity_multiplier: Decimal | None = _rule(parse_positive_decimal, ReasonCode.INVALID_QUANTITY_MULTIPLIER)
    allow_no_stop: bool | None = _rule(parse_flag)
    size_to_room: bool | None = _rule(parse_flag)
    loss_room: Decimal | None = _rule(parse_decimal)
    """What the account may still lose before its tightest loss limit (set by the router from the
    account's state when `size_to_room`); `loss_room_rule` names that limit."""
    loss_room_rule: str | None = None
    point_value_overrides: Mapping[str, Any] = field(default_factory=dict)
    """`{SYMBOL}_POINT_VALUE` by futures root; each value is checked when a signal for that root
    is sized (`point_value`), so a broken override for one instrument never blocks another."""

    def __post_init__(self) -> None:
        super().__post_init__()
        overrides = as_mapping(self.point_value_overrides, "point_value_overrides")
        object.__setattr__(self, "point_value_overrides", dict(overrides))

    @property
    def mode(self) -> SizingMode:
        return self.sizing_mode or SizingMode.RISK

    def point_value(self, root: str) -> Decimal | None:
        """The configured override of `root`'s dollars per point, or None for the contract spec's."""
        override = self.point_value_overrides.get(root)
        if override is None:
            return None
        try:
            return parse_positive_decimal(override)
        except InvalidNumber as exc:
            raise InvalidInput(
                ReasonCode.INVALID_POINT_VALUE, f"{root}_POINT_VALUE", override, exc.problem, "Override"
            ) from None
