"""The MetaApi REST subset the FTMO connector speaks, modelled on MetaApi's documentation (a link
per behaviour), including its unfriendly parts: result codes that are successes although not
DONE, an outcome MetaApi itself calls unknown, paged history, and a CFD with its own price."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from simulator.core import Simulator

CFD_PRICES = {"US100.cash": 16380.0, "US500.cash": 4550.0}
"""The cash CFDs' quotes: not the futures' (NQ 16500 in the tests), which trade at a premium."""
CFD_POINT = {"US100.cash": 0.01, "US500.cash": 0.01}

# https://metaapi.cloud/docs/client/models/metatraderTradeResponse/ (MT5 error codes) and, for 10016,
# https://www.mql5.com/en/docs/constants/errorswarnings/enum_trade_return_codes
TRADE_CODES = {
    "ERR_NO_ERROR": (0, "No error"),
    "TRADE_RETCODE_PLACED": (10008, "Order placed"),
    "TRADE_RETCODE_DONE": (10009, "Request completed"),
    "TRADE_RETCODE_DONE_PARTIAL": (10010, "Only part of the request was completed"),
    "TRADE_RETCODE_NO_CHANGES": (10025, "No changes in request"),
    "TRADE_RETCODE_DISCONNECTED_DURING_TRADE": (-11, "The trade request was delivered to the trading server, "
                                                     "however the server has terminated connection afterwards"),
    "ERR_TRADE_TIMED_OUT": (-7, "Trade timed out"),
    "TRADE_RETCODE_REJECT": (10006, "Request rejected"),
    "TRADE_RETCODE_INVALID": (10013, "Invalid request"),
    "TRADE_RETCODE_INVALID_STOPS": (10016, "Invalid stops in the request"),
    "TRADE_RETCODE_POSITION_CLOSED": (10036, "Position with the specified POSITION_IDENTIFIER has already been closed"),
}
HISTORY_LIMIT_MAX = 1000
"""https://metaapi.cloud/docs/client/restApi/api/retrieveHistoricalData/readHistoryOrdersByTimeRange/:
"limit | number | pagination limit, default: 1000, min: 1, max: 1000"; "offset ... default: 0, min: 0"."""


def trade_answer(code: str, **ids: str) -> dict[str, Any]:
    numeric, message = TRADE_CODES[code]
    return {"numericCode": numeric, "stringCode": code, "message": message, **ids}


def add_history(sim: "Simulator", account: str, count: int, age: timedelta = timedelta(hours=1)) -> None:
    """`count` filled orders of other trades in `account`'s history, older than anything sent next."""
    at = datetime.now(timezone.utc) - age
    with sim.lock:
        history = sim.metaapi_history.setdefault(account, [])
        for n in range(count):
            history.append(_history_order(str(next(sim.ids)), f"OT_US100_{n}", "ORDER_TYPE_BUY", 1.0,
                                          "ORDER_STATE_FILLED", at=at))


def _history_order(order_id: str, client_id: str | None, order_type: str, volume: float, state: str,
                   position_id: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """A MetatraderOrder (https://metaapi.cloud/docs/client/models/metatraderOrder/): `state` one of
    ORDER_STATE_FILLED / ORDER_STATE_REJECTED / ORDER_STATE_CANCELED ..., `currentVolume` the part
    not filled (the docs' example: a filled order has currentVolume 0)."""
    at = at or datetime.now(timezone.utc)
    stamp = at.isoformat().replace("+00:00", "Z")
    return {"id": order_id, "clientId": client_id, "platform": "mt5", "type": order_type, "state": state,
            "volume": volume, "currentVolume": 0 if state == "ORDER_STATE_FILLED" else volume,
            "positionId": position_id, "time": stamp, "doneTime": stamp}


def _level(body: dict[str, Any], field: str, buy: bool, price: float, symbol: str) -> tuple[float | None, str | None]:
    """(absolute stop or target, None) or (None, refusal code) for `field` stopLoss / takeProfit.

    https://metaapi.cloud/docs/client/models/metatraderTrade/: `stopLossUnits` / `takeProfitUnits`
    ABSOLUTE_PRICE (the default) is the final price; RELATIVE_PRICE / RELATIVE_POINTS a distance in
    price / points. The sign of a relative value is not documented; the REST trade page gives
    stopLoss and takeProfit "min: 0" (https://metaapi.cloud/docs/client/restApi/api/trade/), so this
    simulator takes a positive distance - a stop on the losing side of its own fill price, a target
    on the profit side - and refuses anything else. A level on the wrong side of the price is
    refused as MT5 does (10016 TRADE_RETCODE_INVALID_STOPS)."""
    value = body.get(field)
    if value is None:
        return None, None
    units = body.get(f"{field}Units", "ABSOLUTE_PRICE")
    above = buy != (field == "stopLoss")  # a buy's target and a sell's stop lie above the price
    if units == "ABSOLUTE_PRICE":
        level = float(value)
    elif units in ("RELATIVE_PRICE", "RELATIVE_POINTS"):
        distance = float(value) * (CFD_POINT.get(symbol, 0.01) if units == "RELATIVE_POINTS" else 1.0)
        if distance <= 0:
            return None, "TRADE_RETCODE_INVALID_STOPS"
        level = price + distance if above else price - distance
    else:  # RELATIVE_PIPS / _CURRENCY / _BALANCE_PERCENTAGE are documented but not modelled here
        return None, "TRADE_RETCODE_INVALID"
    if (level <= price) if above else (level >= price):
        return None, "TRADE_RETCODE_INVALID_STOPS"
    return round(level, 2), None


def reach(sim: "Simulator", account: str, symbol: str, price: float) -> None:
    """The CFD trades at `price`: every position of `account` on `symbol` whose stop or take-profit
    the price reached is closed by the broker (the levels belong to the position,
    https://metaapi.cloud/docs/client/models/metatraderPosition/), its history order filled."""
    with sim.lock:
        sim.metaapi_prices[symbol] = price
        for pos in list(sim.metaapi_positions.get(account, [])):
            buy = pos["type"] == "POSITION_TYPE_BUY"
            stop, target = pos.get("stopLoss"), pos.get("takeProfit")
            hit = [why for why, level, crossed in (
                ("STOP_LOSS", stop, stop is not None and (price <= stop if buy else price >= stop)),
                ("TAKE_PROFIT", target, target is not None and (price >= target if buy else price <= target)),
            ) if crossed]
            if hit:
                _close(sim, account, {"actionType": "POSITION_CLOSE_ID", "positionId": pos["id"], "clientId": None},
                       reason=hit[0])


def _reject(sim: "Simulator", account: str, body: dict[str, Any]) -> dict[str, Any]:
    """The broker refuses the order: in the history as rejected, nothing filled, nothing changed."""
    pos = next((p for p in sim.metaapi_positions.get(account, []) if p["id"] == str(body.get("positionId"))), {})
    volume = body.get("volume", pos.get("volume", 0.0))
    order_type = body["actionType"] if not pos else (
        "ORDER_TYPE_SELL" if pos["type"] == "POSITION_TYPE_BUY" else "ORDER_TYPE_BUY")
    order = sim._record("FTMO", account=account, kind="REJECTED", quantity=volume, client_id=body.get("clientId"),
                        body=body)
    sim.metaapi_history.setdefault(account, []).append(_history_order(
        str(order["id"]), body.get("clientId"), order_type, volume, "ORDER_STATE_REJECTED",
        body.get("positionId")))
    return trade_answer("TRADE_RETCODE_REJECT")


def _open(sim: "Simulator", account: str, body: dict[str, Any]) -> dict[str, Any]:
    buy = body["actionType"] == "ORDER_TYPE_BUY"
    symbol, volume, side = body["symbol"], body["volume"], "BUY" if buy else "SELL"
    history = sim.metaapi_history.setdefault(account, [])
    price = sim.metaapi_prices.get(symbol)
    if price is None:
        return trade_answer("TRADE_RETCODE_INVALID")
    (stop, stop_refusal), (target, target_refusal) = (_level(body, field, buy, price, symbol)
                                                      for field in ("stopLoss", "takeProfit"))
    if stop_refusal or target_refusal:
        return trade_answer(stop_refusal or target_refusal)
    position_id = str(next(sim.ids))
    sim.metaapi_positions.setdefault(account, []).append(
        {"id": position_id, "symbol": symbol, "volume": volume, "openPrice": price, "stopLoss": stop,
         "takeProfit": target, "type": "POSITION_TYPE_BUY" if buy else "POSITION_TYPE_SELL",
         "clientId": body.get("clientId")})
    order = sim._record("FTMO", account=account, kind="OPEN", side=side, quantity=volume, symbol=symbol, stop=stop,
                        target=target, fill_price=price, client_id=body.get("clientId"), body=body)
    history.append(_history_order(str(order["id"]), body.get("clientId"), body["actionType"], volume,
                                  "ORDER_STATE_FILLED", position_id))
    return trade_answer("TRADE_RETCODE_DONE", orderId=str(order["id"]), positionId=position_id)


def _close(sim: "Simulator", account: str, body: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
    """A close (POSITION_CLOSE_ID / POSITION_PARTIAL), or the broker's own at a stop or target
    (`reason`); a partial close keeps the position, with its stop and target, for the rest."""
    positions = sim.metaapi_positions.setdefault(account, [])
    pos = next((p for p in positions if p["id"] == str(body.get("positionId"))), None)
    if pos is None:
        return trade_answer("TRADE_RETCODE_POSITION_CLOSED")
    volume = pos["volume"] if body["actionType"] == "POSITION_CLOSE_ID" else body["volume"]
    pos["volume"] = round(pos["volume"] - volume, 2)
    if pos["volume"] <= 0:
        positions.remove(pos)
    buy = pos["type"] == "POSITION_TYPE_SELL"
    order = sim._record("FTMO", account=account, kind="CLOSE", side="BUY" if buy else "SELL", quantity=volume,
                        symbol=pos["symbol"], client_id=body.get("clientId"), position_id=pos["id"], body=body,
                        reason=reason)
    sim.metaapi_history.setdefault(account, []).append(_history_order(
        str(order["id"]), body.get("clientId"), "ORDER_TYPE_BUY" if buy else "ORDER_TYPE_SELL", volume,
        "ORDER_STATE_FILLED", pos["id"]))
    return trade_answer("TRADE_RETCODE_DONE", orderId=str(order["id"]), positionId=pos["id"])


def _take_trade_faults(sim: "Simulator") -> tuple[str | None, bool, bool]:
    """(forced result code, whether that trade is executed anyway, whether the broker rejects it)."""
    f = sim.faults["FTMO"]
    code, executed = f["retcode"], f["retcode_executed"]
    f["retcode"] = None
    rejected = f["reject_orders"] > 0
    if rejected:
        f["reject_orders"] -= 1
    return code, executed, rejected


def _page(history: list[dict[str, Any]], start: str, end: str) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the time window (startTime inclusive, endTime exclusive), oldest first."""
    try:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", HISTORY_LIMIT_MAX))
        first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError as exc:
        return [], str(exc)
    if offset < 0 or not 1 <= limit <= HISTORY_LIMIT_MAX:
        return [], f"offset must be >= 0 and limit between 1 and {HISTORY_LIMIT_MAX}"
    window = [o for o in history if first <= datetime.fromisoformat(o["time"].replace("Z", "+00:00")) < last]
    return window[offset:offset + limit], None


def register(sim: "Simulator", app: Flask) -> None:
    """MetaApi (FTMO) endpoints."""
    base = "/users/current/accounts/<account>"

    def authorised() -> bool:
        sim._pre("FTMO")
        return request.headers.get("auth-token") == sim.credentials["FTMO_API_KEY"]

    @app.post(base + "/trade")
    def metaapi_trade(account: str):
        """https://metaapi.cloud/docs/client/restApi/api/trade/"""
        if not authorised():
            return jsonify({"error": "UnauthorizedError"}), 401
        fault = sim._submission_fault("FTMO")
        if fault is not None:
            return fault
        body = request.get_json(force=True)
        action = body.get("actionType")
        if action not in ("ORDER_TYPE_BUY", "ORDER_TYPE_SELL", "POSITION_CLOSE_ID", "POSITION_PARTIAL"):
            return jsonify({"error": "ValidationError", "message": f"unsupported actionType {action}"}), 400
        with sim.lock:
            code, executed, rejected = _take_trade_faults(sim)
            answer = None
            if code is None or executed:
                opening = action in ("ORDER_TYPE_BUY", "ORDER_TYPE_SELL")
                answer = (_reject(sim, account, body) if rejected else
                          _open(sim, account, body) if opening else _close(sim, account, body))
            if code is not None:  # the answer says `code`, whatever was done
                ids = {k: v for k, v in (answer or {}).items() if k in ("orderId", "positionId")}
                answer = trade_answer(code, **(ids if code in ("TRADE_RETCODE_NO_CHANGES", "ERR_NO_ERROR") else {}))
        sim._maybe_hang("FTMO")
        return jsonify(answer)

    @app.get(base + "/positions")
    def metaapi_positions(account: str):
        if not authorised():
            return jsonify({"error": "UnauthorizedError"}), 401
        with sim.lock:
            return jsonify(sim.metaapi_positions.get(account, []))

    @app.get(base + "/history-orders/time/<start>/<end>")
    def metaapi_history(account: str, start: str, end: str):
        if not authorised():
            return jsonify({"error": "UnauthorizedError"}), 401
        with sim.lock:
            page, problem = _page(sim.metaapi_history.get(account, []), start, end)
        if problem is not None:
            return jsonify({"id": 1, "error": "ValidationError", "message": problem}), 400
        return jsonify(page)

    @app.get(base + "/accountInformation")
    def metaapi_account(account: str):
        """https://metaapi.cloud/docs/client/restApi/api/readTradingTerminalState/readAccountInformation/"""
        if not authorised():
            return jsonify({"error": "UnauthorizedError"}), 401
        figures = sim.account("FTMO", account, balance=100000.0, equity=100000.0)
        return jsonify({"platform": "mt5", "broker": "FTMO S.R.O.", "currency": "USD",
                        "balance": figures["balance"], "equity": figures["equity"], "login": account})
