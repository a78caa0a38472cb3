"""In-process cost of one webhook request: SQL round trips, commits, time split, hot spots.

    python -m bench.profile_pipeline [--db URL] [--requests N] [--profile]

Counts are deterministic (SQLAlchemy event listeners on the app's own engine), so they can be
compared across machines and while other work shares the CPU; durations are medians and only
meaningful relative to each other on one machine. ``--profile`` adds a pyinstrument profile
(text and HTML written to bench-results/) and the functions with the most self time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, select  # noqa: E402

from bench.envs import SECRET, entry_payload, scaling_env, step2_env  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
WEBHOOK = "/api/automated-signals/webhook"


class SqlCounter:
    """Counts what one engine sends to the database, and the time spent waiting for it."""

    def __init__(self, engine: Engine) -> None:
        self.statements = self.commits = self.rollbacks = self.checkouts = self.pings = self.autocommits = 0
        self.db_seconds = 0.0
        self._started: dict[int, float] = {}
        self._listening = [("before_cursor_execute", engine, self._before), ("after_cursor_execute", engine, self._after),
                           ("commit", engine, self._commit), ("rollback", engine, self._rollback),
                           ("checkout", engine.pool, self._checkout)]
        for name, target, handler in self._listening:
            event.listen(target, name, handler)
        dialect = engine.dialect
        real_ping = dialect.do_ping

        def counting_ping(dbapi_connection: Any) -> bool:  # pool_pre_ping's round trip
            self.pings += 1
            return real_ping(dbapi_connection)

        dialect.do_ping = counting_ping  # type: ignore[method-assign]
        self._count_signal_statements(engine)

    def _count_signal_statements(self, engine: Engine) -> None:
        """PostgreSQL's signal statements go to the driver directly (database/pg_statements.py
        `_run`), past SQLAlchemy's cursor events: count them at that one function instead."""
        from database import pg_statements

        real_run = pg_statements._run

        def counting_run(connection, statement, params):
            if connection.engine is not engine:
                return real_run(connection, statement, params)
            started = time.perf_counter()
            try:
                return real_run(connection, statement, params)
            finally:
                self.statements += 1
                self.db_seconds += time.perf_counter() - started

        pg_statements._run = counting_run  # type: ignore[assignment]
        self._real_run = real_run

    def close(self) -> None:
        """Stop counting (the next measurement's counter starts from nothing)."""
        from database import pg_statements

        pg_statements._run = self._real_run  # type: ignore[assignment]
        for name, target, handler in self._listening:
            event.remove(target, name, handler)

    def reset(self) -> None:
        self.statements = self.commits = self.rollbacks = self.checkouts = self.pings = self.autocommits = 0
        self.db_seconds = 0.0

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements += 1
        self.db_seconds += time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())

    def _commit(self, conn) -> None:
        self.commits += 1
        if getattr(conn.connection.dbapi_connection, "autocommit", False):  # no BEGIN/COMMIT sent
            self.autocommits += 1

    def _rollback(self, conn) -> None:
        self.rollbacks += 1

    def _checkout(self, dbapi_connection, record, proxy) -> None:
        self.checkouts += 1

    def per_request(self, n: int) -> dict[str, float]:
        transactions = self.commits + self.rollbacks
        return {
            "statements": self.statements / n,
            # SQLAlchemy's commit event also fires for an autocommit block (no COMMIT is sent then)
            "commits": self.commits / n,
            "begin_commit_transactions": (self.commits - self.autocommits) / n,
            "rollbacks": self.rollbacks / n,
            "checkouts": self.checkouts / n,
            "pings": self.pings / n,
            # the driver sends BEGIN before a transaction's first statement and COMMIT at the end
            # (not in autocommit, where the statement is its own transaction)
            "round_trips": (self.statements + 2 * (transactions - self.autocommits) + self.pings) / n,
            "sql_ms": 1000 * self.db_seconds / n,
        }


def _app(env: dict[str, str], url: str):
    from config import parse_settings
    from database import create_db_engine, upgrade_to_head
    from tests.db_fixtures import truncate_app_tables
    from web_server import create_app

    engine = create_db_engine(url)
    upgrade_to_head(engine)
    truncate_app_tables(engine)
    engine.dispose()
    return create_app(parse_settings({**env, "DATABASE_URL": url, "WEBHOOK_SECRET": SECRET}))


def measure(env: dict[str, str], url: str, requests: int = 200, tag: str = "p",
            around: Callable[[Callable[[], None]], None] | None = None, history: int = 0) -> dict[str, Any]:
    """Send ``requests`` entries through the app in-process; SQL counts and medians per request.
    ``history``: ledger events per routed account recorded first (`seed_history`)."""
    app = _app(env, url)
    engine = app.extensions["db_engine"]
    if history:
        seed_history(app, env, history)
    client = app.test_client()
    headers = {"X-Webhook-Secret": SECRET}
    for i in range(20):  # warm caches (SQLAlchemy compiled statements, pool)
        client.post(WEBHOOK, json=entry_payload(f"{tag}w-{i}"), headers=headers)
    counter = SqlCounter(engine)
    durations: list[float] = []
    router = app.extensions["execution_router"]
    spent, untime = _time_methods(router.repository, router)

    cpu: list[float] = []

    def run() -> None:
        cpu_started = time.thread_time()
        for i in range(requests):
            started = time.perf_counter()
            response = client.post(WEBHOOK, json=entry_payload(f"{tag}-{i}"), headers=headers)
            durations.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"request {i}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")
        cpu.append(time.thread_time() - cpu_started)

    counter.reset()
    spent.clear()
    if around is None:
        run()
    else:
        around(run)
    result = counter.per_request(requests)
    result["request_p50_ms"] = 1000 * statistics.median(durations)
    result["python_ms"] = result["request_p50_ms"] - result["sql_ms"]
    # CPU this process spent per request (Flask, validation, routing, SQLAlchemy, driver): far
    # less sensitive than wall time to other programs sharing the CPU.
    result["app_cpu_ms"] = 1000 * cpu[0] / requests if cpu else float("nan")
    # wall and CPU ms per request inside each repository method (calls per request in brackets), and in
    # router.route as a whole; "webhook/Flask" is the rest of the request
    result["methods"] = {name: f"{1000 * wall / requests:.2f} ms wall, {1000 * cpu / requests:.2f} ms CPU [{calls / requests:g}]"
                         for name, (calls, wall, cpu) in sorted(spent.items(), key=lambda kv: -kv[1][1])}
    route_ms = 1000 * spent.get("router.route", (0, 0.0, 0.0))[1] / requests
    result["outside_route_ms"] = 1000 * statistics.mean(durations) - route_ms
    counter.close()
    untime()
    router.close()
    engine.dispose()
    return result


def seed_history(app: Any, env: dict[str, str], events: int) -> None:
    """`events` operator ADJUSTMENTs per routed account over the past year, through the ledger
    repository: +1/-1 alternately, so balances and therefore every decision stay the same.

    Each entry folds its accounts' whole ledger (account_engine/ledger.py recomputes state from
    the events, by design), so this shows how a request's cost grows with an account's history.
    """
    import datetime as dt
    from decimal import Decimal

    from database.ledger_repository import LedgerRepository

    ledger = LedgerRepository(app.extensions["db_engine"])
    now = dt.datetime.now(dt.timezone.utc)
    for firm in env["ROUTE_TO_FIRMS"].split(","):
        for program in env[f"{firm}_PROGRAM_IDS"].split(","):
            for i in range(events):
                ledger.record_operator_event(
                    firm_code=firm, program_id=int(program), kind="ADJUSTMENT",
                    amount=Decimal(1 if i % 2 == 0 else -1), occurred_at=now - dt.timedelta(days=365 * (events - i) / events),
                    actor="bench", reason="history for make profile --history",
                )


def _time_methods(repository: Any, router: Any) -> tuple[dict[str, list], Callable[[], None]]:
    """Wrap the repository class's public methods (every task's unit of work builds its own
    repository) and router.route with timers; the second value puts them back."""
    spent: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])  # calls, wall s, CPU s
    undo: list[Callable[[], None]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return real(*args, **kwargs)
            finally:
                entry = spent[label]
                entry[0] += 1
                entry[1] += time.perf_counter() - started
                entry[2] += time.thread_time() - cpu_started

        setattr(owner, name, timed)
        undo.append(lambda: setattr(owner, name, real) if isinstance(owner, type) else delattr(owner, name))

    cls = type(repository)
    for name in dir(cls):
        if not name.startswith("_") and callable(getattr(cls, name, None)) and not isinstance(
                getattr(cls, name), property):
            wrap(cls, name, name)
    wrap(router, "route", "router.route")
    return spent, lambda: [restore() for restore in reversed(undo)]


def unit_costs(url: str, n: int = 300) -> dict[str, float]:
    """Medians (ms) that price a proposal: what one round trip, one ping, one read or write
    transaction and one statement compilation cost on this machine."""
    from sqlalchemy import create_engine, func
    from sqlalchemy.dialects import postgresql

    from database import create_db_engine
    from database.engine import normalize_database_url
    from database.tables import execution_tasks

    def median_ms(action: Callable[[], Any]) -> float:
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
        return 1000 * statistics.median(samples)

    out: dict[str, float] = {}
    engine = create_db_engine(url)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        raw.autocommit = True
        cursor = raw.cursor()
        out["round_trip"] = median_ms(lambda: (cursor.execute("SELECT 1"), cursor.fetchone()))
        raw.autocommit = False

    def read_unit(e: Engine) -> Callable[[], Any]:
        def run() -> Any:
            with e.begin() as connection:
                return connection.execute(select(1)).scalar()
        return run

    def write_unit(e: Engine) -> Callable[[], Any]:
        def run() -> Any:  # txid_current() assigns a transaction id: COMMIT flushes WAL, like an INSERT
            with e.begin() as connection:
                return connection.execute(select(func.txid_current())).scalar()
        return run

    out["read_transaction_app_engine"] = median_ms(read_unit(engine))
    out["write_transaction_app_engine"] = median_ms(write_unit(engine))
    always_ping = create_engine(normalize_database_url(url, ""), pool_pre_ping=True)
    never_ping = create_engine(normalize_database_url(url, ""), pool_pre_ping=False)
    out["read_transaction_pre_ping"] = median_ms(read_unit(always_ping))
    out["read_transaction_no_ping"] = median_ms(read_unit(never_ping))
    out["ping"] = out["read_transaction_pre_ping"] - out["read_transaction_no_ping"]
    out["write_transaction_no_ping"] = median_ms(write_unit(never_ping))
    statement = (postgresql.insert(execution_tasks).on_conflict_do_nothing(index_elements=["idempotency_key"])
                 .values(trade_id="x", event_type="ENTRY", payload={}, status="PENDING", idempotency_key=None)
                 .returning(execution_tasks.c.id))
    out["compile_uncached_insert"] = median_ms(lambda: statement.compile(dialect=engine.dialect))
    for e in (engine, always_ping, never_ping):
        e.dispose()
    return out


def profile(env: dict[str, str], url: str, requests: int, out_dir: Path, top: int = 25):
    """pyinstrument over ``requests`` in-process requests: the top self-time functions and the
    self time per library/module, each as (name, percent of the profiled time)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    holder: dict[str, Any] = {}

    def around(run: Callable[[], None]) -> None:
        profiler.start()
        try:
            run()
        finally:
            holder["session"] = profiler.stop()

    measure(env, url, requests, tag="prof", around=around)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    (out_dir / "profile.html").write_text(profiler.output_html())
    self_time: dict[str, float] = defaultdict(float)
    total = 0.0

    categories: dict[str, float] = defaultdict(float)

    def walk(frame, parent) -> None:
        nonlocal total
        for child in frame.children:
            walk(child, frame)
        owner = parent if frame.function.startswith("[") and parent is not None else frame
        own = frame.time - sum(c.time for c in frame.children)
        if own <= 0:
            return
        total += own
        self_time[f"{owner.function} ({_short(owner.file_path)}:{owner.line_no})"] += own
        categories[_category(owner, parent)] += own

    walk(profiler.last_session.root_frame(), None)
    ranked = sorted(self_time.items(), key=lambda kv: kv[1], reverse=True)[:top]
    by_category = sorted(categories.items(), key=lambda kv: kv[1], reverse=True)
    return ([(name, 100 * seconds / total) for name, seconds in ranked],
            [(name, 100 * seconds / total) for name, seconds in by_category])


def _category(frame, parent) -> str:
    """Where self time went, in the buckets a proposal can act on."""
    path = frame.file_path or ""
    if not path or path.startswith("<"):  # a C function: name the library that called it
        name = frame.function
        if any(word in name for word in ("cursor", "connection", "commit", "psycopg", "execute", "fetch")):
            return "driver C calls (DB wait + driver)"
        path = (parent.file_path or "") if parent is not None else ""
        if not path:
            return f"builtin {name}"
    for lib in ("sqlalchemy", "pydantic", "flask", "werkzeug", "json", "psycopg", "logging", "alembic", "pyinstrument"):
        if f"/{lib}/" in path:
            return lib
    if path.startswith(str(ROOT)):
        return "ours: " + path[len(str(ROOT)) + 1 :].split("/")[0]
    return "other stdlib: " + path.rsplit("/", 1)[-1]


def _short(path: str | None) -> str:
    if not path:
        return "?"
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/", 2)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="also run pyinstrument")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    parser.add_argument("--history", default="", help="also measure Step 2 with these numbers of ledger events "
                        "per account, e.g. 1000,5000 (recorded first; slow)")
    args = parser.parse_args(argv)
    costs = unit_costs(args.db)
    print("unit costs, p50 ms: " + ", ".join(f"{k} {v:.3f}" for k, v in costs.items()))
    for title, env in (
        ("Step 2 (its position caps are reached after a few entries: risk rejects, no reservation)", step2_env()),
        ("Step 2 firms without position caps (every entry reserves FTMO and APEX positions)", scaling_env(2, 1)),
    ):
        m = measure(env, args.db, args.requests)
        methods = m.pop("methods")
        print(f"{title}, per request:\n  " + ", ".join(f"{k} {v:.2f}" for k, v in m.items()))
        print("  per request in repository methods [calls]:\n    " + "\n    ".join(f"{k}: {v}" for k, v in methods.items()))
    for events in (int(n) for n in args.history.split(",") if n.strip()):
        m = measure(step2_env(), args.db, args.requests, history=events)
        m.pop("methods")
        print(f"Step 2 with {events:,} ledger events per account, per request:\n  "
              + ", ".join(f"{k} {v:.2f}" for k, v in m.items()))
    if args.profile:
        functions, categories = profile(step2_env(), args.db, args.requests, Path(args.out))
        print("self time by library/module:")
        for name, share in categories:
            print(f"  {share:5.1f}%  {name}")
        print("functions with the most self time:")
        for name, share in functions:
            print(f"  {share:5.1f}%  {name}")
        print(f"full profile: {Path(args.out) / 'profile.txt'} and profile.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
