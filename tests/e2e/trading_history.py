"""A trading history sent through the real webhook, for the dashboard's page tests (HTTP and
browser): a win with a partial exit, a loss on ES, an entry refused by sizing, a trade left open,
with the P&L each account must show computed by hand from the contract specs (instruments/:
NQ $20, ES $50, MNQ $2 a point) and the guide's Step 2 sizing (FTMO 100,000 and APEX 150,000 at
1 % risk; TOPSTEP 50,000 at 1 % where it is routed).

    T_WIN  NQ long 16500, stop 16475 (25 pt): FTMO 1000/(25x20) = 2, APEX 1500/500 = 3, TOPSTEP 500/500 = 1
           EXIT_PARTIAL 1 @ 16520: +20 x 1 x 20 = +400 each;  EXIT_TAKE_PROFIT @ 16540: +40 x 20 per contract
           FTMO +400 + 1 x 800 = +1200; APEX +400 + 2 x 800 = +2000; TOPSTEP its one contract in the partial: +400
    T_LOSS ES short 5000, stop 5010 (10 pt): FTMO 1000/(10x50) = 2, APEX 3, TOPSTEP 1
           EXIT_STOP_LOSS @ 5006: -(6) x 50 per contract: FTMO -600, APEX -900, TOPSTEP -300
    T_REFUSED NQ long 16500, stop 16499.9: inside one tick -> every sizing REJECTED (STOP_INSIDE_ONE_TICK)
    T_OPEN MNQ long 16500, stop 16450: FTMO min(1000/(50x2), 5) = 5, APEX min(15, 10) = 10, TOPSTEP 5; left open
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

HOSTILE_STRATEGY = "<script>alert('x')</script>"
T_WIN = "20260310_093000000_BULLISH"
T_LOSS = "20260310_100000000_BEARISH"
T_REFUSED = "20260310_103000000_BULLISH"
T_OPEN = "20260310_110000000_BULLISH"

REALIZED = {  # (trade, firm) -> realized P&L, by hand
    (T_WIN, "FTMO"): Decimal(1200), (T_WIN, "APEX"): Decimal(2000), (T_WIN, "TOPSTEP"): Decimal(400),
    (T_LOSS, "FTMO"): Decimal(-600), (T_LOSS, "APEX"): Decimal(-900), (T_LOSS, "TOPSTEP"): Decimal(-300),
}
CONTRACTS = {(T_WIN, "FTMO"): 2, (T_WIN, "APEX"): 3, (T_WIN, "TOPSTEP"): 1, (T_LOSS, "FTMO"): 2, (T_LOSS, "APEX"): 3,
             (T_LOSS, "TOPSTEP"): 1, (T_OPEN, "FTMO"): 5, (T_OPEN, "APEX"): 10, (T_OPEN, "TOPSTEP"): 5}
EXIT_PRICE = {(T_WIN, "FTMO"): Decimal(16530), (T_WIN, "APEX"): Decimal("16533.333333"),
              (T_WIN, "TOPSTEP"): Decimal(16520), (T_LOSS, "FTMO"): Decimal(5006), (T_LOSS, "APEX"): Decimal(5006),
              (T_LOSS, "TOPSTEP"): Decimal(5006)}
RISK = {(T_WIN, "FTMO"): Decimal(1000), (T_WIN, "APEX"): Decimal(1500), (T_WIN, "TOPSTEP"): Decimal(500),
        (T_LOSS, "FTMO"): Decimal(1000), (T_LOSS, "APEX"): Decimal(1500), (T_LOSS, "TOPSTEP"): Decimal(500)}


def entry(trade_id: str, direction: str, symbol: str, price: float, stop: float, **extra: Any) -> dict[str, Any]:
    return {"event_type": "ENTRY", "trade_id": trade_id, "direction": direction, "symbol": symbol,
            "entry_price": price, "stop_loss": stop, **extra}


def seed(post: Callable[[dict[str, Any]], dict[str, Any]], between: Callable[[], None] = lambda: None) -> list[dict]:
    """Send the history; `post` answers the result document, `between` runs after each signal."""
    signals = [
        entry(T_WIN, "Bullish", "NQ1!", 16500, 16475, strategy_name="NQ_FVG_CORE"),
        {"event_type": "EXIT_PARTIAL", "trade_id": T_WIN, "exit_price": 16520, "exit_contracts": 1},
        {"event_type": "EXIT_TAKE_PROFIT", "trade_id": T_WIN, "exit_price": 16540},
        entry(T_LOSS, "Bearish", "ES1!", 5000, 5010, strategy_name=HOSTILE_STRATEGY),
        {"event_type": "EXIT_STOP_LOSS", "trade_id": T_LOSS, "exit_price": 5006},
        entry(T_REFUSED, "Bullish", "NQ1!", 16500, 16499.9, strategy_name="nq_fvg_core"),
        entry(T_OPEN, "Bullish", "MNQ1!", 16500, 16450, strategy_name="NQ_FVG_CORE"),
    ]
    results = []
    for signal in signals:
        results.append(post(signal))
        between()
    return results
