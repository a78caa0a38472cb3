"""The webhook payload as a typed, validated signal.

TradingView sends flat JSON whose numbers are sometimes strings ("16500.25"); the upstream
indicator adds many informational keys. We validate what routing depends on and keep the rest
verbatim for the audit trail. Every problem is reported with the field it belongs to, so a
trader can fix the alert message; nothing is half-applied because validation happens before
any row is written.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from instruments import get_contract_spec, resolve_root
from signals.targets import TARGET_FIELDS, resolve_target

EVENT_ALIASES = {"EXIT_SL": "EXIT_STOP_LOSS", "EXIT_BE": "EXIT_BREAK_EVEN", "EXIT_TP": "EXIT_TAKE_PROFIT"}
ENTRY_TYPES = frozenset({"SIGNAL_CREATED", "ENTRY"})
EXIT_TYPES = frozenset({"EXIT", "EXIT_STOP_LOSS", "EXIT_BREAK_EVEN", "EXIT_TAKE_PROFIT", "EXIT_PARTIAL", "CANCELLED"})
INFO_TYPES = frozenset({"MFE_UPDATE", "BE_TRIGGERED", "MFE_UPDATE_BATCH"})
ALL_TYPES = ENTRY_TYPES | EXIT_TYPES | INFO_TYPES

_DIRECTIONS = {"BULLISH": "LONG", "LONG": "LONG", "BUY": "LONG", "BEARISH": "SHORT", "SHORT": "SHORT", "SELL": "SHORT"}
_TRADE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")
MAX_PRICE = Decimal("10000000")
MAX_CONTRACTS_PER_SIGNAL = 1000

Price = Annotated[Decimal, Field(gt=0, lt=MAX_PRICE, allow_inf_nan=False)]
Points = Annotated[Decimal, Field(gt=0, lt=MAX_PRICE, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(gt=0, lt=100, allow_inf_nan=False)]


class SignalError(ValueError):
    """Bad input: `fields` maps each bad field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]):
        self.fields = fields
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))


def canonical_event_type(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    name = EVENT_ALIASES.get(name, name)
    return name if name in ALL_TYPES else None


class Signal(BaseModel):
    """A validated signal. Extra keys are kept (payload) but never interpreted."""

    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=True)

    event_type: str
    trade_id: str
    symbol: str | None = None
    direction: Literal["LONG", "SHORT"] | None = None
    entry_price: Price | None = None
    stop_loss: Price | None = None
    exit_price: Price | None = None
    take_profit: Price | None = None  # an entry's target: one of these three (signals/targets.py)
    take_profit_points: Points | None = None
    take_profit_percent: Percent | None = None
    contracts: Annotated[int, Field(ge=1, le=MAX_CONTRACTS_PER_SIGNAL)] | None = None
    exit_contracts: Annotated[int, Field(ge=1, le=MAX_CONTRACTS_PER_SIGNAL)] | None = None
    exit_fraction: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] | None = None

    @field_validator("event_type", mode="before")
    @classmethod
    def _event_type(cls, value: Any) -> str:
        name = canonical_event_type(value)
        if name is None:
            raise ValueError(f"unknown event type {value!r}; expected one of {', '.join(sorted(ALL_TYPES))}")
        return name

    @field_validator("trade_id", mode="before")
    @classmethod
    def _trade_id(cls, value: Any) -> str:
        if isinstance(value, (int,)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _TRADE_ID.match(value.strip()):
            raise ValueError("must be 1-255 letters, digits or _ . : -")
        return value.strip()

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or value.strip().upper() not in _DIRECTIONS:
            raise ValueError("must be Bullish or Bearish (or LONG/SHORT, BUY/SELL)")
        return _DIRECTIONS[value.strip().upper()]

    @field_validator("entry_price", "stop_loss", "exit_price", "exit_fraction", *TARGET_FIELDS, mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        if value == "":
            return None
        return value

    @field_validator("contracts", "exit_contracts", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not true/false")
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @property
    def symbol_root(self) -> str | None:
        return resolve_root(self.symbol)

    @property
    def action(self) -> str:
        if self.event_type in ENTRY_TYPES:
            return "ENTRY"
        if self.event_type in EXIT_TYPES:
            return "EXIT"
        return "INFO"

    @model_validator(mode="after")
    def _entry_fields(self) -> "Signal":
        if self.exit_contracts is not None and self.exit_fraction is not None:  # which one is meant?
            raise SignalError({"exit_contracts": "give exit_contracts or exit_fraction, not both",
                               "exit_fraction": "give exit_contracts or exit_fraction, not both"})
        if self.event_type == "EXIT_PARTIAL" and self.exit_contracts is None and self.exit_fraction is None:
            # Decision 4: never a guessed quantity. Say which part to close.
            raise SignalError({"exit_contracts": "EXIT_PARTIAL needs exit_contracts (a count) or exit_fraction (0-1]"})
        if self.event_type not in ENTRY_TYPES:
            return self
        problems: dict[str, str] = {}
        # no stop_loss is needed here: whether an entry may go without one is each program's
        # sizing mode's call ({FIRM}_{ID}_ALLOW_NO_STOP), so the signal reaches sizing to be refused
        for name in ("symbol", "direction", "entry_price"):
            if getattr(self, name) is None:
                problems[name] = f"required for {self.event_type}"
        if self.symbol is not None and self.symbol_root is None:
            problems["symbol"] = f"unknown instrument {self.symbol!r}; use a futures root such as NQ, ES, CL, GC (or NQ1!, NQZ2025)"
        if self.entry_price is not None and self.stop_loss is not None and self.direction is not None:
            if self.entry_price == self.stop_loss:
                problems["stop_loss"] = "must differ from entry_price (a zero stop distance cannot be sized)"
            elif self.direction == "LONG" and self.stop_loss > self.entry_price:
                problems["stop_loss"] = "must be below entry_price for a Bullish (long) entry"
            elif self.direction == "SHORT" and self.stop_loss < self.entry_price:
                problems["stop_loss"] = "must be above entry_price for a Bearish (short) entry"
        problems.update(self._target()[1])
        if problems:
            raise SignalError(problems)
        return self

    def _target(self) -> tuple[Decimal | None, dict[str, str]]:
        spec = get_contract_spec(self.symbol)
        return resolve_target(self.direction, self.entry_price, self.stop_loss,
                              {name: getattr(self, name) for name in TARGET_FIELDS},
                              spec.tick_size if spec is not None else None, MAX_PRICE)

    @cached_property
    def target_price(self) -> Decimal | None:
        """An entry's take-profit price, resolved and on the tick grid; None without a target."""
        return self._target()[0] if self.event_type in ENTRY_TYPES else None

    def payload(self) -> dict[str, Any]:
        """The JSON stored in execution_tasks.payload: every key as received, canonical types.

        A fresh (shallow) copy each call, of a dump made once: an entry asks for it when its task
        is stored and again when it is routed, and each model_dump was ~1% of a request."""
        return dict(self._payload)

    @cached_property
    def _payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def parse_signal(data: Any) -> Signal:
    """Validate a decoded JSON body into a Signal, or raise SignalError naming every bad field."""
    if not isinstance(data, dict):
        raise SignalError({"body": "must be a JSON object"})
    try:
        return Signal.model_validate(data)
    except SignalError:
        raise
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, SignalError):
                fields.update(ctx_error.fields)
                continue
            name = _field_name(tuple(err.get("loc", ())))
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            fields.setdefault(name, message)
        raise SignalError(fields) from None
