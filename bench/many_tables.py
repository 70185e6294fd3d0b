"""Ingest into many tables: the TSBS cpu-only rows of bench/ingest.py (5,000-line batches, 8
clients, acknowledged after the WAL is durable), with line i of the load going to table
cpu<i mod N>, so that every batch writes a few rows to each of N tables, as a Telegraf agent with
many inputs or a Prometheus scrape does. Prints lines/s, the server's CPU seconds and its peak
RSS for each N, on a fresh server each time; several binaries in one run (--bin LABEL=PATH).

    python3 bench/many_tables.py [--rows 1000000] [--tables 1,20,200,1000] [--bin LABEL=PATH]...
"""
import argparse
import time

import common
from common import Riffle, peak_rss_mb
from ingest import make_batches, run_clients


def spread(batches, tables):
    """The same lines, line i of the load renamed to table cpu<i mod tables>."""
    if tables == 1:
        return batches
    out, i = [], 0
    for body in batches:
        lines = []
        for line in body.decode().splitlines():
            lines.append(f"cpu{i % tables}" + line[len("cpu"):])
            i += 1
        out.append(("\n".join(lines) + "\n").encode())
    return out


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tables", default="1,20,200,1000", help="comma list")
    ap.add_argument("--bin", action="append", default=[], help="LABEL=PATH (default: this build)")
    args = ap.parse_args()
    binaries = [b.split("=", 1) for b in args.bin] or [["riffle", common.BINARY]]
    base = make_batches(args.rows, 5000, hosts=100)
    print(f"{args.rows:,} TSBS rows, 5,000-line batches, 8 clients, line i into table cpu<i mod N>")
    print(f"{'binary':>10} {'tables':>7} {'lines/s':>10} {'CPU s':>7} {'peak RSS MB':>12}")
    for count in [int(t) for t in args.tables.split(",")]:
        batches = spread(base, count)
        for label, path in binaries:
            common.BINARY = path
            server = Riffle()
            try:
                started = time.time()
                run_clients(server.url, "/api/v3/write_lp?db=bench&precision=ns", batches, 8)
                elapsed = time.time() - started
                print(f"{label:>10} {count:>7} {args.rows / elapsed:>10,.0f} "
                      f"{cpu_seconds(server.proc.pid):>7.1f} {peak_rss_mb(server.proc.pid):>12.0f}",
                      flush=True)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
