"""Processing-engine benchmarks: WAL-trigger call overhead (1 row and 10k rows), request-trigger
throughput, and `every:1s` schedule jitter, with plugins in worker processes
(--plugin-isolation process, the default) and in the server (thread), in the same run.

    python3 bench/engine.py
"""
import http.client
import json
import re
import shutil
import statistics
import subprocess
import time
from urllib.parse import urlparse

from common import BINARY, Riffle

NOOP_WAL = "def process_writes(influxdb3_local, table_batches, args=None):\n    pass\n"
DICT_REQUEST = "def process_request(influxdb3_local, q, h, b, args=None):\n    return {'ok': True}\n"
JITTER = ("import time\n"
          "def process_scheduled_call(influxdb3_local, call_time, args=None):\n"
          "    influxdb3_local.info('lag_ms', (time.time() - call_time.timestamp()) * 1000)\n")


def post(url, path, body, ctype="text/plain"):
    p = urlparse(url)
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=60)
    c.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def rows(url, db, q):
    status, data = post(url, "/api/v3/query_sql", json.dumps({"db": db, "q": q}), "application/json")
    assert status == 200, data
    return json.loads(data)


def cli(server, *args):
    subprocess.run([BINARY, *args, "--host", server.url], check=True, capture_output=True)


def duration_us(text):
    total = 0.0
    for value, unit in re.findall(r"(\d+)(ns|us|ms|s)\b", text):
        total += int(value) * {"ns": 1e-3, "us": 1, "ms": 1e3, "s": 1e6}[unit]
    return total


def wal_overhead(server, rows_per_write, runs=30):
    db = f"wal{rows_per_write}"
    cli(server, "create", "database", db)
    (server.plugin_dir / "noop.py").write_text(NOOP_WAL)
    cli(server, "create", "trigger", "--database", db, "--trigger-spec", "all_tables", "--plugin-filename", "noop.py",
        "noop")
    body = "\n".join(f"m,host=h{i % 100} v={i},w={i}i {i + 1}" for i in range(rows_per_write))
    for _ in range(runs):
        status, _ = post(server.url, f"/api/v3/write_lp?db={db}&precision=s", body)
        assert status == 204
    deadline = time.time() + 30
    while time.time() < deadline:
        done = [r["log_text"] for r in rows(server.url, db, "SELECT log_text FROM system.processing_engine_logs "
                                                             "WHERE trigger_name = 'noop' AND log_text LIKE 'finished%'")]
        if len(done) >= runs:
            break
        time.sleep(0.2)
    times = sorted(duration_us(t) for t in done)
    return statistics.median(times)


def request_throughput(server, seconds=5):
    db = "req"
    cli(server, "create", "database", db)
    (server.plugin_dir / "dict.py").write_text(DICT_REQUEST)
    cli(server, "create", "trigger", "--database", db, "--trigger-spec", "request:bench", "--plugin-filename",
        "dict.py", "bench")
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", server.url + "/api/v3/engine/bench"],
                             capture_output=True, text=True).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        return float(m.group(1)), "wrk -t2 -c16"
    p = urlparse(server.url)
    c = http.client.HTTPConnection(p.hostname, p.port)
    n, end = 0, time.time() + seconds
    while time.time() < end:
        c.request("GET", "/api/v3/engine/bench")
        c.getresponse().read()
        n += 1
    return n / seconds, "1 python client"


def schedule_jitter(server, runs=8):
    db = "sched"
    cli(server, "create", "database", db)
    (server.plugin_dir / "jitter.py").write_text(JITTER)
    cli(server, "create", "trigger", "--database", db, "--trigger-spec", "every:1s", "--plugin-filename", "jitter.py",
        "jitter")
    time.sleep(runs + 1.5)
    lags = [float(r["log_text"].split()[1]) for r in rows(
        server.url, db, "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'jitter' "
                        "AND log_text LIKE 'lag_ms%'")]
    return statistics.mean(lags), max(lags), len(lags)


def measure(isolation):
    server = Riffle("--wal-flush-interval", "10ms", "--plugin-isolation", isolation)
    try:
        one = wal_overhead(server, 1)
        ten_k = wal_overhead(server, 10_000)
        rps, how = request_throughput(server)
        mean_lag, max_lag, n = schedule_jitter(server)
        return {"one": one, "ten_k": ten_k, "rps": rps, "how": how, "lag": (mean_lag, max_lag, n)}
    finally:
        server.stop()


def main():
    got = {mode: measure(mode) for mode in ("process", "thread")}
    p, t = got["process"], got["thread"]
    print(f"{'':46} {'process':>12} {'thread':>12} {'process/thread':>15}")
    print(f"{'WAL trigger run, no-op plugin, 1 row (µs)':46} {p['one']:12.1f} {t['one']:12.1f} "
          f"{p['one'] / t['one']:14.2f}x")
    print(f"{'WAL trigger run, no-op plugin, 10,000 rows (µs)':46} {p['ten_k']:12.1f} {t['ten_k']:12.1f} "
          f"{p['ten_k'] / t['ten_k']:14.2f}x")
    print(f"{'request trigger returning a dict (req/s, ' + p['how'] + ')':46} {p['rps']:12,.0f} {t['rps']:12,.0f} "
          f"{p['rps'] / t['rps']:14.2f}x")
    print(f"{'every:1s schedule jitter, mean/max (ms)':46} {p['lag'][0]:5.2f}/{p['lag'][1]:<6.2f} "
          f"{t['lag'][0]:5.2f}/{t['lag'][1]:<6.2f}")


if __name__ == "__main__":
    main()
