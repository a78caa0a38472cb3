"""Strict number parsing and formatting shared by the risk, sizing and breach engines.

Why strict: the original guide "safely parsed invalid values with fallbacks" and approved trades
when a check raised. With real money a value we cannot read must stop the order instead
(docs/design.md Decision 1, fail closed), so these helpers never guess: booleans, NaN, infinities,
empty strings and unsupported types raise `InvalidNumber`, and each engine turns that into a
blocking result naming the offending key.

Money is compared as `Decimal`, built via `str()` of floats (`Decimal(str(0.1)) == Decimal("0.1")`),
so a limit of 1000 is reached by a loss of exactly -1000.0 and not missed by binary rounding.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from engine_common.statuses import ReasonCode

T = TypeVar("T")

# Contract counts above this are treated as bad input, not as a (huge) number to convert:
# no prop-firm account trades a million contracts, and `int(Decimal("1e999999"))` would stall.
MAX_CONTRACT_COUNT = 1_000_000


class InvalidNumber(ValueError):
    """A value that cannot be trusted as a number; `problem` says why in plain words."""

    def __init__(self, value: object, problem: str) -> None:
        super().__init__(problem)
        self.value = value
        self.problem = problem


class InvalidInput(ValueError):
    """An input an engine cannot use: carries the engine's rule name, the key and a reason."""

    def __init__(self, rule: ReasonCode, key: str, value: object, problem: str, subject: str) -> None:
        reason = f"{subject} {key} {problem} (got {describe(value)})."
        super().__init__(reason)
        self.rule = rule
        self.key = key
        self.value = value
        self.problem = problem
        self.reason = reason

    @property
    def details(self) -> dict[str, Any]:
        return {"key": self.key, "value": describe(self.value), "error": self.problem}


def parse_decimal(value: object) -> Decimal:
    """A finite Decimal from an int, float, Decimal or numeric string ("16500.25")."""
    if isinstance(value, bool):  # bool is an int subclass: True must not mean 1 contract
        raise InvalidNumber(value, "is a boolean, not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidNumber(value, "is empty")
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            raise InvalidNumber(value, "is not a number") from None
    else:
        raise InvalidNumber(value, f"has unsupported type {type(value).__name__}")
    if not number.is_finite():
        raise InvalidNumber(value, "is not a finite number")
    return number


def parse_positive_decimal(value: object) -> Decimal:
    number = parse_decimal(value)
    if number <= 0:
        raise InvalidNumber(value, "must be greater than zero")
    return number


def parse_non_negative_decimal(value: object) -> Decimal:
    number = parse_decimal(value)
    if number < 0:
        raise InvalidNumber(value, "must not be negative")
    return number


def parse_count(value: object) -> int:
    """A whole, non-negative contract count; 15, 15.0 and "15" are fine, 2.5 and -1 are not."""
    number = parse_decimal(value)
    if number < 0:
        raise InvalidNumber(value, "must not be negative")
    if number.adjusted() >= len(str(MAX_CONTRACT_COUNT)):
        raise InvalidNumber(value, f"is implausibly large (over {MAX_CONTRACT_COUNT} contracts)")
    if number != number.to_integral_value():
        raise InvalidNumber(value, "is not a whole number of contracts")
    count = int(number)
    if count > MAX_CONTRACT_COUNT:
        raise InvalidNumber(value, f"is implausibly large (over {MAX_CONTRACT_COUNT} contracts)")
    return count


def as_mapping(value: object, name: str) -> Mapping[str, Any]:
    """`None` means "nothing configured / no data"; anything else must be a mapping."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}")
    return value


def read_number(
    source: Mapping[str, Any],
    key: str,
    parser: Callable[[object], T],
    *,
    rule: ReasonCode,
    subject: str,
) -> T | None:
    """Parse `source[key]`; None when absent, `InvalidInput(rule, ...)` when unusable."""
    value = source.get(key)
    if value is None:
        return None
    try:
        return parser(value)
    except InvalidNumber as exc:
        raise InvalidInput(rule, key, value, exc.problem, subject) from None


def format_amount(number: Decimal | int | float) -> str:
    """Reason text like the guide's: -1200 -> "-1200.0", 1000 -> "1000.0", 1234.56 -> "1234.56"."""
    value = number if isinstance(number, Decimal) else Decimal(str(number))
    if value == 0:
        return "0.0"
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def to_float(number: Decimal) -> float:
    """Details are JSON for the execution log; the decision itself was made in Decimal."""
    return float(number)


def describe(value: object, limit: int = 80) -> str:
    """repr() for messages and logs, which never raises and never grows unbounded."""
    try:
        text = repr(value)
    except Exception:  # an object whose __repr__ raises must not crash the error path
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable message>"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
