"""Ingest benchmark: the TSBS cpu-only shape (measurement cpu, 10 tags, 10 float fields), batches
of 5,000 lines, several concurrent clients. Runs Riffle and, when installed, Debian's influxdb
1.x side by side in the same run and prints lines/s and each server's peak RSS.

    python3 bench/ingest.py [--lines 2000000] [--clients 16]
"""
import argparse
import http.client
import random
import threading
import time
from urllib.parse import urlparse

from common import Influx1, Riffle, peak_rss_mb, run_concurrently

TAGS = ["hostname", "region", "datacenter", "rack", "os", "arch", "team", "service", "service_version",
        "service_environment"]
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq",
          "usage_steal", "usage_guest", "usage_guest_nice"]
REGIONS = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1",
           "sa-east-1"]


def make_batches(total_lines, batch_size, hosts=1000, start_ns=1_451_606_400_000_000_000):
    rnd = random.Random(42)
    host_tags = []
    for h in range(hosts):
        region = REGIONS[h % len(REGIONS)]
        host_tags.append(",".join([
            f"hostname=host_{h}", f"region={region}", f"datacenter={region}{'abc'[h % 3]}", f"rack={h % 100}",
            f"os=Ubuntu{'15.10' if h % 2 else '16.04LTS'}", f"arch={'x64' if h % 3 else 'x86'}", f"team={'SF' if h % 2 else 'NYC'}",
            f"service={h % 20}", f"service_version={h % 2}", f"service_environment={'production' if h % 3 else 'test'}"]))
    batches, lines = [], []
    t = start_ns
    for i in range(total_lines):
        h = i % hosts
        if h == 0:
            t += 10_000_000_000
        fields = ",".join(f"{f}={rnd.random() * 100:.6f}" for f in FIELDS)
        lines.append(f"cpu,{host_tags[h]} {fields} {t}")
        if len(lines) == batch_size:
            batches.append(("\n".join(lines) + "\n").encode())
            lines = []
    if lines:
        batches.append(("\n".join(lines) + "\n").encode())
    return batches


def run_clients(url, path, batches, clients):
    parsed = urlparse(url)
    queue = list(enumerate(batches))
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            resp.read()
            if resp.status not in (200, 204):
                errors.append(resp.status)
        conn.close()

    start = time.perf_counter()
    run_concurrently(worker, clients)
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. HTTP {errors[0]}")
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    batches = make_batches(args.lines, args.batch)
    print(f"TSBS cpu-only: {args.lines:,} lines, batches of {args.batch}, {args.clients} clients")
    results = []
    configs = [("riffle (wal flush 1s, sync)", ["--wal-flush-interval", "1s"], "/api/v3/write_lp?db=bench&precision=ns"),
               ("riffle (wal flush 100ms, sync)", ["--wal-flush-interval", "100ms"], "/api/v3/write_lp?db=bench&precision=ns"),
               ("riffle (no_sync)", [], "/api/v3/write_lp?db=bench&precision=ns&no_sync=true")]
    for name, flags, path in configs:
        server = Riffle(*flags)
        try:
            elapsed = run_clients(server.url, path, batches, args.clients)
            results.append((name, args.lines / elapsed, peak_rss_mb(server.proc.pid)))
        finally:
            server.stop()
    try:
        peer = Influx1()
        try:
            elapsed = run_clients(peer.url, "/write?db=bench&precision=ns", batches, args.clients)
            results.append(("influxdb 1.x (Debian, POST /write)", args.lines / elapsed, peak_rss_mb(peer.proc.pid)))
        finally:
            peer.stop()
    except FileNotFoundError as e:
        print(f"peer skipped: {e}")
    print(f"{'server':40} {'lines/s':>12} {'peak RSS MB':>12}")
    for name, rate, rss in results:
        print(f"{name:40} {rate:12,.0f} {rss:12.0f}")


if __name__ == "__main__":
    main()
