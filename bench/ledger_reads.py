"""`python -m bench.ledger_reads [--history 0,2000] [--requests 200] [--db URL]`: an entry's cost
with each of its two equivalent ledger reads - PostgreSQL's summary, or every event folded here -
at a given number of ledger events per account, in-process (the table's tables are EMPTIED).

What `LedgerSizeHint` (database/entry_inputs.py) chooses between; the printout is the evidence
for keeping the SQL summary beside the engine's fold."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.envs import step2_env  # noqa: E402
from bench.profile_pipeline import DEFAULT_DB, measure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--history", default="0,2000", help="ledger events per account, comma-separated")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import database.entry_inputs as entry_inputs

    real = entry_inputs.LedgerSizeHint.__init__
    print("| ledger events per account | read | app CPU ms per entry (median) | request p50 ms | runs |")
    print("|---:|---|---:|---:|---|")
    for history in (int(h) for h in args.history.split(",") if h.strip()):
        for label, threshold in (("PostgreSQL summary", 0), ("events, folded in Python", 10**12)):
            runs = []
            for rep in range(args.repeats):
                entry_inputs.LedgerSizeHint.__init__ = lambda self, threshold=threshold: real(self, threshold)
                try:
                    result = measure(step2_env(), args.db, requests=args.requests, tag=f"l{history}{rep}{threshold}",
                                     history=history)
                finally:
                    entry_inputs.LedgerSizeHint.__init__ = real
                runs.append((result["app_cpu_ms"], result["request_p50_ms"]))
            cpu = statistics.median(c for c, _ in runs)
            p50 = statistics.median(p for _, p in runs)
            print(f"| {history} | {label} | {cpu:.2f} | {p50:.2f} | {', '.join(f'{c:.2f}' for c, _ in runs)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
