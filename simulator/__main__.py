"""`python -m simulator [--port 8765]`: the firms' API simulator on 127.0.0.1."""
from __future__ import annotations

import argparse
import time

from simulator.core import Simulator


def main() -> None:
    parser = argparse.ArgumentParser(description="Local simulator of the MetaApi, Tradovate and ProjectX APIs.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--record-timings", action="store_true",
                        help="record each request's arrival and departure, read at GET /_sim/timings (benchmarks)")
    args = parser.parse_args()
    sim = Simulator(record_timings=args.record_timings)
    url = sim.start(args.port)
    print(f"Firm API simulator on {url} (Ctrl-C to stop). Point the router at it with:")
    print(f"  FTMO_API_URL={url}  FTMO_API_KEY={sim.credentials['FTMO_API_KEY']}  FTMO_ACCOUNT_ID=sim-mt5-1")
    print(f"  APEX_API_URL={url}/v1  APEX_USERNAME=sim-user  APEX_PASSWORD=sim-password  APEX_APP_ID=sim-app"
          "  APEX_CID=7  APEX_API_SECRET=sim-secret  APEX_ACCOUNT_ID=201")
    print(f"  TOPSTEP_API_URL={url}  TOPSTEP_USERNAME=sim-topstep  TOPSTEP_API_KEY=sim-projectx-key  TOPSTEP_ACCOUNT_ID=301")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
