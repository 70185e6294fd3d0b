"""Query benchmark: a GROUP BY average over N rows (default 10M) of the TSBS cpu shape held in
Riffle's in-memory buffer. Prints load rate, query latency (median of 5) and peak RSS; then the
same queries after points are written again (a retried batch, then a tenth of the data), which
the server merges at read time (one row per series and time).

    python3 bench/query.py [--rows 10000000]
"""
import argparse
import http.client
import json
import statistics
import threading
import time
from urllib.parse import urlparse

from common import Riffle, peak_rss_mb, run_concurrently
from ingest import make_batches


def load(url, rows, clients=8, chunk=1_000_000):
    parsed = urlparse(url)
    done = 0
    start_ns = 1_451_606_400_000_000_000
    while done < rows:
        n = min(chunk, rows - done)
        batches = make_batches(n, 5000, start_ns=start_ns + done // 1000 * 10_000_000_000)
        lock = threading.Lock()

        def worker():
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
            while True:
                with lock:
                    if not batches:
                        break
                    body = batches.pop()
                conn.request("POST", "/api/v3/write_lp?db=bench&precision=ns&no_sync=true", body=body)
                r = conn.getresponse()
                r.read()
                assert r.status == 204, r.status
            conn.close()

        run_concurrently(worker, clients)
        done += n


def sql(url, q):
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
    conn.request("POST", "/api/v3/query_sql", body=json.dumps({"db": "bench", "q": q}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body[:300]
    return json.loads(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    server = Riffle()
    try:
        t0 = time.perf_counter()
        load(server.url, args.rows)
        # no_sync writes become visible at the next flush.
        while sql(server.url, "SELECT count(*) AS n FROM cpu")[0]["n"] < args.rows:
            time.sleep(0.2)
        load_s = time.perf_counter() - t0
        queries = {
            "GROUP BY hostname, avg(usage_user)": "SELECT hostname, avg(usage_user) FROM cpu GROUP BY hostname",
            "avg of 10 fields, GROUP BY region": "SELECT region, avg(usage_user), avg(usage_system), avg(usage_idle), "
                                                 "avg(usage_nice), avg(usage_iowait), avg(usage_irq), avg(usage_softirq), "
                                                 "avg(usage_steal), avg(usage_guest), avg(usage_guest_nice) FROM cpu GROUP BY region",
            "date_bin 1h, max(usage_user)": "SELECT date_bin(INTERVAL '1 hour', time) AS h, max(usage_user) FROM cpu GROUP BY 1",
        }
        print(f"{args.rows:,} rows loaded in {load_s:.1f}s ({args.rows / load_s:,.0f} rows/s, no_sync); "
              f"server peak RSS {peak_rss_mb(server.proc.pid):.0f} MB")

        def run_queries():
            for name, q in queries.items():
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    sql(server.url, q)
                    times.append((time.perf_counter() - t) * 1000)
                print(f"  {name:40} median {statistics.median(times):8.1f} ms   "
                      f"({args.rows / statistics.median(times) * 1000:,.0f} rows/s)")
        print("no repeated points:")
        run_queries()
        # The same points again: a client retrying its first batch, then a tenth of everything.
        for label, lines in (("the first 5,000-line batch", 5000), (f"the first {args.rows // 10:,} rows", args.rows // 10)):
            load(server.url, lines)
            time.sleep(1.5)  # no_sync writes become visible at the next flush
            n = sql(server.url, "SELECT count(*) AS n FROM cpu")[0]["n"]
            assert n == args.rows, f"{n} rows after repeating points, expected {args.rows}"
            print(f"after writing {label} again (still {n:,} rows):")
            run_queries()
        print(f"server peak RSS after queries: {peak_rss_mb(server.proc.pid):.0f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
