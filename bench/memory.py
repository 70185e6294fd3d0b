"""Memory benchmark for persistence (issue 4): ingests N TSBS cpu-only rows (default 50M) into one
Riffle server with its default snapshot settings and reports lines/s, the server's peak RSS,
the snapshots taken and the Parquet bytes written, then checks count(*) == N.

    python3 bench/memory.py [--lines 50000000] [--clients 8] [-- extra serve flags]

A base set of 1M lines (bench/ingest.py's generator) is re-sent with shifted timestamps, so every
row is distinct without holding 50M lines in the client.
"""
import argparse
import http.client
import json
import re
import threading
import time
import urllib.parse
import urllib.request

from common import Riffle, peak_rss_mb
from ingest import make_batches

HOSTS = 1000
STEP_NS = 10_000_000_000  # one round of HOSTS lines every 10 s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=50_000_000)
    ap.add_argument("--base", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("serve_flags", nargs="*")
    args = ap.parse_args()
    base = make_batches(args.base, 5000, hosts=HOSTS)
    # Every batch holds 5 rounds: its 5 distinct timestamps, found once.
    stamps = [sorted(set(re.findall(rb" (\d{19})\n", b))) for b in base]
    shift = (args.base // HOSTS) * STEP_NS
    reps = args.lines // args.base
    jobs = [(r, i) for r in range(reps) for i in range(len(base))]
    jobs.reverse()
    lock = threading.Lock()
    errors = []
    server = Riffle(*args.serve_flags)
    parsed = urllib.parse.urlparse(server.url)
    samples = []

    def worker():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
        while True:
            with lock:
                if not jobs:
                    break
                r, i = jobs.pop()
            body = base[i]
            if r:
                for ts in stamps[i]:
                    body = body.replace(ts, str(int(ts) + r * shift).encode())
            conn.request("POST", "/api/v3/write_lp?db=bench&precision=ns", body=body)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 204:
                errors.append((resp.status, resp.read()[:200]))
        conn.close()

    def sampler():
        while server.proc.poll() is None and not done.is_set():
            try:
                rss = int(next(l for l in open(f"/proc/{server.proc.pid}/status") if l.startswith("VmRSS:")).split()[1])
                samples.append(rss / 1024)
            except (OSError, StopIteration):
                pass
            time.sleep(1)

    done = threading.Event()
    threading.Thread(target=sampler, daemon=True).start()
    try:
        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        done.set()
        total = reps * args.base
        if errors:
            raise RuntimeError(f"{len(errors)} failed writes, e.g. {errors[0]}")

        def sql(q):
            data = json.dumps({"db": "bench", "q": q}).encode()
            req = urllib.request.Request(server.url + "/api/v3/query_sql", data=data,
                                         headers={"Content-Type": "application/json"})
            return json.loads(urllib.request.urlopen(req, timeout=600).read())

        t0 = time.perf_counter()
        count = sql("SELECT count(*) AS n FROM cpu")[0]["n"]
        count_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        sql("SELECT hostname, avg(usage_user) FROM cpu GROUP BY hostname")
        agg_ms = (time.perf_counter() - t0) * 1000
        files = sql("SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS b, coalesce(sum(row_count), 0) AS r "
                    "FROM system.parquet_files")[0]
        log = (server.dir / "server.log").read_text(errors="replace")
        snapshots = log.count("snapshot: ")
        print(f"TSBS cpu-only: {total:,} rows, {args.clients} clients, serve flags {args.serve_flags or 'default'}")
        print(f"  ingest               {total / elapsed:12,.0f} lines/s ({elapsed:.0f} s)")
        print(f"  peak RSS (VmHWM)     {peak_rss_mb(server.proc.pid):12,.0f} MB   (RSS at the end {samples[-1] if samples else 0:,.0f} MB)")
        print(f"  snapshots            {snapshots:12d}      Parquet files {files['n']}, {files['b'] / 2**20:,.0f} MB, {files['r']:,} rows")
        print(f"  count(*)             {count:12,} ({count_ms:.0f} ms)   GROUP BY hostname avg: {agg_ms:.0f} ms")
        if count != total:
            raise RuntimeError(f"count(*) is {count}, expected {total}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
