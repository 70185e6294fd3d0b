"""Recovery after kill -9: how long until the restarted server answers, and until every
acknowledged row is queryable again, with N rows in WAL files that no snapshot covers.

    python3 bench/recovery.py [--rows 1000000,10000000] [--clients 8] [--modes "held off,by rows"]

For each N, twice: with every snapshot held off (--force-snapshot-rows 0, --wal-snapshot-size
and --force-snapshot-mem-threshold far above N: the whole WAL is replayed), and with the
defaults' --force-snapshot-rows (1M) bounding what is replayed. Each time: ingest N TSBS cpu-only
lines (batches of 5,000, every write acknowledged after its WAL file is durable), note the peak
RSS, kill -9, start again and print: the first /health answer (any status; the server listens
before it replays), the first 200, the time until count(*) returns N, the replay rate (rows
replayed per second of restart, from the server's log) next to the ingest rate, and the
restarted process's peak RSS.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from common import Riffle, peak_rss_mb
from ingest import make_batches, run_clients


def health_status(url):
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def count(url):
    q = url + "/api/v3/query_sql?" + urllib.parse.urlencode({"db": "bench", "q": "SELECT count(*) AS n FROM cpu",
                                                             "format": "json"})
    try:
        with urllib.request.urlopen(q, timeout=60) as r:
            return json.loads(r.read())[0]["n"]
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="1000000,10000000")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--modes", default="held off,by rows",
                    help="which of 'held off' and 'by rows' to run, comma-separated")
    args = ap.parse_args()
    print(f"recovery after kill -9: TSBS cpu-only lines in the WAL (no snapshot), {args.clients} clients")
    print(f"{'rows':>11} {'snapshots':>10} {'ingest rows/s':>13} {'ingest RSS MB':>13} {'first answer s':>14} "
          f"{'health 200 s':>12} {'all rows s':>10} {'replayed':>10} {'replay rows/s':>13} {'restart RSS MB':>14}")
    for n, mode in [(int(x), m) for x in args.rows.split(",") for m in args.modes.split(",")]:
        if mode not in ("held off", "by rows"):
            raise SystemExit(f"--modes: unknown mode {mode!r}, expected 'held off' or 'by rows'")
        flags = ["--wal-snapshot-size", "1000000", "--force-snapshot-mem-threshold", "100000000000"]
        if mode == "held off":
            flags += ["--force-snapshot-rows", "0"]
        server = Riffle(*flags)
        try:
            batches = make_batches(n, 5000)
            elapsed = run_clients(server.url, "/api/v3/write_lp?db=bench&precision=ns", batches, args.clients)
            del batches
            ingest_rss = peak_rss_mb(server.proc.pid)
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            started = time.perf_counter()
            server.proc = subprocess.Popen(server.args, stdout=subprocess.DEVNULL,
                                           stderr=open(server.dir / "server.log", "ab"))
            first = healthy = None
            while healthy is None:
                status = health_status(server.url)
                now = time.perf_counter() - started
                if status is not None and first is None:
                    first = now
                if status == 200:
                    healthy = now
                if now > 900:
                    raise RuntimeError("the server did not come back")
                time.sleep(0.02)
            while count(server.url) != n:
                if time.perf_counter() - started > 900:
                    raise RuntimeError("not every row came back")
                time.sleep(0.05)
            all_rows = time.perf_counter() - started
            rss = peak_rss_mb(server.proc.pid)
            found = re.findall(r"replayed (\d+) lines from \d+ WAL files in (\d+) ms",
                               (server.dir / "server.log").read_text())
            replayed, replay_ms = (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)
            rate = f"{replayed / (replay_ms / 1000):13,.0f}" if replay_ms else f"{'-':>13}"
            print(f"{n:11,} {mode:>10} {n / elapsed:13,.0f} {ingest_rss:13.0f} {first:14.2f} {healthy:12.2f} "
                  f"{all_rows:10.2f} {replayed:10,} {rate} {rss:14.0f}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    os.nice(0)
    main()
