"""Operator input rules, defined once for the admin HTTP API and the `flask --app web_server` CLI.

The admin endpoints and the CLI commands change the same ledger and the same trading state, so
they validate with the same pydantic models: an input one refuses, the other refuses too, with
the same message. The CLI reports a refusal as one line naming the argument (exit code 2)
instead of letting a value the database cannot hold end in a traceback.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import click
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from database.json_documents import json_document_problem
from database.tables import PRICE_SCALE
from safety.trading_state import normalize_state
from signals.signal_model import SignalError, parse_signal

MAX_MONEY = Decimal("1000000000")
"""Largest absolute dollar amount an operator may enter (exclusive). A prop-firm account is worth
at most a few million; a billion is far beyond any real correction, yet a thousand such ledger
rows still fit the NUMERIC(18,6) amount column (which itself holds less than 1e12)."""
MAX_REASON_CHARS = 1000
MAX_STATE_REASON_CHARS = 500
MAX_PROGRAM_ID = 1_000_000  # the largest id {FIRM}_PROGRAM_IDS accepts (config/settings.py)
MAX_SHOWN_EVENTS = 500  # the query API's page limit
MAX_OLDER_THAN_SECONDS = 86_400  # STUCK_TASK_SECONDS' range is 1..86400 (config/settings.py)

_WHOLE_NUMBER = re.compile(r"[0-9]+")
_FIRM_CODE = re.compile(r"[A-Za-z0-9_]{1,32}")  # firm_code columns are VARCHAR(32)
_STEP = Decimal(1).scaleb(-PRICE_SCALE)


def _storable(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters or unpaired surrogates; the HTTP body reader
    refuses them up front, this refuses them wherever else the text comes from."""
    problem = json_document_problem({"text": value}, "")
    if problem is not None:
        raise ValueError(problem.removeprefix("['text'] "))
    return value


def _money(value: Decimal) -> Decimal:
    """Bounded before anything else so 1e400 or 1e20 is refused with the bound, not a digit count."""
    if not -MAX_MONEY < value < MAX_MONEY:
        raise ValueError(f"must be between -{MAX_MONEY} and {MAX_MONEY} dollars")
    if value.quantize(_STEP) != value:
        raise ValueError(f"must have at most {PRICE_SCALE} decimal places")
    return value


def _whole_number(value: Any) -> Any:
    """Digits only, as the URL's <int:...> converter takes them (no sign, spaces, '_' or '1.0')."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, str):
        if not _WHOLE_NUMBER.fullmatch(value):
            raise ValueError("must be a whole number (digits only)")
        return int(value)
    return value


def _firm_code(value: Any) -> str:
    if not isinstance(value, str) or not _FIRM_CODE.fullmatch(value):
        raise ValueError("must be 1-32 letters, digits or _ (a firm code such as FTMO)")
    return value.upper()


def _trade_id(value: Any) -> str:
    """The webhook's own trade_id rule (signals.signal_model), so an adjustment can only name a
    trade id a signal could have carried."""
    try:
        return parse_signal({"event_type": "MFE_UPDATE", "trade_id": value}).trade_id
    except SignalError as exc:
        raise ValueError(exc.fields.get("trade_id", str(exc))) from None


Money = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_money)]
Who = Annotated[str, Field(min_length=1, max_length=128, pattern=r"\S"), AfterValidator(_storable)]
Why = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=r"\S"), AfterValidator(_storable)]
TradeId = Annotated[str, BeforeValidator(_trade_id)]
FirmCode = Annotated[str, BeforeValidator(_firm_code)]
ProgramId = Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=MAX_PROGRAM_ID)]


class AccountKey(BaseModel):
    """The account a command or URL names (/api/admin/accounts/<firm_code>/<program_id>)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    firm_code: FirmCode
    program_id: ProgramId


class ShowAccount(AccountKey):
    events: Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=MAX_SHOWN_EVENTS)] = 20


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    by: Who
    reason: Why


class SetBalance(_Change):
    balance: Annotated[Money, Field(gt=0)]


class Adjustment(_Change):
    trade_id: TradeId | None = None  # before amount: amount's check reads it
    amount: Money

    @field_validator("amount")
    @classmethod
    def _non_zero(cls, value: Decimal, info: Any) -> Decimal:
        """Zero is a real figure only when it settles a trade's unknown exit ("it was flat")."""
        if value == 0 and info.data.get("trade_id") is None:
            raise ValueError("must be non-zero (negative = loss), unless a trade id names the exit it settles")
        return value


class NewDay(_Change):
    pass


def _state(value: Any) -> str:
    state = normalize_state(value)
    if state is None:
        raise ValueError("must be ACTIVE, REDUCING or HALTED")
    return state


def _state_reason(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_STATE_REASON_CHARS:
        raise ValueError(f"must be text of at most {MAX_STATE_REASON_CHARS} characters")
    return _storable(value)


class TradingStateChange(BaseModel):
    """POST /api/admin/trading-state and `flask trading-state STATE` (other keys are ignored)."""

    model_config = ConfigDict(frozen=True)
    state: Annotated[str, BeforeValidator(_state), Field(default=None, validate_default=True)]
    reason: Annotated[str | None, BeforeValidator(_state_reason)] = None


class RecoverTasks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    older_than: Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=MAX_OLDER_THAN_SECONDS)] | None = None


def field_errors(exc: ValidationError) -> dict[str, str]:
    """{field: why} for every problem, as the API's 400 `fields` reports them."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(name, str(error["msg"]).removeprefix("Value error, "))
    return fields


# -- CLI ---------------------------------------------------------------------------------------

class ArgumentError(click.UsageError):
    """A refused CLI argument: printed as the single line `Error: <argument>: <why>`, exit code 2
    (a usage error, without click's usage dump so a script's log keeps one line per refusal)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


M = TypeVar("M", bound=BaseModel)


def cli_argument_name(field: str) -> str:
    """The field as the command line spells it: `amount` for an argument, `--trade-id` for an option."""
    context = click.get_current_context(silent=True)
    for param in context.command.params if context else ():
        if param.name == field:
            return param.opts[0] if isinstance(param, click.Option) else field
    return field


def cli_refusal(field: str, why: str) -> ArgumentError:
    return ArgumentError(f"{cli_argument_name(field)}: {' '.join(why.split())}")


def cli_validate(model: type[M], **arguments: Any) -> M:
    """The command's arguments validated by the API's model, or the ArgumentError naming each bad one."""
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        problems = [f"{cli_argument_name(name)}: {' '.join(why.split())}" for name, why in field_errors(exc).items()]
        raise ArgumentError("; ".join(problems)) from None
