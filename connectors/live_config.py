"""Per-firm live settings the connectors need, read from FirmSettings.env/secrets, and the
start-up check that names every missing or malformed variable (docs/design.md Decision 6).

Variables (all `{FIRM}_...`; secrets are those ending API_KEY/API_SECRET/PASSWORD/TOKEN/SECRET):
- every live firm: `API_URL` (http(s)://...), the firm's credentials (REQUIRED_CREDENTIALS), and
  per program an account id: `{FIRM}_{ID}_ACCOUNT_ID`, falling back to `{FIRM}_ACCOUNT_ID`, and
  `{FIRM}_{ID}_MAX_CONTRACTS`: a live account never trades on the risk formula alone.
- FTMO (MetaTrader 5 CFDs): `FTMO_SYMBOL_MAP=NQ:US100.cash,ES:US500.cash` (futures root -> the
  account's CFD symbol) and `FTMO_{ID}_LOTS_PER_CONTRACT`. A CFD lot is not a futures contract
  (FTMO's US100.cash moves $1 per point per lot where NQ moves $20 per contract), so the volume is
  `contracts x LOTS_PER_CONTRACT`, rounded down to 0.01 lot. We refuse to guess the ratio: a live
  FTMO program without it does not start.
- APEX (Tradovate): `APEX_APP_ID`, `APEX_CID`, optional `APEX_{ID}_ACCOUNT_SPEC`/`APEX_ACCOUNT_SPEC`
  (defaults to `APEX_USERNAME`), optional `APEX_SYMBOL_MAP=NQ:NQZ5` (else the front contract is
  looked up with /contract/suggest).
- TOPSTEP (ProjectX): optional `TOPSTEP_SYMBOL_MAP=NQ:ENQ` (ProjectX product codes; NQ->ENQ and
  ES->EP are built in).
- `{FIRM}_ALLOW_AUTOMATION=true`: required to route live to a firm whose published rules forbid
  fully automated trading (prop_firm_registry.automation_policy).
- APEX/TOPSTEP: two live programs on one account id are refused unless
  `{FIRM}_ALLOW_SHARED_ACCOUNT=true`: these APIs net by account and contract, so the programs'
  trades would be one position there.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from config.settings import FirmSettings
from instruments import CONTRACT_SPECS

REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "FTMO": ("API_URL", "API_KEY"),
    "APEX": ("API_URL", "USERNAME", "PASSWORD", "APP_ID", "CID", "API_SECRET"),
    "TOPSTEP": ("API_URL", "USERNAME", "API_KEY"),
}

NETTING_FIRMS = ("APEX", "TOPSTEP")
"""Firms whose API holds one net position per account and contract (orders close by account)."""
_SYMBOL = re.compile(r"^[A-Za-z0-9._\-#]{1,32}$")


def value(firm: FirmSettings, name: str) -> str | None:
    """A `{FIRM}_{name}` value, secret or plain (secrets unwrapped only here, for the wire)."""
    if name in firm.secrets:
        return firm.secrets[name].get_secret_value()
    return firm.env.get(name)


def secret_values(firm: FirmSettings) -> list[str]:
    return [s.get_secret_value() for s in firm.secrets.values()]


def account_id(firm: FirmSettings, program_id: int) -> str | None:
    return firm.env.get(f"{program_id}_ACCOUNT_ID") or firm.env.get("ACCOUNT_ID")


def symbol_map(firm: FirmSettings) -> dict[str, str]:
    """`ROOT:SYMBOL,...` parsed; ValueError naming the bad part."""
    raw = firm.env.get("SYMBOL_MAP")
    mapping: dict[str, str] = {}
    if not raw:
        return mapping
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        root, sep, symbol = part.partition(":")
        root, symbol = root.strip().upper(), symbol.strip()
        if not sep or root not in CONTRACT_SPECS or not _SYMBOL.match(symbol):
            raise ValueError(f"{part!r} is not ROOT:SYMBOL with a known root ({', '.join(CONTRACT_SPECS)})")
        mapping[root] = symbol
    return mapping


def lots_per_contract(firm: FirmSettings, program_id: int) -> Decimal | None:
    """ValueError for a value that is not a positive number."""
    raw = firm.env.get(f"{program_id}_LOTS_PER_CONTRACT")
    if raw is None:
        return None
    try:
        lots = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not lots.is_finite() or lots <= 0 or lots > 1000:
        raise ValueError(f"{raw!r} must be a positive number of lots (at most 1000)")
    return lots


def allow_automation(firm: FirmSettings) -> bool:
    return _flag(firm, "ALLOW_AUTOMATION")


def _flag(firm: FirmSettings, name: str) -> bool:
    return (firm.env.get(name) or "").strip().lower() in {"1", "true", "yes", "on"}


def live_config_problems(firm: FirmSettings) -> list[str]:
    """Everything a live connector for `firm` needs, as `VARIABLE: problem` lines."""
    code = firm.code
    problems: list[str] = []
    for name in REQUIRED_CREDENTIALS.get(code, ()):
        if not value(firm, name):
            problems.append(f"{code}_{name}: required to route {code} live")
    url = firm.env.get("API_URL")
    if url and not re.match(r"^https?://", url):
        problems.append(f"{code}_API_URL={url!r}: must start with http:// or https://")
    programs_by_account: dict[str, list[int]] = {}
    for pid in firm.program_ids:
        if firm.programs[pid].max_contracts is None:
            problems.append(f"{code}_{pid}_MAX_CONTRACTS: required to route program {pid} live (the most contracts "
                            "one order of this account may hold; MAX_CONTRACTS_PER_ORDER still caps it)")
        account = account_id(firm, pid)
        if not account:
            problems.append(f"{code}_{pid}_ACCOUNT_ID (or {code}_ACCOUNT_ID): required to route program {pid} live")
        elif code in NETTING_FIRMS and not account.isdecimal():
            problems.append(f"{code}_{pid}_ACCOUNT_ID={account!r}: must be the firm's numeric account id")
        else:  # by number: the connectors send int(account), so 0201 and 201 are one account
            programs_by_account.setdefault(str(int(account)) if account.isdecimal() else account, []).append(pid)
    if code in NETTING_FIRMS and not _flag(firm, "ALLOW_SHARED_ACCOUNT"):
        for account, pids in programs_by_account.items():
            if len(pids) > 1:
                problems.append(
                    f"{code}_{pids[0]}_ACCOUNT_ID: programs {', '.join(map(str, pids))} share {code} account {account}. "
                    f"{code} holds one net position per account and contract, so one program's exit would close the "
                    f"other's contracts (and an APEX stop cut treats their stops as one): give each program its own "
                    f"account ({', '.join(f'{code}_{p}_ACCOUNT_ID' for p in pids)}), or set {code}_ALLOW_SHARED_ACCOUNT=true "
                    f"to accept that")
    try:
        mapping = symbol_map(firm)
    except ValueError as exc:
        problems.append(f"{code}_SYMBOL_MAP: {exc}")
        mapping = {}
    if code == "FTMO":
        if not mapping:
            problems.append("FTMO_SYMBOL_MAP: required to route FTMO live (futures root -> MT5 symbol, "
                            "e.g. NQ:US100.cash,ES:US500.cash)")
        for pid in firm.program_ids:
            try:
                if lots_per_contract(firm, pid) is None:
                    problems.append(f"FTMO_{pid}_LOTS_PER_CONTRACT: required to route FTMO program {pid} live "
                                    "(MT5 lots per futures contract; e.g. 20 for US100.cash vs NQ at $1/point per lot)")
            except ValueError as exc:
                problems.append(f"FTMO_{pid}_LOTS_PER_CONTRACT: {exc}")
    return problems
