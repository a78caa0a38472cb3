"""The `{FIRM}_...` settings a live connector needs, read once with the rest of Settings, and the
start-up check that names every missing or malformed one (docs/design.md Decision 6).

Values are parsed for every routed firm, but only a firm routed live must have them, so a value
that does not parse is kept in `invalid` (variable -> why) and refused by `live_config_problems`
when the firm goes live; a dry-run firm starts whatever they say.

Variables (all `{FIRM}_...`):
- every live firm: `API_URL` (http(s)://...), the firm's credentials (REQUIRED_CREDENTIALS), and
  per program an account id: `{FIRM}_{ID}_ACCOUNT_ID`, falling back to `{FIRM}_ACCOUNT_ID`, and
  `{FIRM}_{ID}_MAX_CONTRACTS`: a live account never trades on the risk formula alone.
- FTMO (MetaTrader 5 CFDs): `FTMO_SYMBOL_MAP=NQ:US100.cash,ES:US500.cash` (futures root -> the
  account's CFD symbol) and `FTMO_{ID}_LOTS_PER_CONTRACT`. A CFD lot is not a futures contract
  (FTMO's US100.cash moves $1 per point per lot where NQ moves $20 per contract), so the volume is
  `contracts x LOTS_PER_CONTRACT`, rounded down to 0.01 lot. We refuse to guess the ratio: a live
  FTMO program without it does not start.
- APEX (Tradovate): `APEX_APP_ID`, `APEX_CID`, optional `APEX_{ID}_ACCOUNT_SPEC`/`APEX_ACCOUNT_SPEC`
  (defaults to the account's name from /account/list), optional `APEX_SYMBOL_MAP=NQ:NQZ5` (else the
  front contract is asked of /contract/rollcontract).
- TOPSTEP (ProjectX): optional `TOPSTEP_SYMBOL_MAP=NQ:ENQ` (ProjectX product codes; NQ->ENQ and
  ES->EP are built in). The account must be in Auto OCO Brackets mode; no API field shows
  the mode, so it is not checked here: an entry with a stop is refused POSITION_BRACKETS_MODE
  (docs/live-trading.md, Start-up checks).
- `{FIRM}_ALLOW_AUTOMATION=true`: required to route live to a firm whose published rules forbid
  fully automated trading (prop_firm_registry.automation_policy).
- APEX/TOPSTEP: two live programs on one account id are refused unless
  `{FIRM}_ALLOW_SHARED_ACCOUNT=true`: these APIs net by account and contract, so the programs'
  trades would be one position there.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from instruments import CONTRACT_SPECS

if TYPE_CHECKING:
    from config.settings import FirmSettings

REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "FTMO": ("API_URL", "API_KEY"),
    "APEX": ("API_URL", "USERNAME", "PASSWORD", "APP_ID", "CID", "API_SECRET"),
    "TOPSTEP": ("API_URL", "USERNAME", "API_KEY"),
}

NETTING_FIRMS = ("APEX", "TOPSTEP")
"""Firms whose API holds one net position per account and contract (orders close by account)."""
_SYMBOL = re.compile(r"^[A-Za-z0-9._\-#]{1,32}$")
_TRUE = {"1", "true", "yes", "on"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LiveProgramSettings(_Frozen):
    """One program's account at its firm."""

    account_id: str | None = None
    """`{FIRM}_{ID}_ACCOUNT_ID`, else `{FIRM}_ACCOUNT_ID`."""
    account_spec: str | None = None
    """Tradovate's account name: `APEX_{ID}_ACCOUNT_SPEC`, else `APEX_ACCOUNT_SPEC`."""
    lots_per_contract: Decimal | None = None
    """FTMO: MT5 lots per futures contract (`FTMO_{ID}_LOTS_PER_CONTRACT`)."""


class LiveFirmSettings(_Frozen):
    """A firm's API address, credentials (secrets as SecretStr), symbols and waivers."""

    api_url: str | None = None
    username: str | None = None
    app_id: str | None = None
    cid: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    password: SecretStr | None = None
    symbol_map: dict[str, str] = Field(default_factory=dict)
    """`{FIRM}_SYMBOL_MAP`: futures root -> the firm's symbol."""
    allow_automation: bool = False
    allow_shared_account: bool = False
    programs: dict[int, LiveProgramSettings] = Field(default_factory=dict)
    invalid: dict[str, str] = Field(default_factory=dict)
    """Variables whose value did not parse (the field is then unset) -> why, for the live check."""

    def program(self, program_id: int) -> LiveProgramSettings:
        return self.programs.get(program_id) or LiveProgramSettings()

    def credential(self, name: str) -> str | None:
        """A credential by its variable suffix (`API_KEY`, `USERNAME`...), unwrapped: for the wire only."""
        value = getattr(self, name.lower())
        return value.get_secret_value() if isinstance(value, SecretStr) else value


def read_live_settings(env: Mapping[str, str], program_ids: tuple[int, ...]) -> LiveFirmSettings:
    """`env` holds a firm's `{FIRM}_*` variables without the prefix, empty values left out."""
    invalid: dict[str, str] = {}
    try:
        symbols = _symbol_map(env.get("SYMBOL_MAP"))
    except ValueError as exc:
        invalid["SYMBOL_MAP"] = str(exc)
        symbols = {}
    programs = {}
    for pid in program_ids:
        try:
            lots = _lots(env.get(f"{pid}_LOTS_PER_CONTRACT"))
        except ValueError as exc:
            invalid[f"{pid}_LOTS_PER_CONTRACT"] = str(exc)
            lots = None
        programs[pid] = LiveProgramSettings(
            account_id=env.get(f"{pid}_ACCOUNT_ID") or env.get("ACCOUNT_ID"),
            account_spec=env.get(f"{pid}_ACCOUNT_SPEC") or env.get("ACCOUNT_SPEC"),
            lots_per_contract=lots,
        )
    secret = {name: SecretStr(env[name]) if env.get(name) else None for name in ("API_KEY", "API_SECRET", "PASSWORD")}
    return LiveFirmSettings(
        api_url=env.get("API_URL"), username=env.get("USERNAME"), app_id=env.get("APP_ID"), cid=env.get("CID"),
        api_key=secret["API_KEY"], api_secret=secret["API_SECRET"], password=secret["PASSWORD"],
        symbol_map=symbols, allow_automation=_flag(env.get("ALLOW_AUTOMATION")),
        allow_shared_account=_flag(env.get("ALLOW_SHARED_ACCOUNT")), programs=programs, invalid=invalid,
    )


def _symbol_map(raw: str | None) -> dict[str, str]:
    """`ROOT:SYMBOL,...` parsed; ValueError naming the bad part."""
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


def _lots(raw: str | None) -> Decimal | None:
    """ValueError for a value that is not a positive number."""
    if raw is None:
        return None
    try:
        lots = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not lots.is_finite() or lots <= 0 or lots > 1000:
        raise ValueError(f"{raw!r} must be a positive number of lots (at most 1000)")
    return lots


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in _TRUE


def live_config_problems(firm: FirmSettings) -> list[str]:
    """Everything a live connector for `firm` needs, as `VARIABLE: problem` lines."""
    code, live = firm.code, firm.live
    problems: list[str] = []
    for name in REQUIRED_CREDENTIALS.get(code, ()):
        if not live.credential(name):
            problems.append(f"{code}_{name}: required to route {code} live")
    url = live.api_url
    if url and not re.match(r"^https?://", url):
        problems.append(f"{code}_API_URL={url!r}: must start with http:// or https://")
    programs_by_account: dict[str, list[int]] = {}
    for pid in firm.program_ids:
        if firm.programs[pid].max_contracts is None:
            problems.append(f"{code}_{pid}_MAX_CONTRACTS: required to route program {pid} live (the most contracts "
                            "one order of this account may hold; MAX_CONTRACTS_PER_ORDER still caps it)")
        account = live.program(pid).account_id
        if not account:
            problems.append(f"{code}_{pid}_ACCOUNT_ID (or {code}_ACCOUNT_ID): required to route program {pid} live")
        elif code in NETTING_FIRMS and not account.isdecimal():
            problems.append(f"{code}_{pid}_ACCOUNT_ID={account!r}: must be the firm's numeric account id")
        else:  # by number: the connectors send int(account), so 0201 and 201 are one account
            programs_by_account.setdefault(str(int(account)) if account.isdecimal() else account, []).append(pid)
    if code in NETTING_FIRMS and not live.allow_shared_account:
        for account, pids in programs_by_account.items():
            if len(pids) > 1:
                problems.append(
                    f"{code}_{pids[0]}_ACCOUNT_ID: programs {', '.join(map(str, pids))} share {code} account {account}. "
                    f"{code} holds one net position per account and contract, so one program's exit would close the "
                    f"other's contracts (and an APEX stop cut treats their stops as one): give each program its own "
                    f"account ({', '.join(f'{code}_{p}_ACCOUNT_ID' for p in pids)}), or set {code}_ALLOW_SHARED_ACCOUNT=true "
                    f"to accept that")
    if "SYMBOL_MAP" in live.invalid:
        problems.append(f"{code}_SYMBOL_MAP: {live.invalid['SYMBOL_MAP']}")
    if code == "FTMO":
        if not live.symbol_map:
            problems.append("FTMO_SYMBOL_MAP: required to route FTMO live (futures root -> MT5 symbol, "
                            "e.g. NQ:US100.cash,ES:US500.cash)")
        for pid in firm.program_ids:
            if f"{pid}_LOTS_PER_CONTRACT" in live.invalid:
                problems.append(f"FTMO_{pid}_LOTS_PER_CONTRACT: {live.invalid[f'{pid}_LOTS_PER_CONTRACT']}")
            elif live.program(pid).lots_per_contract is None:
                problems.append(f"FTMO_{pid}_LOTS_PER_CONTRACT: required to route FTMO program {pid} live "
                                "(MT5 lots per futures contract; e.g. 20 for US100.cash vs NQ at $1/point per lot)")
    return problems
