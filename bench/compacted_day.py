"""Queries over one closed UTC day of TSBS rows, persisted in many small snapshots, then merged by
compaction into one file, against the same day left in those snapshot files (compaction off).

A snapshot sorts its rows by series (the tags) and time, so a row group holds a few hosts and a
query for one host skips the others by their min/max statistics. The merged file of a day must
keep that order, or its row groups each hold every host and such a query reads the whole day.

  python3 bench/compacted_day.py [--rows 864000] [--runs 15] [--only compacted|files] [--bin LABEL=PATH]...

Loads --rows TSBS cpu rows (100 hosts, a point every 10 s: 864,000 rows are one day) through
/api/v3/write_lp in 4,000-line batches with --force-snapshot-rows 48000 (so that every row is persisted), once with compaction (--compaction-min-files 8)
and once without, per binary. Prints, for each query, the median wall ms of --runs after a warm-up,
the server's CPU ms per run (/proc/PID/task/*/schedstat) and the Parquet files the day ends in;
after each load, the merges compaction made, the seconds they took and the server's peak RSS."""
import argparse
import json
import os
import statistics
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from ingest import make_batches  # noqa: E402

DAY0 = "2016-01-01"
QUERIES = [
    ("1 host, 1 h, max by 1 min (single-groupby-1-1-1)",
     "SELECT date_bin(INTERVAL '1 minute', time) AS t, max(usage_user) FROM cpu "
     f"WHERE hostname = 'host_42' AND time >= '{DAY0}T10:00:00Z' AND time < '{DAY0}T11:00:00Z' GROUP BY 1 ORDER BY 1"),
    ("1 host, 12 h, usage_user > 90 (high-cpu-1)",
     f"SELECT * FROM cpu WHERE usage_user > 90.0 AND hostname = 'host_42' AND time >= '{DAY0}T06:00:00Z' "
     f"AND time < '{DAY0}T18:00:00Z' ORDER BY time"),
    ("8 hosts, 12 h, max of 5 fields by 1 h (single-groupby-5-8-12)",
     "SELECT date_bin(INTERVAL '1 hour', time) AS t, max(usage_user), max(usage_system), max(usage_idle), "
     "max(usage_nice), max(usage_iowait) FROM cpu WHERE hostname IN ('host_3', 'host_14', 'host_27', 'host_35', "
     f"'host_51', 'host_66', 'host_78', 'host_90') AND time >= '{DAY0}T06:00:00Z' AND time < '{DAY0}T18:00:00Z' "
     "GROUP BY 1 ORDER BY 1"),
    ("every host, 12 h, mean by host and hour (double-groupby-1)",
     "SELECT hostname, date_bin(INTERVAL '1 hour', time) AS t, avg(usage_user) FROM cpu "
     f"WHERE time >= '{DAY0}T06:00:00Z' AND time < '{DAY0}T18:00:00Z' GROUP BY 1, 2 ORDER BY 1, 2"),
]


def sql(server, q, sess):
    r = sess.get(server.url + "/api/v3/query_sql", params={"db": "bench", "q": q, "format": "json"}, timeout=300)
    if r.status_code != 200:
        raise SystemExit(f"error: HTTP {r.status_code} for {q}: {r.text[:300]}")
    return r.json()


def rounded(rows):
    """Rows with floats to 6 significant digits: a parallel average adds in no fixed order."""
    return [{k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in r.items()} for r in rows]


def files(server, sess):
    return sql(server, "SELECT count(*) AS n FROM system.parquet_files", sess)[0]["n"]


def load(binary, rows, compact):
    os.environ["RIFFLE_BIN"] = binary
    common.BINARY = binary
    server = common.Riffle("--without-auth", "--force-snapshot-rows", "48000", "--snapshotted-wal-files-to-keep",
                           "0", "--compaction-min-files", "8" if compact else "1000000")
    with requests.Session() as sess:
        for body in make_batches(rows, 4000, hosts=100):
            r = sess.post(server.url + "/api/v3/write_lp?db=bench&precision=ns", data=body, timeout=300)
            if r.status_code // 100 != 2:
                raise SystemExit(f"error: write HTTP {r.status_code}: {r.text[:300]}")
        # Compaction done: the file count stops changing.
        deadline, last, stable = time.time() + 120, None, 0
        while time.time() < deadline and stable < 10:
            n = files(server, sess)
            stable = stable + 1 if n == last else 0
            last = n
            time.sleep(0.5)
        metrics = sess.get(server.url + "/metrics", timeout=30).text
        merge_s = sum(float(line.split()[1]) for line in metrics.splitlines()
                      if line.startswith("riffle_compaction_duration_seconds_sum"))
        merges = sum(int(float(line.split()[1])) for line in metrics.splitlines()
                     if line.startswith("riffle_compaction_duration_seconds_count"))
        print(f"{'compaction' if compact else 'no compaction'}: {merges} merges, {merge_s:.2f} s in all; "
              f"peak RSS {common.peak_rss_mb(server.proc.pid):.0f} MB", flush=True)
        persisted = sql(server, "SELECT coalesce(sum(row_count), 0) AS n FROM system.parquet_files", sess)[0]["n"]
        if persisted != rows:
            print(f"note: {rows - persisted} rows still in the buffer", flush=True)
        if sql(server, "SELECT count(*) AS n FROM cpu", sess)[0]["n"] != rows:
            raise SystemExit("error: the table does not hold every row written")
    return server, last


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=864_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bin", action="append", default=[], help="LABEL=PATH (default: this build)")
    ap.add_argument("--only", choices=["compacted", "files"], help="one of the two layouts")
    args = ap.parse_args()
    bins = [b.split("=", 1) for b in args.bin] or [["this build", common.BINARY]]
    results = {}
    for label, path in bins:
        for compact in [c for c in (False, True) if args.only in (None, "compacted" if c else "files")]:
            setup = f"{label}, {'compacted' if compact else 'snapshot files'}"
            server, nfiles = load(path, args.rows, compact)
            try:
                with requests.Session() as sess:
                    for name, q in QUERIES:
                        expected = rounded(sql(server, q, sess))
                        before = common.cpu_seconds(server.proc.pid)
                        times = []
                        for _ in range(args.runs):
                            t = time.perf_counter()
                            if rounded(sql(server, q, sess)) != expected:
                                raise SystemExit(f"error: {setup}: {name} changed its answer")
                            times.append((time.perf_counter() - t) * 1000)
                        cpu = (common.cpu_seconds(server.proc.pid) - before) * 1000 / args.runs
                        results[(setup, name)] = (statistics.median(times), cpu, len(expected), nfiles)
                        print(f"{setup}: {name}: {statistics.median(times):.2f} ms, CPU {cpu:.2f} ms, "
                              f"{len(expected)} rows, {nfiles} files", flush=True)
            finally:
                server.stop()
    print()
    setups = list(dict.fromkeys(s for s, _ in results))
    print("| query | " + " | ".join(f"{s} ({results[(s, QUERIES[0][0])][3]} files)" for s in setups) + " |")
    print("|---|" + "---:|" * len(setups))
    for name, _ in QUERIES:
        print(f"| {name}, ms (server CPU) | " + " | ".join(
            f"{results[(s, name)][0]:.2f} ({results[(s, name)][1]:.2f})" for s in setups) + " |")
    print(json.dumps({"rows": args.rows, "runs": args.runs}))


if __name__ == "__main__":
    main()
