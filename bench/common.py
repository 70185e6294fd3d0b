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


def cpu_seconds(pid):
    """CPU seconds the process's threads have run so far: the sum of their schedstat, in ns
    (/proc/PID/stat counts 10 ms ticks, too coarse for a few runs of a 3 ms query). A thread
    that ended since is no longer counted: compare around work its threads outlive."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended while being read
    return total / 1e9


class Riffle:
    """A Riffle server; `store` replaces the file object store's flags (e.g. S3rver.flags())."""

    def __init__(self, *extra, store=None):
        self.dir = Path(tempfile.mkdtemp(prefix="riffle-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "plugins").mkdir()
        self.plugin_dir = self.dir / "plugins"
        store = store if store is not None else ["--object-store", "file"]
        self.args = [BINARY, "serve", "--node-id", "bench", *store, "--data-dir", str(self.dir / "data"),
                     "--plugin-dir", str(self.plugin_dir), "--http-bind", f"127.0.0.1:{self.port}", *extra]
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "server.log", "ab"))
        wait_http(self.url + "/health", timeout=120)

    def restart(self):
        """Stops the process (queued writes are flushed) and starts it again on the same data."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.start()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class S3rver:
    """npm s3rver (installed by scripts/setup.sh into build/node) as a local S3 endpoint."""

    def __init__(self):
        self.binary = REPO / "build" / "node" / "node_modules" / ".bin" / "s3rver"
        if not self.binary.exists():
            raise FileNotFoundError(f"{self.binary} missing (run scripts/setup.sh)")
        self.dir = Path(tempfile.mkdtemp(prefix="s3rver-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.buckets = 0
        # s3rver 3.7.1 hashes continuation tokens with an algorithm OpenSSL 3 keeps in its
        # legacy provider.
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        self.proc = subprocess.Popen(
            [str(self.binary), "-d", str(self.dir), "-a", "127.0.0.1", "-p", str(self.port), "--silent",
             *sum((["--configure-bucket", f"bench{i}"] for i in range(8)), [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("s3rver did not start")

    def flags(self, bucket=None):
        """serve flags for a fresh bucket (or `bucket`)."""
        if bucket is None:
            bucket = f"bench{self.buckets}"
            self.buckets += 1
        return ["--object-store", "s3", "--bucket", bucket, "--aws-endpoint", self.url, "--aws-allow-http",
                "--aws-access-key-id", "S3RVER", "--aws-secret-access-key", "S3RVER"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def influxdb_config(directory, http_port):
    """A config for Debian's influxd 1.x that keeps everything under `directory`, serves HTTP on
    `http_port` and reports nothing home."""
    return f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{directory}/meta"
[data]
  dir = "{directory}/data"
  wal-dir = "{directory}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


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
        conf.write_text(influxdb_config(self.dir, self.port))
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
