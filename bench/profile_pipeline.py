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

from sqlalchemy import Engine, event, select, text  # noqa: E402

from bench.envs import SECRET, entry_payload, step2_env  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
WEBHOOK = "/api/automated-signals/webhook"


class SqlCounter:
    """Counts what one engine sends to the database, and the time spent waiting for it."""

    def __init__(self, engine: Engine) -> None:
        self.statements = self.commits = self.rollbacks = self.checkouts = self.pings = 0
        self.db_seconds = 0.0
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        event.listen(engine.pool, "checkout", self._checkout)
        dialect = engine.dialect
        real_ping = dialect.do_ping

        def counting_ping(dbapi_connection: Any) -> bool:  # pool_pre_ping's round trip
            self.pings += 1
            return real_ping(dbapi_connection)

        dialect.do_ping = counting_ping  # type: ignore[method-assign]

    def reset(self) -> None:
        self.statements = self.commits = self.rollbacks = self.checkouts = self.pings = 0
        self.db_seconds = 0.0

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements += 1
        self.db_seconds += time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())

    def _commit(self, conn) -> None:
        self.commits += 1

    def _rollback(self, conn) -> None:
        self.rollbacks += 1

    def _checkout(self, dbapi_connection, record, proxy) -> None:
        self.checkouts += 1

    def per_request(self, n: int) -> dict[str, float]:
        transactions = self.commits + self.rollbacks
        return {
            "statements": self.statements / n,
            "commits": self.commits / n,
            "rollbacks": self.rollbacks / n,
            "checkouts": self.checkouts / n,
            "pings": self.pings / n,
            # psycopg2 sends BEGIN before a transaction's first statement and COMMIT at the end
            "round_trips": (self.statements + 2 * transactions + self.pings) / n,
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
            around: Callable[[Callable[[], None]], None] | None = None) -> dict[str, Any]:
    """Send ``requests`` entries through the app in-process; SQL counts and medians per request."""
    app = _app(env, url)
    engine = app.extensions["db_engine"]
    client = app.test_client()
    headers = {"X-Webhook-Secret": SECRET}
    for i in range(20):  # warm caches (SQLAlchemy compiled statements, pool)
        client.post(WEBHOOK, json=entry_payload(f"{tag}w-{i}"), headers=headers)
    counter = SqlCounter(engine)
    durations: list[float] = []

    def run() -> None:
        for i in range(requests):
            started = time.perf_counter()
            response = client.post(WEBHOOK, json=entry_payload(f"{tag}-{i}"), headers=headers)
            durations.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"request {i}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")

    counter.reset()
    if around is None:
        run()
    else:
        around(run)
    result = counter.per_request(requests)
    result["request_p50_ms"] = 1000 * statistics.median(durations)
    result["python_ms"] = result["request_p50_ms"] - result["sql_ms"]
    app.extensions["execution_router"].close()
    engine.dispose()
    return result


def round_trip_costs(url: str, n: int = 300) -> dict[str, float]:
    """Medians that price a proposal: a bare round trip, and one `engine.begin()` unit of work."""
    from database import create_db_engine

    engine = create_db_engine(url)
    out: dict[str, float] = {}
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        raw.autocommit = True
        cursor = raw.cursor()
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            samples.append(time.perf_counter() - started)
        raw.autocommit = False
        out["raw_round_trip_ms"] = 1000 * statistics.median(samples)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(select(1)).scalar()
        samples.append(time.perf_counter() - started)
    out["unit_of_work_ms"] = 1000 * statistics.median(samples)  # checkout(+ping), BEGIN, SELECT, COMMIT
    engine.dispose()
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
            return "psycopg2 C calls (DB wait + driver)"
        path = (parent.file_path or "") if parent is not None else ""
        if not path:
            return f"builtin {name}"
    for lib in ("sqlalchemy", "pydantic", "flask", "werkzeug", "json", "psycopg2", "logging", "alembic", "pyinstrument"):
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
    args = parser.parse_args(argv)
    costs = round_trip_costs(args.db)
    print(f"bare round trip p50 {costs['raw_round_trip_ms']:.3f} ms; one engine.begin() unit of work "
          f"(checkout, BEGIN, SELECT 1, COMMIT) p50 {costs['unit_of_work_ms']:.3f} ms")
    m = measure(step2_env(), args.db, args.requests)
    print("Step 2 entry, per request: " + ", ".join(f"{k} {v:.2f}" for k, v in m.items()))
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
