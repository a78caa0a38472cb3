"""The frozen result every engine returns, and the fail-closed envelope the engines run in.

One shape for the three engines, so the router and the audit trail read risk, sizing and breach
decisions the same way. What differs is who the decision is about: the risk check is firm-wide
(`Verdict`), the breach check is one account (`ProgramVerdict`), and sizing also says how many
contracts (`SizingVerdict`). `to_dict()` is a public contract: it is stored in execution_logs,
answered to the webhook and read by the dashboard, so its keys, their order and their values are
fixed per kind.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from engine_common.numbers import InvalidInput, describe_exception
from engine_common.statuses import ReasonCode, VerdictStatus

V = TypeVar("V", bound="Verdict")


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One firm's decision; an approval carries no rule, reason or details."""

    firm_code: str
    status: VerdictStatus
    rule: ReasonCode | None = None
    reason: str | None = None
    """The sentence the trader reads."""
    details: dict[str, Any] | None = None

    _KEYS: ClassVar[tuple[str, ...]] = ("firm_code", "status", "rule", "reason", "details")

    @property
    def approved(self) -> bool:
        return self.status == VerdictStatus.APPROVED

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: the enums become their text, details a copy."""
        data = {key: getattr(self, key) for key in self._KEYS}
        data["status"] = str(self.status)
        if self.rule is not None:
            data["rule"] = str(self.rule)
        if self.details is not None:
            data["details"] = dict(self.details)
        return data


@dataclass(frozen=True, kw_only=True)
class ProgramVerdict(Verdict):
    """One firm/program's (one account's) decision."""

    program_id: Any

    _KEYS = ("firm_code", "program_id", "status", "rule", "reason", "details")


@dataclass(frozen=True, kw_only=True)
class SizingVerdict(ProgramVerdict):
    """How many contracts one firm/program may trade; 0 unless APPROVED."""

    contracts: int = 0

    _KEYS = ("firm_code", "program_id", "status", "contracts", "rule", "reason", "details")


@dataclass(frozen=True)
class Denial:
    """Why a check says no: the rule, the sentence the trader reads, the figures behind it."""

    rule: ReasonCode
    reason: str
    details: dict[str, Any] | None = None


def rejected(verdict: Callable[..., V], denial: Denial) -> V:
    return verdict(status=VerdictStatus.REJECTED, rule=denial.rule, reason=denial.reason, details=denial.details)


class Rejection(Exception):
    """Raised from deep inside an engine to stop with a REJECTED verdict."""

    def __init__(self, rule: ReasonCode, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.denial = Denial(rule, reason, details)


def fail_closed(
    verdict: Callable[..., V],
    engine: str,
    decide: Callable[[], V],
    *,
    invalid_input: VerdictStatus = VerdictStatus.ERROR,
) -> V:
    """`decide()`, where an unusable input or any exception blocks instead of approving.

    `verdict` builds this engine's verdict from status/rule/reason/details (the subject already
    bound); `invalid_input` is the status an unusable input gets (sizing says REJECTED: nothing
    can be sized; the risk and breach checks say ERROR: the check could not be made).
    """
    try:
        return decide()
    except Rejection as rej:
        return rejected(verdict, rej.denial)
    except InvalidInput as exc:
        return verdict(status=invalid_input, rule=exc.rule, reason=exc.reason, details=exc.details)
    except Exception as exc:  # a crashed check is never a green light
        error = describe_exception(exc)
        return verdict(
            status=VerdictStatus.ERROR, rule=ReasonCode.ENGINE_ERROR,
            reason=f"{engine} failed: {error}.", details={"error": error},
        )
