"""End-to-end harness: starts the real `influxdb3` binary on a free port with temporary
directories and talks to it over real HTTP and the real CLI."""
import itertools
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("RIFFLE_BIN", str(REPO / "build" / "influxdb3"))
_counter = itertools.count()


def unique_db(prefix="db"):
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, extra_args=(), flush="100ms", env=None):
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.plugin_dir = tmp / "plugins"
        self.plugin_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.flush = flush
        self.env = dict(env or {})  # extra environment variables of the server process
        self.proc = None

    def start(self, extra_args=None):
        if extra_args is not None:
            self.extra_args = list(extra_args)
        args = [BINARY, "serve", "--node-id", "node0", "--object-store", "file",
                "--data-dir", str(self.data_dir), "--plugin-dir", str(self.plugin_dir),
                "--http-bind", f"127.0.0.1:{self.port}", "--wal-flush-interval", self.flush,
                *self.extra_args]
        if not os.access(BINARY, os.X_OK):
            pytest.fail(f"no executable at {BINARY}: run `make build` or set RIFFLE_BIN", pytrace=False)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=0.5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill9()  # never leave a half-started server behind
        raise AssertionError(f"server did not become healthy within 15 s:\n{self.log()}")

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cli(self, *args, input=None, check=True, env=None):
        """Runs `influxdb3 <args> --host URL` and returns the CompletedProcess."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        # Without `input`, stdin is /dev/null so a client that reads stdin (or prompts) sees EOF
        # instead of hanging on the terminal.
        result = subprocess.run([BINARY, *args, "--host", self.url], input=input, capture_output=True,
                                stdin=subprocess.DEVNULL if input is None else None,
                                text=True, timeout=120, env=full_env)
        if check and result.returncode != 0:
            raise AssertionError(f"influxdb3 {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


def write_lp(server, db, body, **params):
    params = {"db": db, **params}
    data = body.encode() if isinstance(body, str) else body
    return requests.post(server.url + "/api/v3/write_lp", params=params, data=data, timeout=30)


def query(server, db, sql, fmt="json", params=None):
    body = {"db": db, "q": sql, "format": fmt}
    if params is not None:
        body["params"] = params
    return requests.post(server.url + "/api/v3/query_sql", json=body, timeout=30)


def query_rows(server, db, sql, params=None):
    r = query(server, db, sql, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def put_plugin(server, name, code):
    """Writes a plugin file (dedented) into the server's plugin dir; returns its path."""
    path = server.plugin_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def create_trigger(server, db, name, spec, plugin, *extra, check=True):
    return server.cli("create", "trigger", "--trigger-spec", spec, "--plugin-filename", plugin, "--database", db,
                      *extra, name, check=check)


def trigger_logs(server, db, trigger):
    """(level, text) of a trigger's rows in system.processing_engine_logs, oldest first."""
    return [(r["log_level"], r["log_text"]) for r in query_rows(
        server, db, "SELECT log_level, log_text FROM system.processing_engine_logs WHERE trigger_name = $t",
        params={"t": trigger})]


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Polls `predicate` until it returns a truthy value; returns that value or the last one."""
    deadline = time.time() + timeout
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("riffle")).start()
    yield s
    s.kill9()


@pytest.fixture
def fresh_server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.kill9()
