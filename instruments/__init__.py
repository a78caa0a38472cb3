"""Futures contract specifications and TradingView symbol resolution."""
from instruments.contract_specs import (
    CONTRACT_SPECS,
    ContractSpec,
    get_contract_spec,
    resolve_root,
)

__all__ = ["CONTRACT_SPECS", "ContractSpec", "get_contract_spec", "resolve_root"]
