"""Fuzzing the webhook: hypothesis-generated bodies and schemathesis cases from /openapi.json.

Whatever arrives, the answer is a documented status (never 5xx) and the database never holds a
half-written signal: every task has exactly one result and a rejected request writes nothing.
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from sqlalchemy import text

from signals import SignalError, parse_signal
from tests.conftest import GUIDE_PAYLOAD
from web import json_body
from web.json_body import MAX_JSON_DEPTH

WEBHOOK = "/api/automated-signals/webhook"
FIELDS = ["event_type", "trade_id", "symbol", "direction", "entry_price", "stop_loss", "exit_price",
          "contracts", "exit_contracts", "exit_fraction", "signals", "be_mfe", "secret"]
EVENTS = ["SIGNAL_CREATED", "ENTRY", "exit_sl", "EXIT_PARTIAL", "MFE_UPDATE", "MFE_UPDATE_BATCH", "CANCELLED", "BOGUS"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["16500.25", "NaN", "Infinity", "-1", "1e400", "NQ1!", "Bullish", "\u0000", "\ud800"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "event_type": st.sampled_from(EVENTS) | values,
        "trade_id": st.from_regex(r"\A[A-Za-z0-9_]{1,12}\Z") | values,
        **{name: values for name in FIELDS[2:]},
        "symbol": st.sampled_from(["NQ", "MNQ1!", "CME_MINI:ES1!", "DOGE"]) | values,
        "entry_price": st.sampled_from([16500, "16500.5", 0, -3]) | values,
        "stop_loss": st.sampled_from([16475, "16525", 16500]) | values,
    },
)

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def counts(engine) -> tuple[int, int, int]:
    with engine.begin() as conn:
        tasks = conn.execute(text("SELECT COUNT(*) FROM execution_tasks")).scalar_one()
        logs = conn.execute(text("SELECT COUNT(*) FROM execution_logs")).scalar_one()
        unfinished = conn.execute(text(
            "SELECT COUNT(*) FROM execution_tasks t LEFT JOIN execution_logs l ON l.task_id = t.id "
            "WHERE l.id IS NULL OR t.status NOT IN ('COMPLETED', 'FAILED')")).scalar_one()
    return tasks, logs, unfinished


@FUZZ
@given(data=bodies)
def test_parse_signal_accepts_or_names_fields(data):
    try:
        signal = parse_signal(data)
    except SignalError as exc:
        assert exc.fields and all(isinstance(v, str) for v in exc.fields.values())
    else:
        assert signal.trade_id and signal.event_type


def test_hypothesis_bodies_never_5xx_or_half_write(app):
    client, engine = app.test_client(), app.extensions["db_engine"]

    @FUZZ
    @given(data=bodies, as_text=st.booleans())
    def run(data, as_text):
        before = counts(engine)
        raw = json.dumps(data, allow_nan=True)
        resp = client.post(WEBHOOK, data=raw, content_type="text/plain" if as_text else "application/json")
        assert resp.status_code in (200, 400, 409), (resp.status_code, raw, resp.get_data(as_text=True))
        assert resp.is_json
        after = counts(engine)
        assert after[2] == 0, "a task without its result"
        if resp.status_code != 200:
            assert after[:2] == before[:2], "a rejected request wrote rows"

    run()


def test_schemathesis_cases_from_the_openapi_document(app):
    engine = app.extensions["db_engine"]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema["/api/automated-signals/webhook"]["POST"]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    @FUZZ
    @given(case=operation.as_strategy())
    def run(case):
        before = counts(engine)
        response = case.call_and_validate(checks=checks)
        after = counts(engine)
        assert after[2] == 0
        if response.status_code != 200:
            assert after[:2] == before[:2]

    run()
    # The documented example still routes after all that.
    assert app.test_client().post(WEBHOOK, json=dict(GUIDE_PAYLOAD, trade_id="AFTER_FUZZ")).status_code == 200


@pytest.mark.parametrize("raw", ['{"event_type": "MFE_UPDATE", "trade_id": "T", "x": {"a\\u0000b": 1}}',
                                 '{"event_type": "MFE_UPDATE", "trade_id": "T", "note": "\\ud800"}'])
def test_text_postgres_cannot_store_is_400_not_500(client, raw):
    """Found by schemathesis: a NUL in a nested key used to reach the insert and answer 500."""
    resp = client.post(WEBHOOK, data=raw, content_type="application/json")
    assert resp.status_code == 400 and "body" in resp.get_json()["fields"]


# Text full of what could fool a byte scanner: brackets, quotes and backslashes (escaped by json.dumps).
tricky_text = st.text(st.sampled_from('[]{}"\\/:,ab\u00e9'), max_size=8)
nested_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


def nesting_depth(value) -> int:
    """Arrays/objects open at the deepest point, counted on the parsed value."""
    depth, level = 0, [(value, 1)]
    while level:
        item, d = level.pop()
        if isinstance(item, (list, dict)):
            depth = max(depth, d)
            level.extend((child, d + 1) for child in (item.values() if isinstance(item, dict) else item))
    return depth


@settings(FUZZ, max_examples=300)
@given(value=nested_values, limit=st.integers(min_value=0, max_value=12), indent=st.sampled_from([None, 1]))
@example(value=['"', "[[[["], limit=1, indent=None)  # an escaped quote must not end the string
@example(value={"\\": ["]]]"]}, limit=1, indent=None)  # nor an escaped backslash start an escape
def test_depth_scan_of_the_raw_bytes_matches_the_parsed_depth(value, limit, indent):
    raw = json.dumps(value, indent=indent, ensure_ascii=bool(indent)).encode()
    assert json_body.exceeds_depth(raw, limit) == (nesting_depth(value) > limit), raw


def alternating_body(depth: int) -> str:
    """A signal nested ``depth`` levels in all, objects and arrays alternating below the top."""
    opens = "".join('{"k": ' if i % 2 else "[" for i in range(depth - 1))
    closes = "".join("}" if i % 2 else "]" for i in reversed(range(depth - 1)))
    return '{"event_type": "MFE_UPDATE", "trade_id": "DEPTH", "be_mfe": 1, "x": ' + opens + "null" + closes + "}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 5_000])
def test_depth_around_the_limit_is_answered_never_5xx(app, depth):
    """Up to the limit the signal routes; past it a 400 before parsing, nothing written."""
    engine = app.extensions["db_engine"]
    resp = app.test_client().post(WEBHOOK, data=alternating_body(depth), content_type="application/json")
    if depth <= MAX_JSON_DEPTH:
        assert resp.status_code == 200, resp.get_json()
    else:
        assert resp.status_code == 400 and resp.get_json()["error"] == "too_deeply_nested"
        assert counts(engine) == (0, 0, 0)
