"""Latency of a 1-line write to an idle server as its database gathers tables: one keep-alive
HTTP client posts a line every 50 ms (as bench/peers.py does) and the p50/p90 are printed with
1, 100 and 1,000 tables in the database, durable (acknowledged after the WAL file is synced) and
with `no_sync=true`. Several binaries can be compared in one run (--bin LABEL=PATH), each on a
fresh server.

    python3 bench/write_latency.py [--tables 1,100,1000] [--writes 50] [--bin LABEL=PATH]...
"""
import argparse
import http.client
import statistics
import time

import common
from common import Riffle


def latencies(port, writes, query=""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for i in range(writes + 1):
        body = f"cpu,hostname=host_{i % 10} usage_user={i} {time.time_ns()}"
        started = time.perf_counter()
        conn.request("POST", "/api/v3/write_lp?db=bench" + query, body=body)
        r = conn.getresponse()
        r.read()
        if r.status // 100 != 2:
            raise RuntimeError(f"write: HTTP {r.status}")
        if i:  # the first write may create the table
            times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    conn.close()
    return statistics.median(times), statistics.quantiles(times, n=10, method="inclusive")[8]


def add_tables(port, count):
    """Tables t0..t{count-1} in the database, one row each, in one write."""
    if count <= 0:
        return
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = "\n".join(f"t{i},host=a v={i}" for i in range(count))
    conn.request("POST", "/api/v3/write_lp?db=bench", body=body)
    r = conn.getresponse()
    r.read()
    if r.status // 100 != 2:
        raise RuntimeError(f"creating {count} tables: HTTP {r.status}")
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default="1,100,1000", help="tables in the database, comma list")
    ap.add_argument("--writes", type=int, default=50)
    ap.add_argument("--bin", action="append", default=[], help="LABEL=PATH (default: this build)")
    args = ap.parse_args()
    binaries = [b.split("=", 1) for b in args.bin] or [["riffle", common.BINARY]]
    counts = [int(c) for c in args.tables.split(",")]
    print(f"1-line writes to an idle server, {args.writes} per row, 50 ms apart, one keep-alive client")
    print(f"{'binary':>10} {'tables':>7} {'durable p50':>12} {'p90':>7} {'no_sync p50':>12} {'p90':>7}  (ms)")
    for label, path in binaries:
        common.BINARY = path
        server = Riffle()
        try:
            have = 1  # the table `cpu` itself
            for count in counts:
                add_tables(server.port, count - have)
                have = max(have, count)
                latencies(server.port, 5)  # the new tables' first flush is not timed
                p50, p90 = latencies(server.port, args.writes)
                n50, n90 = latencies(server.port, args.writes, "&no_sync=true")
                print(f"{label:>10} {count:>7} {p50:12.2f} {p90:7.2f} {n50:12.2f} {n90:7.2f}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
