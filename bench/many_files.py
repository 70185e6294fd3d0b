"""Queries over many Parquet files of one table (issue 19, item 6): InfluxDB 3 Core refuses a
query past 432 files; Riffle has no such limit. Two comparisons, 48 files against 4,992 (one
snapshot per write of 16 one-minute chunks, compaction off), the same queries on each:
  - the same 80,000 rows in both (tiny files: what each file costs a query);
  - the same 1,000 rows per file (48,000 rows against 4,992,000: the cost per row).
Prints ms per query and ns per row read, for comparison."""
import datetime
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import Riffle  # noqa: E402

BASE_S = 1_600_000_000 - 1_600_000_000 % 86_400  # a closed UTC day in 2020
ROWS = 80_000


def get(url, **params):
    with urllib.request.urlopen(url + "?" + urllib.parse.urlencode(params), timeout=600) as r:
        return r.read()


def files(server):
    return json.loads(get(server.url + "/api/v3/query_sql", db="db",
                          q="SELECT count(*) AS n FROM system.parquet_files"))[0]["n"]


def load(target_files, rows):
    """A server whose table `cpu` holds `rows` rows in `target_files` files."""
    server = Riffle("--force-snapshot-rows", "1", "--gen1-duration", "1m", "--compaction-min-files", "1000000",
                    "--snapshotted-wal-files-to-keep", "0", "--wal-flush-interval", "10ms")
    writes = target_files // 16
    per_write = rows // writes
    row = 0
    for w in range(writes):
        lines = []
        for i in range(per_write):
            minute = i * 16 // per_write  # 16 one-minute chunks per write: 16 files per snapshot
            lines.append(f"cpu,host=h{row % 100} usage={row % 97}.5,n={row}i "
                         f"{(BASE_S + w * 3600 + minute * 60) * 10**9 + i}")
            row += 1
        req = urllib.request.Request(server.url + "/api/v3/write_lp?db=db", data="\n".join(lines).encode(),
                                     method="POST")
        urllib.request.urlopen(req, timeout=60).read()
        deadline = time.time() + 30
        while files(server) < (w + 1) * 16 and time.time() < deadline:
            time.sleep(0.005)
    return server


QUERIES = {
    "count(*)": "SELECT count(*) FROM cpu",
    "max by host": "SELECT host, max(usage) FROM cpu GROUP BY host",
    "1 host": "SELECT max(usage) FROM cpu WHERE host = 'h7'",
    "1 hour": "SELECT count(*) FROM cpu WHERE time >= '{}' AND time < '{}'".format(
        *(datetime.datetime.fromtimestamp(BASE_S + h * 3600, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
          for h in (2, 3))),
}


def measure(target, rows):
    """Median ms of each query over `rows` rows in `target` files."""
    started = time.time()
    server = load(target, rows)
    try:
        n = files(server)
        count = json.loads(get(server.url + "/api/v3/query_sql", db="db", q="SELECT count(*) AS n FROM cpu"))[0]["n"]
        print(f"{n} files, {count} rows (loaded in {time.time() - started:.1f} s)", flush=True)
        results = {}
        for name, sql in QUERIES.items():
            times = []
            for _ in range(5):
                t = time.perf_counter()
                get(server.url + "/api/v3/query_sql", db="db", q=sql)
                times.append((time.perf_counter() - t) * 1000)
            results[name] = statistics.median(times)
        return results, count
    finally:
        server.stop()


def main():
    print("The same 80,000 rows in 48 and in 4,992 files:")
    small, _ = measure(48, ROWS)
    many, _ = measure(4992, ROWS)
    print(f"{'query':<14}{'48 files ms':>14}{'4992 files ms':>16}{'ratio':>8}")
    for name in QUERIES:
        print(f"{name:<14}{small[name]:>14.1f}{many[name]:>16.1f}{many[name] / small[name]:>8.2f}")
    print("\n1,000 rows per file, 48 files and 4,992 files (ns per row of the table):")
    small, small_rows = measure(48, 48 * 1000)
    many, many_rows = measure(4992, 4992 * 1000)
    print(f"{'query':<14}{'48 files ms':>12}{'ns/row':>8}{'4992 files ms':>15}{'ns/row':>8}{'ratio':>8}")
    for name in QUERIES:
        a, b = small[name] * 1e6 / small_rows, many[name] * 1e6 / many_rows
        print(f"{name:<14}{small[name]:>12.1f}{a:>8.0f}{many[name]:>15.1f}{b:>8.0f}{b / a:>8.2f}")


if __name__ == "__main__":
    main()
