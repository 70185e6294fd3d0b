"""The TSBS queries of bench/peers.py before and after a restart: what a restart costs queries.

    python3 bench/restart_queries.py [--rows 10000000] [--runs 15] [--bin LABEL=PATH]...

Loads --rows TSBS cpu-only rows (100 hosts) into one server as bench/peers.py does (wrk -t2 -c8,
5,000-line batches: one wrk thread falls behind the other, as concurrent loaders do), times the
queries (median of --runs after a warm-up), stops the server with SIGTERM (the rows since the
last snapshot stay in the WAL), then for each binary restarts a copy of that data directory,
waits until it is idle and times the same queries again. Prints one markdown table, ms.
"""
import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from ingest import make_batches  # noqa: E402


def launch(binary, data_dir):
    s = peers.Server("riffle", "/health", "/api/v3/write_lp?db={db}&precision=ns", "/health")
    if data_dir:
        shutil.copytree(data_dir, s.dir / "data")
    return s.launch([binary, "serve", "--node-id", "bench", "--object-store", "file", "--data-dir",
                     str(s.dir / "data"), "--http-bind", f"127.0.0.1:{s.port}", "--without-auth"])


def time_queries(server, queries, runs):
    out = {}
    with requests.Session() as sess:
        for name, _, sql in queries:
            peers.riffle_sql(server, "query_sql", sql, sess)
            out[name] = statistics.median(peers.riffle_sql(server, "query_sql", sql, sess)[0] for _ in range(runs))
            peers.log(f"  {name}: {out[name]:.2f} ms")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bin", action="append", default=[], help="LABEL=PATH of a binary to restart with "
                    "(default: the loading one, build/influxdb3 or RIFFLE_BIN)")
    args = ap.parse_args()
    loader = os.environ.get("RIFFLE_BIN", str(peers.REPO / "build/influxdb3"))
    bins = [b.split("=", 1) for b in args.bin] or [["restarted", loader]]
    work = Path(tempfile.mkdtemp(prefix="restart-queries-"))
    try:
        nbatches = 0
        for i, body in enumerate(make_batches(args.rows, 5000, hosts=100)):
            (work / f"b{i:06d}.lp").write_bytes(body)
            nbatches += 1
        queries, _ = peers.build_queries(100, args.rows, 7, False)
        server = launch(loader, None)
        peers.log(f"loading {args.rows:,} rows ...")
        peers.wrk_ingest(server, work, nbatches, 2, 8, max(300, args.rows // 1000))
        server.settle()
        peers.log("before the restart:")
        columns = [("before the restart", time_queries(server, queries, args.runs))]
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=60)
        saved = work / "data"
        shutil.copytree(server.dir / "data", saved)
        server.stop()
        for label, binary in bins:
            restarted = launch(binary, saved)
            try:
                restarted.settle()
                time.sleep(20)  # a snapshot or a check the restart starts, then idle again
                restarted.settle()
                peers.log(f"after the restart ({label}):")
                columns.append((f"after the restart, {label}", time_queries(restarted, queries, args.runs)))
            finally:
                restarted.stop()
    finally:
        for s in list(peers.Server.live):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("| query, ms | " + " | ".join(label for label, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, _, _ in queries:
        print(f"| {name} | " + " | ".join(f"{c[name]:.2f}" for _, c in columns) + " |")


if __name__ == "__main__":
    main()
