"""The trade journal and a trade's story:

    GET /dashboard/trades?since=&until=&firm=&program=&strategy=&symbol=&outcome=&mode=&limit=&offset=
    GET /dashboard/trades.csv   (the same filters, no paging: every matching row)
    GET /dashboard/trades/<trade_id>

Filters are validated like the query API's (a bad or unknown one is a 400 naming it; an empty
form field means "any"); `since`/`until` bound the entry time. The journal reads at most
MAX_TRADES positions (newest first) and says when it was capped. Every value a sender chose
(trade ids, strategy names, payloads) is escaped by the templates' autoescape, and the CSV
neutralises cells a spreadsheet would run as formulas (dashboard/journal.py).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from flask import Response, current_app
from pydantic import Field, field_validator

from dashboard.blueprint import bp, render_page
from dashboard.execution_stats import point_value_of
from dashboard.journal import CSV_COLUMNS, Mode, Outcome, journal_rows, totals
from dashboard.params import TimeWindow, known_firm, parse_query
from dashboard.stages import lanes
from database.journal_repository import MAX_TRADES, JournalFilter, JournalRepository
from database.json_documents import json_document_problem
from instruments import resolve_root
from web.browser_auth import require_admin_browser
from web.errors import error_response


class JournalFilters(TimeWindow):
    firm: str | None = None
    program: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    strategy: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    symbol: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    outcome: Outcome | None = None
    mode: Mode | None = None

    @field_validator("firm")
    @classmethod
    def _firm(cls, value: str | None) -> str | None:
        return known_firm(value)

    @field_validator("symbol")
    @classmethod
    def _root(cls, value: str | None) -> str | None:
        if value is None:
            return None
        root = resolve_root(value)
        if root is None:
            raise ValueError("unknown symbol (no contract spec)")
        return root

    @field_validator("outcome", "mode", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def repository_filter(self) -> JournalFilter:
        return JournalFilter(since=self.since, until=self.until, firm=self.firm, program_id=self.program,
                             strategy=self.strategy, symbol=self.symbol,
                             live=None if self.mode is None else self.mode == Mode.LIVE,
                             opened=self.outcome != Outcome.NOT_OPENED)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for the CSV link and the pager)."""
        return {k: (v.isoformat() if hasattr(v, "isoformat") else str(v))
                for k, v in self.model_dump().items() if v is not None}


class JournalPage(JournalFilters):
    limit: Annotated[int, Field(ge=1, le=1000)] = 200
    offset: Annotated[int, Field(ge=0, le=MAX_TRADES)] = 0


def _rows(filters: JournalFilters) -> tuple[list[Any], bool]:
    repo = JournalRepository(current_app.extensions["db_engine"])
    positions = repo.positions(filters.repository_filter())
    ledger = repo.ledger_rows((p["id"] for p in positions), (p["trade_id"] for p in positions))
    rows = journal_rows(positions, ledger, point_value_of(current_app))
    if filters.outcome is not None:
        rows = [r for r in rows if r.outcome == filters.outcome]
    return rows, len(positions) >= MAX_TRADES


@bp.get("/dashboard/trades")
@require_admin_browser(html=True)
def trades():
    params = parse_query(JournalPage, drop_empty=True)
    if not isinstance(params, JournalPage):
        return params
    rows, capped = _rows(params)
    filters = JournalFilters(**{k: v for k, v in params.model_dump().items() if k not in ("limit", "offset")})
    return render_page("trades.html", rows=rows[params.offset:params.offset + params.limit], total=len(rows),
                       totals=totals(rows), capped=capped, params=params, query=filters.query(),
                       outcomes=tuple(Outcome), modes=tuple(Mode), firms=current_app.config["ROUTER_SETTINGS"].route_to_firms)


@bp.get("/dashboard/trades.csv")
@require_admin_browser(html=True)
def trades_csv():
    params = parse_query(JournalFilters, drop_empty=True)
    if not isinstance(params, JournalFilters):
        return params
    rows, capped = _rows(params)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(row.csv_row() for row in rows)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="trades.csv"'
    response.headers["X-Journal-Capped"] = "true" if capped else "false"
    return response


@bp.get("/dashboard/trades/<path:trade_id>")
@require_admin_browser(html=True)
def trade(trade_id: str):
    if len(trade_id) > 255 or json_document_problem({"trade_id": trade_id}, "path") is not None:
        return error_response(400, "invalid_path", "Not a trade id.", {"trade_id": "at most 255 characters, no NUL"})
    repo = JournalRepository(current_app.extensions["db_engine"])
    story = repo.story(trade_id)
    if not story["tasks"] and not story["positions"]:
        return render_page("trade.html", trade_id=trade_id, story=None, rows=[]), 404
    ledger = repo.ledger_rows((p["id"] for p in story["positions"]), (trade_id,))
    positions = [dict(p, strategy=_strategy(story)) for p in story["positions"]]
    for task in story["tasks"]:
        task["lanes"] = lanes(task["result"] or {})
        task["payload_text"] = json.dumps(task["payload"], indent=1, sort_keys=True, default=str)
    return render_page("trade.html", trade_id=trade_id, story=story,
                       rows=journal_rows(positions, ledger, point_value_of(current_app)))


def _strategy(story: dict[str, Any]) -> str | None:
    for task in story["tasks"]:
        payload = task["payload"] if isinstance(task["payload"], dict) else {}
        name = payload.get("strategy_name", payload.get("strategy"))
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None
