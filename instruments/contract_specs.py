"""Contract specifications for the CME-group futures our users trade.

Point value is dollars per 1.00 price move per contract (NQ: 20, not the 5.00 *tick* value the
original guide shows). Sizing and P&L both read these, so a wrong number here is a wrong order
size: values come from the exchange's contract specs (cmegroup.com, "Contract Specs" of each
product) and are pinned by unit tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping


@dataclass(frozen=True)
class ContractSpec:
    """One futures root: dollars per 1.00 point and the minimum price increment."""

    root: str
    name: str
    point_value: Decimal
    tick_size: Decimal

    @property
    def tick_value(self) -> Decimal:
        return self.point_value * self.tick_size


def _spec(root: str, name: str, point_value: str, tick_size: str) -> ContractSpec:
    return ContractSpec(root, name, Decimal(point_value), Decimal(tick_size))


CONTRACT_SPECS: Mapping[str, ContractSpec] = {
    s.root: s
    for s in (
        _spec("NQ", "E-mini Nasdaq-100", "20", "0.25"),
        _spec("MNQ", "Micro E-mini Nasdaq-100", "2", "0.25"),
        _spec("ES", "E-mini S&P 500", "50", "0.25"),
        _spec("MES", "Micro E-mini S&P 500", "5", "0.25"),
        _spec("YM", "E-mini Dow ($5)", "5", "1"),
        _spec("MYM", "Micro E-mini Dow", "0.5", "1"),
        _spec("RTY", "E-mini Russell 2000", "50", "0.1"),
        _spec("M2K", "Micro E-mini Russell 2000", "5", "0.1"),
        _spec("CL", "Crude Oil", "1000", "0.01"),
        _spec("MCL", "Micro WTI Crude Oil", "100", "0.01"),
        _spec("GC", "Gold", "100", "0.1"),
        _spec("MGC", "Micro Gold", "10", "0.1"),
    )
}

# Futures month codes (F=Jan ... Z=Dec) used in dated contract symbols such as NQZ2025 / NQZ25.
_MONTH_CODES = "FGHJKMNQUVXZ"
_CONTINUOUS = re.compile(r"^(?P<root>[A-Z0-9]+?)\d+!$")  # NQ1!, MNQ2!
_DATED = re.compile(rf"^(?P<root>[A-Z0-9]+?)[{_MONTH_CODES}](?:\d{{4}}|\d{{2}}|\d)$")  # NQZ2025, NQZ25, NQZ5


def resolve_root(symbol: object) -> str | None:
    """Map a TradingView or broker symbol to a known futures root, or None.

    Accepts `NQ`, `nq`, `NQ1!`, `CME_MINI:NQ1!`, `NQZ2025`, `NQZ25`, `MNQ1!`. Returns None
    rather than guessing: an unknown symbol must stop sizing, never default to some contract.
    """
    if not isinstance(symbol, str):
        return None
    text = symbol.strip().upper()
    if ":" in text:  # exchange prefix, e.g. CME_MINI:NQ1!
        text = text.rsplit(":", 1)[1]
    if text in CONTRACT_SPECS:
        return text
    for pattern in (_CONTINUOUS, _DATED):
        match = pattern.match(text)
        if match and match.group("root") in CONTRACT_SPECS:
            return match.group("root")
    return None


def get_contract_spec(
    symbol: object, point_value_overrides: Mapping[str, Decimal] | None = None
) -> ContractSpec | None:
    """Spec for a symbol, with a `{ROOT}_POINT_VALUE` override applied when configured."""
    root = resolve_root(symbol)
    if root is None:
        return None
    spec = CONTRACT_SPECS[root]
    if point_value_overrides and root in point_value_overrides:
        spec = ContractSpec(spec.root, spec.name, Decimal(point_value_overrides[root]), spec.tick_size)
    return spec
