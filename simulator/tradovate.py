"""The Tradovate REST subset the APEX connector speaks, with the documented unfriendly parts:
penalty tickets on any endpoint, the one-hour 429 lockout, risk rejections, contract rolls.
Account, maturity and command-report state lives here (`reset`); orders and positions in core."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request

from simulator import tradovate_orders

if TYPE_CHECKING:
    from simulator.core import Simulator

TRADOVATE_CONTRACTS = [{"id": 4001, "name": "NQZ5", "contractMaturityId": 51}, {"id": 4002, "name": "MNQZ5", "contractMaturityId": 52},
                       {"id": 4003, "name": "ESZ5", "contractMaturityId": 53}, {"id": 4004, "name": "MESZ5", "contractMaturityId": 54}]
ACCOUNT_IDS = (201, 202, 203)
PENALISED_BY_DEFAULT = ("/auth/accesstokenrequest", "/order/placeorder", "/order/placeOSO")
"""Where the `penalty` fault applies unless `penalty_paths` names others."""


def reset(sim: "Simulator") -> None:
    """Tradovate's side of `Simulator.reset`."""
    far = (datetime.now(timezone.utc) + timedelta(days=60)).isoformat(timespec="minutes").replace("+00:00", "Z")
    sim.tradovate_contracts = [dict(c) for c in TRADOVATE_CONTRACTS]
    sim.tradovate_front = {c["name"][:-2]: c["name"] for c in TRADOVATE_CONTRACTS}  # root -> front month
    sim.tradovate_maturities = {c["contractMaturityId"]: {"id": c["contractMaturityId"], "expirationDate": far,
                                                          "isFront": True} for c in TRADOVATE_CONTRACTS}
    # /account/list fields: https://partner.tradovate.com/api/rest-api-endpoints/accounting/account-list
    # (`active` is the API Education site's; names are "all-caps with optional underscores and trailing digits")
    sim.tradovate_accounts = {i: {"id": i, "name": f"APEXSIM{i}", "userId": 1, "accountType": "Customer", "active": True,
                                  "restricted": False, "closed": False} for i in ACCOUNT_IDS}
    sim.tradovate_reports = []  # CommandReports: commandId, commandStatus, rejectReason, ordStatus, text
    sim.tradovate_fills = []  # Fills: orderId, qty
    sim.tradovate_locked_until = 0.0


def roll(sim: "Simulator", root: str, name: str) -> None:
    """A quarterly roll: `name` becomes `root`'s front month, the old month's maturity expires now."""
    with sim.lock:
        old = next(c for c in sim.tradovate_contracts if c["name"] == sim.tradovate_front[root])
        sim.tradovate_maturities[old["contractMaturityId"]].update(
            expirationDate=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"), isFront=False)
        if not any(c["name"] == name for c in sim.tradovate_contracts):
            maturity = next(sim.ids)
            sim.tradovate_contracts.append({"id": next(sim.ids), "name": name, "contractMaturityId": maturity})
            later = (datetime.now(timezone.utc) + timedelta(days=90)).isoformat(timespec="minutes").replace("+00:00", "Z")
            sim.tradovate_maturities[maturity] = {"id": maturity, "expirationDate": later, "isFront": True}
        sim.tradovate_front[root] = name


def refused(sim: "Simulator") -> Any:
    """A lockout or penalty answer for this request, or None to handle it.

    429: "the server stops handling requests for a period of time and responds to each new request
    with a 429 status code", `HTTP/1.1 429 Too Many Requests` / `Content-Length: 0`, "Users must
    wait 1 hour" (https://partner.tradovate.com/overview/core-concepts/rate-limits): fault `lockout`.
    Penalty: any rate-limited endpoint may answer HTTP 200 {p-ticket, p-time, p-captcha}; the
    resubmission carries the ticket (https://partner.tradovate.com/overview/core-concepts/penalty-tickets):
    fault `penalty` on `penalty_paths`.
    """
    path = request.path.removeprefix("/v1")
    with sim.lock:
        f = sim.faults["APEX"]
        if f["lockout"] > 0 and time.time() >= sim.tradovate_locked_until:
            f["lockout"] -= 1
            sim.tradovate_locked_until = time.time() + f["lockout_seconds"]
        if time.time() < sim.tradovate_locked_until:
            return "", 429
        if path not in (f["penalty_paths"] or PENALISED_BY_DEFAULT):
            return None
        body = request.get_json(silent=True) if request.method == "POST" else None
        ticket = (body or {}).get("p-ticket") if isinstance(body, dict) else request.args.get("p-ticket")
        if ticket is not None:
            if ticket not in sim.tickets:
                return jsonify({"errorText": "invalid p-ticket"}), 400
            sim.tickets.discard(ticket)
            return None
        if f["penalty"] > 0:
            f["penalty"] -= 1
            ticket = f"ticket-{next(sim.ids)}"
            sim.tickets.add(ticket)
            return jsonify({"p-ticket": ticket, "p-time": f["penalty_time"], "p-captcha": f["penalty_captcha"]})
    return None


def register(sim: "Simulator", app: Flask) -> None:
    """Tradovate (APEX) endpoints."""
    creds = sim.credentials

    def expiry(ttl: float) -> str:
        return (datetime.now(timezone.utc) + timedelta(seconds=ttl)).isoformat().replace("+00:00", "Z")

    @app.post("/v1/auth/accesstokenrequest")
    def tv_auth():
        sim._pre("APEX")
        answer = refused(sim)
        if answer is not None:
            return answer
        body = request.get_json(force=True)
        expected = (creds["APEX_USERNAME"], creds["APEX_PASSWORD"], creds["APEX_APP_ID"],
                    str(creds["APEX_CID"]), creds["APEX_API_SECRET"])
        given = (body.get("name"), body.get("password"), body.get("appId"), str(body.get("cid")), body.get("sec"))
        if given != expected:
            return jsonify({"errorText": "Incorrect username or password"})
        with sim.lock:
            token = sim._issue("APEX")
            ttl = sim.faults["APEX"]["token_ttl"]
        return jsonify({"accessToken": token, "expirationTime": expiry(ttl), "userId": 1,
                        "name": creds["APEX_USERNAME"], "userStatus": "Active"})

    def guarded(fn):
        def wrapper(*args, **kwargs):
            sim._pre("APEX")
            answer = refused(sim)
            if answer is not None:
                return answer
            if not sim._bearer_ok("APEX"):
                return jsonify({"errorText": "Access is denied"}), 401
            return fn(*args, **kwargs)
        wrapper.__name__ = fn.__name__
        return wrapper

    @app.get("/v1/auth/renewaccesstoken")
    @guarded
    def tv_renew():
        with sim.lock:
            token = sim._issue("APEX")
            ttl = sim.faults["APEX"]["token_ttl"]
            sim._record("APEX", account=None, kind="RENEW", side=None, quantity=0, symbol=None, client_id=None)
        return jsonify({"accessToken": token, "expirationTime": expiry(ttl)})

    @app.get("/v1/account/list")
    @guarded
    def tv_accounts():
        with sim.lock:
            return jsonify([dict(a) for a in sim.tradovate_accounts.values()])

    @app.post("/v1/contract/rollcontract")
    @guarded
    def tv_roll():
        # {name, forward} -> {errorText, contract}: "the best upcoming maturity date for a given contract"
        # (https://partner.tradovate.com/api/rest-api-endpoints/contract-library/roll-contract)
        name = str(request.get_json(force=True).get("name") or "")
        with sim.lock:
            front = sim.tradovate_front.get(name)
            contract = next((c for c in sim.tradovate_contracts if c["name"] == front), None)
        if contract is None:
            return jsonify({"errorText": f"Unknown contract {name}"})
        return jsonify({"errorText": "", "contract": {**contract, "timestamp": "2025-09-19T14:30:00Z"}})

    @app.get("/v1/contractMaturity/item")
    @guarded
    def tv_maturity():
        with sim.lock:
            maturity = sim.tradovate_maturities.get(request.args.get("id", type=int))
        return (jsonify(maturity), 200) if maturity else (jsonify({"errorText": "not found"}), 404)

    @app.get("/v1/contract/find")
    @guarded
    def tv_find():
        with sim.lock:
            found = next((c for c in sim.tradovate_contracts if c["name"] == request.args.get("name")), None)
        return (jsonify(found), 200) if found else (jsonify({"errorText": "not found"}), 404)

    tradovate_orders.register(sim, app, guarded)

    @app.get("/v1/position/list")
    @guarded
    def tv_positions():
        with sim.lock:
            return jsonify([{"id": i, "accountId": a, "contractId": c, "netPos": n}
                            for i, ((a, c), n) in enumerate(sim.tradovate_net.items())])

    @app.post("/v1/cashBalance/getcashbalancesnapshot")
    @guarded
    def tv_cash():
        """https://partner.tradovate.com/api/rest-api-endpoints/accounting/get-cash-balance-snapshot"""
        body = request.get_json(force=True, silent=True) or {}
        figures = sim.account("APEX", body.get("accountId"), balance=150000.0, open_pl=0.0)
        return jsonify({"totalCashValue": figures["balance"], "realizedPnL": 0.0, "openPnL": figures["open_pl"]})
