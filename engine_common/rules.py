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
from typing import Any, ClassVar, TypeVar

from engine_common.numbers import (
    InvalidInput,
    InvalidNumber,
    as_mapping,
    parse_count,
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


class _Rules:
    """Parses each numeric field on construction; subclasses list how (`_PARSERS`)."""

    _PARSERS: ClassVar[dict[str, tuple[Callable[[object], Any], ReasonCode]]]
    _SUBJECT: ClassVar[str]
    _ARGUMENT: ClassVar[str]
    """The engine argument's name, for the message when it is not a mapping at all."""

    def __post_init__(self) -> None:
        for name, (parser, code) in self._PARSERS.items():
            value = getattr(self, name)
            if value is None:
                continue
            try:
                parsed = parser(value)
            except InvalidNumber as exc:
                raise InvalidInput(code, name, value, exc.problem, self._SUBJECT) from None
            object.__setattr__(self, name, parsed)

    @classmethod
    def from_mapping(cls: type[R], source: Mapping[str, Any] | None) -> R:
        """From the guide's dict form; keys it does not know are ignored, missing ones are None."""
        values = as_mapping(source, cls._ARGUMENT)
        return cls(**{f.name: values.get(f.name) for f in fields(cls)})  # type: ignore[call-arg]

    @classmethod
    def coerce(cls: type[R], rules: R | Mapping[str, Any] | None) -> R:
        """The rules an engine was given, as this type (a mapping is parsed, None is "no rules")."""
        return rules if isinstance(rules, cls) else cls.from_mapping(rules)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RiskRules(_Rules):
    """One firm's pre-trade limits (`{FIRM}_MAX_POSITION_SIZE|MAX_DAILY_LOSS|MAX_TOTAL_LOSS`)."""

    max_position_size: int | None = None
    max_daily_loss: Decimal | None = None
    max_total_loss: Decimal | None = None

    _SUBJECT = "Risk rule"
    _ARGUMENT = "risk_rules"
    _PARSERS = {
        "max_position_size": (parse_count, ReasonCode.INVALID_RULE),
        "max_daily_loss": (parse_positive_decimal, ReasonCode.INVALID_RULE),
        "max_total_loss": (parse_positive_decimal, ReasonCode.INVALID_RULE),
    }


@dataclass(frozen=True)
class BreachRules(_Rules):
    """One account's limits (`{FIRM}_{ID}_MAX_DAILY_LOSS|MAX_TOTAL_LOSS|MAX_DRAWDOWN`)."""

    max_daily_loss: Decimal | None = None
    max_total_loss: Decimal | None = None
    max_drawdown: Decimal | None = None

    _SUBJECT = "Breach rule"
    _ARGUMENT = "breach_rules"
    _PARSERS = {
        "max_daily_loss": (parse_positive_decimal, ReasonCode.INVALID_RULE),
        "max_total_loss": (parse_positive_decimal, ReasonCode.INVALID_RULE),
        "max_drawdown": (parse_positive_decimal, ReasonCode.INVALID_RULE),
    }


@dataclass(frozen=True)
class ScalingRules(_Rules):
    """What sizing one firm/program needs.

    `position_capacity` is what the firm's max_position_size still allows after its open
    contracts (the router knows those, so it sets it with `dataclasses.replace`);
    `max_contracts_per_order` is the service-wide ceiling (MAX_CONTRACTS_PER_ORDER).
    A missing account size or risk_per_trade is allowed here and REJECTED by the sizing engine:
    it is a program nobody finished configuring, not a broken value.
    """

    account_size: Decimal | None = None
    risk_per_trade: Decimal | None = None
    max_contracts: int | None = None
    position_capacity: int | None = None
    max_contracts_per_order: int | None = None
    point_value_overrides: Mapping[str, Any] = field(default_factory=dict)
    """`{SYMBOL}_POINT_VALUE` by futures root; each value is checked when a signal for that root
    is sized (`point_value`), so a broken override for one instrument never blocks another."""

    _SUBJECT = "Scaling rule"
    _ARGUMENT = "scaling_rules"
    _PARSERS = {
        "account_size": (parse_non_negative_decimal, ReasonCode.INVALID_ACCOUNT_SIZE),
        "risk_per_trade": (parse_risk_fraction, ReasonCode.INVALID_RISK_PER_TRADE),
        "max_contracts": (parse_count, ReasonCode.INVALID_MAX_CONTRACTS),
        "position_capacity": (parse_count, ReasonCode.INVALID_POSITION_CAPACITY),
        "max_contracts_per_order": (parse_count, ReasonCode.INVALID_ORDER_CEILING),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        overrides = as_mapping(self.point_value_overrides, "point_value_overrides")
        object.__setattr__(self, "point_value_overrides", dict(overrides))

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
