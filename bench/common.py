"""Shared helpers for the benchmarks: start servers, measure peak memory, time things."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINARY = os.environ.get("RIFFLE_BIN", str(REPO / "build" / "influxdb3"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status in (200, 204):
                    return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def peak_rss_mb(pid):
    """VmHWM: the process's peak resident set size."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Riffle:
    def __init__(self, *extra):
        self.dir = Path(tempfile.mkdtemp(prefix="riffle-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "plugins").mkdir()
        self.plugin_dir = self.dir / "plugins"
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--node-id", "bench", "--object-store", "file", "--data-dir", str(self.dir / "data"),
             "--plugin-dir", str(self.plugin_dir), "--http-bind", f"127.0.0.1:{self.port}", *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "wb"))
        wait_http(self.url + "/health")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Influx1:
    """Debian's influxdb 1.x package, as a peer for writes (POST /write)."""

    def __init__(self):
        self.binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not os.path.exists(self.binary):
            raise FileNotFoundError("influxd not installed (apt-get install influxdb)")
        self.dir = Path(tempfile.mkdtemp(prefix="influx1-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = self.dir / "influxdb.conf"
        conf.write_text(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        self.proc = subprocess.Popen([self.binary, "-config", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_http(self.url + "/ping")
        req = urllib.request.Request(self.url + "/query", data=b"q=CREATE DATABASE bench", method="POST")
        urllib.request.urlopen(req).read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_concurrently(worker, clients):
    """Runs `worker` in `clients` threads at once and waits for all of them."""
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
