"""Queries over many Parquet files of one table (issue 19, item 6): InfluxDB 3 Core refuses a
query past 432 files; Riffle has no such limit. Two servers hold the same 80,000 rows of one table,
one in 48 files and one in 4,992 (one snapshot per write of 16 one-minute chunks, compaction off);
the same queries run on both. Prints ms per query and µs per million rows read, for comparison."""
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


def load(target_files):
    """A server whose table `cpu` holds ROWS rows in `target_files` files."""
    server = Riffle("--force-snapshot-rows", "1", "--gen1-duration", "1m", "--compaction-min-files", "1000000",
                    "--snapshotted-wal-files-to-keep", "0", "--wal-flush-interval", "10ms")
    writes = target_files // 16
    per_write = ROWS // writes
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


def main():
    results = {}
    for target in (48, 4992):  # 3 and 312 snapshots of 16 files
        started = time.time()
        server = load(target)
        try:
            n = files(server)
            count = json.loads(get(server.url + "/api/v3/query_sql", db="db", q="SELECT count(*) AS n FROM cpu"))[0]["n"]
            print(f"{n} files, {count} rows (loaded in {time.time() - started:.1f} s)", flush=True)
            for name, sql in QUERIES.items():
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    get(server.url + "/api/v3/query_sql", db="db", q=sql)
                    times.append((time.perf_counter() - t) * 1000)
                results[(target, name)] = statistics.median(times)
        finally:
            server.stop()
    print(f"{'query':<14}{'48 files ms':>14}{'4992 files ms':>16}{'ratio':>8}")
    for name in QUERIES:
        a, b = results[(48, name)], results[(4992, name)]
        print(f"{name:<14}{a:>14.1f}{b:>16.1f}{b / a:>8.2f}")


if __name__ == "__main__":
    main()
