"""How each program's drawdown is measured: `{FIRM}_{ID}_DRAWDOWN_MODE` and `_DRAWDOWN_TRAIL`.

The defaults (TRAILING, INTRADAY) are the strictest pair: an intraday trail's high-water mark is
never below an end-of-day one, and a floor that keeps trailing is never below one that stops at
the starting balance. A firm's published rule is looser, so it is taken only when asked for:
`{FIRM}_{ID}_DRAWDOWN_MODE=FIRM` uses the rule below for that firm (an explicit
`_DRAWDOWN_TRAIL` still wins). Changing a default instead would silently loosen the limit of
every account already configured without these variables. docs/configuration.md has the table.
"""
from __future__ import annotations

from typing import Any, Protocol

DRAWDOWN_MODES = ("STATIC", "TRAILING", "TRAILING_UNTIL_START")  # account_engine.ledger
DRAWDOWN_TRAILS = ("INTRADAY", "END_OF_DAY")  # account_engine.ledger
FIRM = "FIRM"

# The firms' published maximum-loss rules (mode, trail), by registry code.
PUBLISHED_DRAWDOWN_RULES: dict[str, tuple[str, str]] = {
    # 2-Step Maximum Loss: equity never below the initial capital minus 10%, open P&L included.
    # https://academy.ftmo.com/?p=47 (the 1-Step account trails end-of-day balances instead,
    # https://ftmo.com/au/?p=1671: set FTMO_{ID}_DRAWDOWN_MODE=TRAILING, _DRAWDOWN_TRAIL=END_OF_DAY).
    "FTMO": ("STATIC", "INTRADAY"),
    # Trailing threshold from the highest balance including open profit, while trading.
    # https://support.apextraderfunding.com (where it stops trailing depends on the account type:
    # set TRAILING_UNTIL_START yourself where yours stops at the starting balance).
    "APEX": ("TRAILING", "INTRADAY"),
    # Maximum Loss Limit: set at the end of each trading day from the balance high, and no
    # higher than the starting balance. https://help.topstep.com/en/articles/8284204-what-is-the-maximum-loss-limit
    "TOPSTEP": ("TRAILING_UNTIL_START", "END_OF_DAY"),
    # No rule published where we looked: the strictest pair.
    "BULENOX": ("TRAILING", "INTRADAY"),
    "LEELOO": ("TRAILING", "INTRADAY"),
}


class Reader(Protocol):
    problems: list[str]

    def raw(self, name: str) -> str | None: ...


def read_drawdown_rules(r: Reader, firm: str, pid: int, sources: dict[str, str]) -> dict[str, Any]:
    """The program's drawdown_mode / drawdown_trail fields (only those set), problems into `r`."""
    prefix = f"{firm}_{pid}_"
    fields: dict[str, Any] = {}
    mode, trail = r.raw(prefix + "DRAWDOWN_MODE"), r.raw(prefix + "DRAWDOWN_TRAIL")
    if mode is not None:
        if mode.upper() == FIRM:
            fields["drawdown_mode"], fields["drawdown_trail"] = PUBLISHED_DRAWDOWN_RULES.get(firm, ("TRAILING", "INTRADAY"))
            sources[f"{firm}.{pid}.drawdown_mode"] = sources[f"{firm}.{pid}.drawdown_trail"] = f"{prefix}DRAWDOWN_MODE=FIRM"
        elif mode.upper() in DRAWDOWN_MODES:
            fields["drawdown_mode"] = mode.upper()
            sources[f"{firm}.{pid}.drawdown_mode"] = prefix + "DRAWDOWN_MODE"
        else:
            r.problems.append(f"{prefix}DRAWDOWN_MODE={mode!r}: must be one of {', '.join(DRAWDOWN_MODES)} or FIRM")
    if trail is not None:
        if trail.upper() in DRAWDOWN_TRAILS:
            fields["drawdown_trail"] = trail.upper()
            sources[f"{firm}.{pid}.drawdown_trail"] = prefix + "DRAWDOWN_TRAIL"
        else:
            r.problems.append(f"{prefix}DRAWDOWN_TRAIL={trail!r}: must be one of {', '.join(DRAWDOWN_TRAILS)}")
    return fields
