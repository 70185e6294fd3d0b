"""Last value and distinct value caches: query latency of last_cache('cpu') and
distinct_cache('cpu') against the same answers computed from the table.

    python3 bench/caches.py [--hosts 1000] [--points 100]

Loads HOSTS hosts x POINTS points of TSBS-like cpu rows (tags host, region; fields usage_user,
usage_system), creates a last value cache keyed by host and a distinct value cache on
(region, host), then times each query over HTTP (/api/v3/query_sql, format=json), median of 30
runs after 3 warm-up runs, against `SELECT ... ORDER BY time DESC` window / DISTINCT over the table.
"""
import argparse
import json
import statistics
import time
import urllib.parse
import urllib.request

from common import Riffle

DB = "bench"


def post(url, path, body, ctype="application/json"):
    req = urllib.request.Request(url + path, data=body if isinstance(body, bytes) else json.dumps(body).encode(),
                                 headers={"Content-Type": ctype}, method="POST")
    with urllib.request.urlopen(req, timeout=300) as r:
        return r.read()


def timed_query(url, sql, runs=30):
    q = url + "/api/v3/query_sql?" + urllib.parse.urlencode({"db": DB, "q": sql, "format": "json"})
    rows = None
    for _ in range(3):
        with urllib.request.urlopen(q, timeout=300) as r:
            rows = len(json.loads(r.read()))
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        with urllib.request.urlopen(q, timeout=300) as r:
            r.read()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--points", type=int, default=100)
    args = ap.parse_args()
    server = Riffle()
    try:
        now = int(time.time()) - args.points - 10
        for p in range(args.points):
            lines = [f"cpu,host=host_{h},region=r{h % 10} usage_user={h + p * 0.5},usage_system={p} {now + p}"
                     for h in range(args.hosts)]
            post(server.url, f"/api/v3/write_lp?db={DB}&precision=s", "\n".join(lines).encode(), "text/plain")
        post(server.url, "/api/v3/configure/last_cache", {"db": DB, "table": "cpu", "key_columns": ["host"]})
        post(server.url, "/api/v3/configure/distinct_cache", {"db": DB, "table": "cpu", "columns": ["region", "host"]})
        cases = [
            ("last value per host, last_cache('cpu')", "SELECT * FROM last_cache('cpu')"),
            ("last value per host, from the table",
             "SELECT * FROM cpu QUALIFY row_number() OVER (PARTITION BY host ORDER BY time DESC) = 1"),
            ("distinct (region, host), distinct_cache('cpu')", "SELECT * FROM distinct_cache('cpu')"),
            ("distinct (region, host), from the table", "SELECT DISTINCT region, host FROM cpu"),
        ]
        print(f"{args.hosts:,} hosts x {args.points:,} points ({args.hosts * args.points:,} rows)")
        print(f"{'query':50}  {'median ms':>10}  {'rows':>6}")
        for label, sql in cases:
            ms, rows = timed_query(server.url, sql)
            print(f"{label:50}  {ms:10.2f}  {rows:6,}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
