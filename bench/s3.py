"""Object storage: the same server on the file store and on S3 (npm s3rver, a local S3
endpoint), in one run.

    python3 bench/s3.py [--lines 1000000] [--clients 16]

Prints, for each store: ingest lines/s (TSBS cpu-only, batches of 5,000 lines, synchronous
writes: every acknowledged batch is in a WAL object), the snapshots taken meanwhile (rows, mean
time, rows/s; --force-snapshot-mem-threshold 16 MB makes them happen), then query latency over
the persisted data after a restart with an empty local cache: the start, the first query (cold:
on S3 it downloads the table's Parquet objects, eight at a time) and the median of 10 more (warm).
"""
import argparse
import json
import re
import shutil
import statistics
import time
import urllib.parse
import urllib.request

from common import Riffle, S3rver, peak_rss_mb
from ingest import make_batches, run_clients

QUERIES = [("count(*)", "SELECT count(*) FROM cpu"),
           ("avg by host", "SELECT hostname, avg(usage_user) FROM cpu GROUP BY hostname ORDER BY hostname")]


def query_ms(url, sql):
    q = url + "/api/v3/query_sql?" + urllib.parse.urlencode({"db": "bench", "q": sql, "format": "json"})
    t = time.perf_counter()
    with urllib.request.urlopen(q, timeout=600) as r:
        json.loads(r.read())
    return (time.perf_counter() - t) * 1000


def snapshots(log_text):
    """(count, rows, total ms) of the snapshots the server logged."""
    found = re.findall(r"snapshot: (\d+) rows in \d+ Parquet files, WAL up to \d+ persisted in (\d+) ms", log_text)
    return len(found), sum(int(r) for r, _ in found), sum(int(ms) for _, ms in found)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    batches = make_batches(args.lines, 5000)
    print(f"object stores: {args.lines:,} TSBS cpu-only lines, batches of 5,000, {args.clients} clients")
    s3 = S3rver()
    rows = []
    try:
        for name, store in [("file", None), ("s3 (s3rver)", s3.flags())]:
            server = Riffle("--force-snapshot-mem-threshold", "16000000", store=store)
            try:
                elapsed = run_clients(server.url, "/api/v3/write_lp?db=bench&precision=ns", batches, args.clients)
                time.sleep(2)  # let a snapshot in progress finish
                count, snap_rows, snap_ms = snapshots((server.dir / "server.log").read_text())
                rss = peak_rss_mb(server.proc.pid)
                if store is not None:
                    shutil.rmtree(server.dir / "data" / ".cache", ignore_errors=True)
                t = time.perf_counter()
                server.restart()
                start_ms = (time.perf_counter() - t) * 1000
                lat = []
                for _, sql in QUERIES:
                    cold = query_ms(server.url, sql)
                    warm = statistics.median(query_ms(server.url, sql) for _ in range(10))
                    lat.append((cold, warm))
                rows.append((name, args.lines / elapsed, count, snap_rows, snap_ms, start_ms, lat, rss))
            finally:
                server.stop()
    finally:
        s3.stop()
    print(f"{'store':14} {'lines/s':>10} {'snapshots':>9} {'snap rows/s':>12} {'mean snap ms':>12} "
          f"{'restart ms':>10} " + " ".join(f"{q + ' cold/warm ms':>26}" for q, _ in QUERIES) + f" {'peak RSS MB':>11}")
    for name, rate, count, snap_rows, snap_ms, start_ms, lat, rss in rows:
        snap_rate = snap_rows / (snap_ms / 1000) if snap_ms else float("nan")
        mean = snap_ms / count if count else float("nan")
        print(f"{name:14} {rate:10,.0f} {count:9} {snap_rate:12,.0f} {mean:12.0f} {start_ms:10.0f} "
              + " ".join(f"{f'{c:.1f} / {w:.1f}':>26}" for c, w in lat) + f" {rss:11.0f}")


if __name__ == "__main__":
    main()
