"""What each stage decided for each firm/program of one result document, as the trader reads it.

An entry goes risk (per firm) -> sizing -> breach (per program) -> connector, and only what
passes one stage is decided by the next. The result document records every verdict the
engines returned, including the breach engine's APPROVED for a program whose sizing had
already refused it: an approval that let nothing through. Shown as APPROVED (and counted),
it reads as "the account check passed" for an order that was never possible. So here:

- a stage that never ran for a firm/program (no verdict recorded) is NOT_RUN;
- a breach APPROVED after its sizing refused (or sized 0 contracts) is NOT_RUN: it decided
  nothing; a breach REJECTED / ERROR there is kept, since it says the account is at a limit;
- an exit is not checked (risk, sizing and breach NOT_RUN by design), only sent.

Pure: a document in, frozen lanes out; the dashboard, its statistics and `GET /api/stats` all
count from these, so the page and the API agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping


class StageStatus(StrEnum):
    """A stage's verdict as shown: the engines' three plus "this stage did not decide"."""

    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ERROR = "ERROR"
    NOT_RUN = "NOT_RUN"


STAGES = ("risk", "sizing", "breach")


@dataclass(frozen=True)
class StageVerdict:
    status: str  # a StageStatus for checks; the connector's own status (SUCCESS, ...) for orders
    rule: str | None = None
    reason: str | None = None
    recorded: str | None = None  # the status the document holds, when it is shown differently
    contracts: int | None = None  # sizing: the contracts sized

    @property
    def ran(self) -> bool:
        return self.status != StageStatus.NOT_RUN


NOT_RUN = StageVerdict(StageStatus.NOT_RUN)


@dataclass(frozen=True)
class Lane:
    """One firm/program's way through one signal (program_id None: the firm's risk refused it
    before any program was looked at)."""

    firm_code: str
    program_id: int | None
    risk: StageVerdict
    sizing: StageVerdict
    breach: StageVerdict
    connector: Mapping[str, Any] | None  # the connector result item, None when no order was made

    def stage(self, name: str) -> StageVerdict:
        return getattr(self, name)


def _verdict(item: Mapping[str, Any]) -> StageVerdict:
    status = str(item.get("status"))
    known = status if status in (StageStatus.APPROVED, StageStatus.REJECTED) else StageStatus.ERROR
    contracts = item.get("contracts")
    return StageVerdict(known, item.get("rule"), item.get("reason"), None if known == status else status,
                        contracts if isinstance(contracts, int) else None)


def _program(item: Mapping[str, Any]) -> int | None:
    value = item.get("program_id")
    return value if isinstance(value, int) else None


def _sized(verdict: StageVerdict) -> bool:
    return verdict.status == StageStatus.APPROVED and (verdict.contracts or 0) > 0


def lanes(doc: Mapping[str, Any]) -> tuple[Lane, ...]:
    """Every firm/program the document speaks of, in the order the router checked them."""
    def items(key: str) -> list[Mapping[str, Any]]:
        value = doc.get(key)
        return [i for i in value if isinstance(i, Mapping)] if isinstance(value, list) else []

    risks = {str(i.get("firm_code")): _verdict(i) for i in items("risk_checks")}
    sizings = {(str(i.get("firm_code")), _program(i)): _verdict(i) for i in items("program_sizing")}
    breaches = {(str(i.get("firm_code")), _program(i)): _verdict(i) for i in items("account_breaches")}
    orders = {(str(i.get("firm_code")), _program(i)): i for i in items("connector_results")}

    keys: list[tuple[str, int | None]] = []
    for firm in risks:
        programs = [k for k in sizings if k[0] == firm] or [k for k in breaches if k[0] == firm]
        keys.extend(programs or [(firm, None)])
    keys.extend(k for k in (*sizings, *breaches, *orders) if k not in keys)

    out = []
    for firm, program in keys:
        sizing = sizings.get((firm, program), NOT_RUN)
        breach = breaches.get((firm, program), NOT_RUN)
        if breach.status == StageStatus.APPROVED and not _sized(sizing):
            breach = StageVerdict(StageStatus.NOT_RUN, None, "sizing refused this account first",
                                  recorded=StageStatus.APPROVED)
        out.append(Lane(firm, program, risks.get(firm, NOT_RUN), sizing, breach, orders.get((firm, program))))
    return tuple(out)
