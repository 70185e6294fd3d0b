"""Per-query latency of small queries, where a fixed cost per statement is most of the time: one
keep-alive HTTP client sends each query again and again (GET /api/v3/query_sql, JSON) and the
p10/p50/p90 are printed, first with the rows in the buffer, then once a snapshot has put them in
Parquet files. Several binaries can be compared in one run (--bin LABEL=PATH, each on the same
freshly loaded data).

    python3 bench/query_latency.py [--rows 1000000] [--runs 300] [--bin LABEL=PATH]...
"""
import argparse
import http.client
import json
import os
import signal
import time
import urllib.parse
import urllib.request

import common
from common import Riffle
from ingest import make_batches, run_clients

HELD_OFF = ["--wal-snapshot-size", "1000000", "--force-snapshot-mem-threshold", "100000000000",
            "--force-snapshot-rows", "0"]

QUERIES = [
    ("SELECT 1", "SELECT 1"),
    ("single-groupby-1-1-1",
     "SELECT date_bin(INTERVAL '1 minute', time) AS time, max(usage_user) AS usage_user FROM cpu "
     "WHERE hostname IN ('host_42') AND time >= '2016-01-01T01:00:00Z' AND time < '2016-01-01T02:00:00Z' "
     "GROUP BY 1 ORDER BY 1"),
    ("last point of one host", "SELECT * FROM cpu WHERE hostname = 'host_7' ORDER BY time DESC LIMIT 1"),
    # Not small: every row, to show what a change for the small ones costs a whole scan.
    ("mean per host and hour", "SELECT hostname, date_bin(INTERVAL '1 hour', time) AS hour, avg(usage_user) AS mean "
                               "FROM cpu GROUP BY 1, 2 ORDER BY 1, 2"),
]


def latencies(port, sql, runs):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    path = "/api/v3/query_sql?" + urllib.parse.urlencode({"db": "bench", "q": sql})
    out = []
    for i in range(runs + 1):
        started = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{sql}: {r.status} {body[:200]!r}")
        if i:  # the first run warms caches
            out.append((time.perf_counter() - started) * 1000)
    conn.close()
    out.sort()
    return out[len(out) // 10], out[len(out) // 2], out[9 * len(out) // 10]


def parquet_rows(url):
    q = url + "/api/v3/query_sql?" + urllib.parse.urlencode(
        {"db": "bench", "q": "SELECT coalesce(sum(row_count), 0) AS n FROM system.parquet_files WHERE table_name = 'cpu'"})
    with urllib.request.urlopen(q, timeout=60) as r:
        return json.loads(r.read())[0]["n"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=300, help="runs of each small query (the whole scan: a tenth)")
    ap.add_argument("--bin", action="append", default=[], help="LABEL=PATH (default: this build)")
    args = ap.parse_args()
    binaries = [b.split("=", 1) for b in args.bin] or [["riffle", common.BINARY]]
    print(f"query latency over HTTP, one keep-alive client, {args.runs} runs each, {args.rows:,} TSBS rows")
    print(f"{'binary':>10} {'rows in':>8} {'query':>24} {'p10 ms':>8} {'p50 ms':>8} {'p90 ms':>8}")
    for label, path in binaries:
        common.BINARY = path
        server = Riffle(*HELD_OFF)
        try:
            run_clients(server.url, "/api/v3/write_lp?db=bench&precision=ns", make_batches(args.rows, 5000), 8)
            for where in ("buffer", "Parquet"):
                if where == "Parquet":
                    # A restart with a low row threshold: the next write's flush snapshots them all.
                    server.proc.send_signal(signal.SIGTERM)
                    server.proc.wait(timeout=60)
                    server.args = server.args[:-len(HELD_OFF)] + ["--force-snapshot-rows", "1000"]
                    server.start()
                    deadline = time.time() + 300
                    while parquet_rows(server.url) < args.rows:
                        run_clients(server.url, "/api/v3/write_lp?db=bench", [b"other v=1"], 1)
                        if time.time() > deadline:
                            raise RuntimeError("the rows did not reach Parquet")
                        time.sleep(0.5)
                for name, sql in QUERIES:
                    runs = args.runs if "GROUP BY 1, 2" not in sql else max(10, args.runs // 10)
                    p10, p50, p90 = latencies(server.port, sql, runs)
                    print(f"{label:>10} {where:>8} {name:>24} {p10:8.2f} {p50:8.2f} {p90:8.2f}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    os.nice(0)
    main()
