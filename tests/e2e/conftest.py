"""End-to-end harness: starts the real `influxdb3` binary on a free port with temporary
directories and talks to it over real HTTP and the real CLI.

Object store: the file store under a temporary data dir, unless RIFFLE_TEST_OBJECT_STORE=s3:
then every `Server` gets a fresh bucket of an S3 server (s3rver from build/node, started once
per session; or the endpoint in RIFFLE_TEST_S3_ENDPOINT with RIFFLE_TEST_S3_ACCESS_KEY,
RIFFLE_TEST_S3_SECRET_KEY and optionally RIFFLE_TEST_S3_REGION, e.g. scripts/ceph_s3.sh's
RADOS Gateway), reached through `s3_proxy.S3Proxy`, which checks every request's SigV4
signature (RIFFLE_TEST_S3_PROXY=0 connects the server to the S3 server directly). Tests look
at stored objects with `object_keys`, `read_object`, `write_object`, `delete_object` and
`object_exists`, which work for both stores."""
import ctypes
import dataclasses
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest
import requests

from s3_proxy import S3Client, S3Proxy

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("RIFFLE_BIN", str(REPO / "build" / "influxdb3"))
_counter = itertools.count()

# "file" (the default) or "s3": the object store of every `Server` that does not choose one.
OBJECT_STORE = os.environ.get("RIFFLE_TEST_OBJECT_STORE", "file")
S3RVER_BIN = REPO / "build" / "node" / "node_modules" / ".bin" / "s3rver"
S3RVER_KEY = "S3RVER"  # s3rver's only account: access key and secret are both S3RVER


def unique_db(prefix="db"):
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate(proc, timeout):
    """SIGTERM, then SIGKILL if `proc` has not exited within `timeout` s (nothing if it has)."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_up(proc, url, limit, interval, request_timeout, exited):
    """Polls GET `url` until it answers 200 (True) or `limit` s pass (False); raises
    AssertionError(exited(returncode)) as soon as `proc` exits."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(exited(proc.returncode))
        try:
            if requests.get(url, timeout=request_timeout).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(interval)
    return False


# ---------------------------------------------------------------------------------------------
# S3: s3rver, the session's S3 endpoint and its signature-checking proxy (all started lazily, on
# first use, and stopped at the end of the session).

class S3rver:
    """An s3rver process (npm `s3rver`, installed by scripts/setup.sh) on a free port, storing
    its buckets under `directory`. s3rver 3.7.1 can crash (an unhandled ENOENT when a PUT races
    the DELETE that removes its now-empty directory): a watchdog restarts it on the same port
    and directory, so a client that retries (as Riffle does) carries on; `crashes` counts them."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = self.directory.parent / f"s3rver-{self.port}.log"
        self.proc = None
        self.crashes = []  # exit codes of the times it stopped by itself
        self._stopping = False

    def _spawn(self):
        log = open(self.log_path, "ab")
        # s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its
        # legacy provider: without it every truncated listing (max-keys=1, > 1000 keys) is a 500.
        env = {**os.environ, "NODE_OPTIONS": (os.environ.get("NODE_OPTIONS", "") + " --openssl-legacy-provider").strip()}
        self.proc = subprocess.Popen([str(S3RVER_BIN), "-d", str(self.directory), "-a", "127.0.0.1",
                                      "-p", str(self.port), "--silent", "--no-vhost-buckets"],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        log.close()

    def _wait_ready(self, timeout):
        if not wait_until_up(self.proc, self.endpoint + "/", timeout, 0.1, 1,
                             lambda rc: f"s3rver exited with {rc}; see {self.log_path}"):
            raise AssertionError(f"s3rver did not answer within {timeout} s; see {self.log_path}")

    def start(self):
        if not os.access(S3RVER_BIN, os.X_OK):
            pytest.fail(f"no s3rver at {S3RVER_BIN}: run scripts/setup.sh", pytrace=False)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._spawn()
        try:
            self._wait_ready(60)
        except AssertionError:
            self.stop()
            raise
        threading.Thread(target=self._watchdog, name="s3rver-watchdog", daemon=True).start()
        return self

    def _watchdog(self):
        while not self._stopping:
            rc = self.proc.wait()
            if self._stopping:
                return
            self.crashes.append(rc)
            for _ in range(100):  # the port may take a moment to be free again
                if self._stopping:
                    return
                try:
                    self._spawn()
                    self._wait_ready(30)
                    break
                except AssertionError:
                    time.sleep(0.2)

    def stop(self):
        self._stopping = True
        terminate(self.proc, 10)
        self.proc = None

    def client(self):
        return S3Client(self.endpoint, S3RVER_KEY, S3RVER_KEY)


@dataclasses.dataclass
class S3Target:
    """What a `Server` is given for --object-store s3: the endpoint it talks to (an S3 server or
    a proxy in front of one) and its credentials; `store` is the tests' own client of the same
    buckets, straight to the S3 server (no proxy, so no injected fault gets in its way)."""
    endpoint: str
    access_key: str
    secret_key: str
    store: S3Client
    region: str = "us-east-1"

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


_S3 = {}  # "s3rver", "dir", "backend", "target", "proxy", "buckets" (created on external endpoints)


def local_s3rver():
    """The session's s3rver (started on first use)."""
    if "s3rver" not in _S3:
        _S3["dir"] = Path(tempfile.mkdtemp(prefix="riffle-s3rver-"))
        _S3["s3rver"] = S3rver(_S3["dir"] / "buckets").start()
    return _S3["s3rver"]


def s3_proxy_for(upstream, access_key, secret_key, region=None, emulate_if_none_match=True, **kw):
    """A started S3Proxy in front of `upstream` that knows one key pair."""
    return S3Proxy(upstream, {access_key: secret_key}, region=region,
                   emulate_if_none_match=emulate_if_none_match, **kw).start()


@dataclasses.dataclass
class S3Backend:
    """The S3 server the tests use: s3rver, or the endpoint in RIFFLE_TEST_S3_ENDPOINT."""
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    external: bool
    emulate_if_none_match: bool  # s3rver ignores If-None-Match: the proxies answer it

    def client(self):
        return S3Client(self.endpoint, self.access_key, self.secret_key, self.region)

    def proxy(self, **kw):
        """A started S3Proxy in front of this server (verifying signatures with its key)."""
        kw.setdefault("emulate_if_none_match", self.emulate_if_none_match)
        return s3_proxy_for(self.endpoint, self.access_key, self.secret_key, **kw)

    def target(self, endpoint=None, **changes):
        """An S3Target for a Server that talks to `endpoint` (default: this server directly)."""
        return S3Target(endpoint or self.endpoint, self.access_key, self.secret_key, self.client(),
                        self.region).replace(**changes)


def s3_backend():
    if "backend" not in _S3:
        external = os.environ.get("RIFFLE_TEST_S3_ENDPOINT")
        region = os.environ.get("RIFFLE_TEST_S3_REGION", "us-east-1")
        if external:
            # The real server enforces If-None-Match itself (or set RIFFLE_TEST_S3_EMULATE_IF_NONE_MATCH=1).
            _S3["backend"] = S3Backend(external.rstrip("/"), os.environ["RIFFLE_TEST_S3_ACCESS_KEY"],
                                       os.environ["RIFFLE_TEST_S3_SECRET_KEY"], region, True,
                                       os.environ.get("RIFFLE_TEST_S3_EMULATE_IF_NONE_MATCH") == "1")
        else:
            _S3["backend"] = S3Backend(local_s3rver().endpoint, S3RVER_KEY, S3RVER_KEY, region, False, True)
    return _S3["backend"]


def session_s3_target():
    """The S3Target of servers under RIFFLE_TEST_OBJECT_STORE=s3 (started on first use): the
    S3 backend behind the session's verifying proxy (RIFFLE_TEST_S3_PROXY=0: directly)."""
    if "target" not in _S3:
        backend = s3_backend()
        endpoint = None
        if os.environ.get("RIFFLE_TEST_S3_PROXY", "1") != "0":
            _S3["proxy"] = backend.proxy()
            endpoint = _S3["proxy"].url
        _S3["target"] = backend.target(endpoint)
    return _S3["target"]


def new_bucket(store: S3Client, prefix="riffle"):
    """Creates a bucket with a fresh name on `store`; returns the name."""
    name = f"{prefix}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:8]}"
    store.create_bucket(name)
    if os.environ.get("RIFFLE_TEST_S3_ENDPOINT"):
        _S3.setdefault("buckets", []).append((store, name))
    return name


def _stop_s3():
    if "proxy" in _S3:
        _S3["proxy"].stop()
    for store, bucket in _S3.get("buckets", []):  # an external server keeps what we leave behind
        try:
            for key in store.list_keys(bucket):
                store.delete_object(bucket, key)
            store.request("DELETE", f"/{bucket}", ok=None)
        except Exception:  # noqa: BLE001 (best effort)
            pass
    crashes = []
    if "s3rver" in _S3:
        crashes = _S3["s3rver"].crashes
        _S3["s3rver"].stop()
    if "dir" in _S3:
        if crashes:  # keep its log (and buckets) for a look
            warnings.warn(f"s3rver crashed {len(crashes)} time(s) during the session and was restarted; "
                          f"see {_S3['s3rver'].log_path}")
        else:
            shutil.rmtree(_S3["dir"], ignore_errors=True)
    _S3.clear()


@pytest.fixture(scope="session", autouse=True)
def _s3_services():
    yield
    _stop_s3()


@pytest.fixture(autouse=True)
def _s3_signatures_are_all_good():
    """Under the session's S3 proxy, a test that made the server send a request the proxy
    refused (bad signature, payload hash, key or scope) fails."""
    before = len(_S3["proxy"].rejected) if "proxy" in _S3 else 0
    yield
    if "proxy" in _S3:
        rejected = _S3["proxy"].rejected[before:]
        assert not rejected, f"the S3 proxy refused {len(rejected)} request(s) of the server: {rejected[:3]}"


@pytest.fixture(scope="session")
def s3rver():
    """The session's s3rver (S3rver: .endpoint, .client())."""
    return local_s3rver()


@pytest.fixture(scope="session")
def s3_server():
    """The session's S3 backend (S3Backend): s3rver, or RIFFLE_TEST_S3_ENDPOINT's server."""
    return s3_backend()


# ---------------------------------------------------------------------------------------------
# `influxdb3 serve` processes: `ServeProcess` is what `Server` (here) and test_cluster.py's `Node`
# share: launching with the output in a log file, waiting for /health, stopping and killing.

class ServeProcess:
    """A `serve` child process: subclasses set `log_path` and `url`; `what` names it in errors."""
    proc = None
    what = "server"

    def launch(self, args, limit, header=False, **popen_kw):
        """Starts `args` (output appended to `log_path`; with `header`, after a line showing the
        command) and waits up to `limit` seconds for /health to answer 200."""
        if not os.access(BINARY, os.X_OK):
            pytest.fail(f"no executable at {BINARY}: run `make build` or set RIFFLE_BIN", pytrace=False)
        with open(self.log_path, "ab") as log:
            if header:
                log.write(f"==== {' '.join(args)}\n".encode())
                log.flush()
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **popen_kw)
        self.wait_healthy(limit)
        return self

    def wait_healthy(self, limit):
        if wait_until_up(self.proc, self.url + "/health", limit, 0.05, 0.5,
                         lambda rc: f"{self.what} exited with {rc}:\n{self.log()}"):
            return
        self.kill9()  # never leave a half-started server behind
        raise AssertionError(f"{self.what} did not become healthy within {limit} s:\n{self.log()}")

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        """SIGTERM, then SIGKILL if it has not exited within 15 s."""
        terminate(self.proc, 15)
        self.proc = None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Server(ServeProcess):
    def __init__(self, tmp: Path, extra_args=(), flush="100ms", env=None, object_store=None, s3=None,
                 s3_via_env=False):
        """`object_store`: "file" or "s3" (default: RIFFLE_TEST_OBJECT_STORE, else file). `s3`:
        an S3Target (default: the session's). `s3_via_env`: give the S3 settings as AWS_* /
        INFLUXDB3_BUCKET environment variables instead of flags."""
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
        self.object_store = object_store or OBJECT_STORE
        self.s3 = s3
        self.s3_via_env = s3_via_env
        self.bucket = None  # created at the first start; kept by restarts

    def store_args(self):
        """The object-store flags of `serve` (and environment variables, for s3_via_env)."""
        if self.object_store != "s3":
            return ["--object-store", self.object_store, "--data-dir", str(self.data_dir)], {}
        if self.s3 is None:
            self.s3 = session_s3_target()
        if self.bucket is None:
            self.bucket = new_bucket(self.s3.store)
        settings = {"--bucket": ("INFLUXDB3_BUCKET", self.bucket),
                    "--aws-endpoint": ("AWS_ENDPOINT", self.s3.endpoint),
                    "--aws-access-key-id": ("AWS_ACCESS_KEY_ID", self.s3.access_key),
                    "--aws-secret-access-key": ("AWS_SECRET_ACCESS_KEY", self.s3.secret_key),
                    "--aws-default-region": ("AWS_DEFAULT_REGION", self.s3.region)}
        if self.s3_via_env:
            env = {name: value for name, value in settings.values()}
            env["AWS_ALLOW_HTTP"] = "true"
            return ["--object-store", "s3", "--data-dir", str(self.data_dir)], env
        args = ["--object-store", "s3"]
        for flag, (_, value) in settings.items():
            args += [flag, value]
        return args + ["--aws-allow-http", "--data-dir", str(self.data_dir)], {}

    def start(self, extra_args=None):
        if extra_args is not None:
            self.extra_args = list(extra_args)
        store_args, store_env = self.store_args()
        args = [BINARY, "serve", "--node-id", "node0", *store_args, "--plugin-dir", str(self.plugin_dir),
                "--http-bind", f"127.0.0.1:{self.port}", "--wal-flush-interval", self.flush,
                *self.extra_args]
        # A remote store takes longer to load from (catalog, manifests, WAL replay over HTTP).
        limit = 15 if self.object_store != "s3" else 60
        # An ASan+UBSan build (RIFFLE_SANITIZED=1) starts several times slower, and two tests
        # run at once: one such server did not reach main() within 15 s in a fresh-clone run.
        if os.environ.get("RIFFLE_SANITIZED") == "1":
            limit *= 4
        return self.launch(args, limit, env={**os.environ, **store_env, **self.env})

    def restart(self):
        self.stop()
        return self.start()

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


# ---------------------------------------------------------------------------------------------
# The stored objects of a server, for either store: keys are relative to the store's root
# ("node0/wal/00000000001.wal"), as the server names them.

def object_keys(server, prefix=""):
    """Sorted keys under `prefix` (a plain string prefix, e.g. "node0/wal/")."""
    if server.object_store == "s3":
        return server.s3.store.list_keys(server.bucket, prefix) if server.bucket else []
    root = server.data_dir
    base = root / prefix.rsplit("/", 1)[0] if "/" in prefix else root
    if not base.is_dir():
        return []
    keys = (p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file())
    # Top-level dot directories (.tmp, .cache) are the server's scratch space, not objects.
    return sorted(k for k in keys if k.startswith(prefix) and not k.startswith("."))


def read_object(server, key):
    """The object's bytes; FileNotFoundError when there is none."""
    if server.object_store == "s3":
        if not server.bucket:
            raise FileNotFoundError(key)
        return server.s3.store.get_object(server.bucket, key)
    return (server.data_dir / key).read_bytes()


def write_object(server, key, data):
    if server.object_store == "s3":
        server.s3.store.put_object(server.bucket, key, data)
    else:
        path = server.data_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def delete_object(server, key):
    if server.object_store == "s3":
        server.s3.store.delete_object(server.bucket, key)
    else:
        (server.data_dir / key).unlink(missing_ok=True)


def object_exists(server, key):
    if server.object_store == "s3":
        return bool(server.bucket) and server.s3.store.head_object(server.bucket, key) is not None
    return (server.data_dir / key).is_file()


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


def bounded_sql(parts):
    """(statement up to WHERE, a condition on time, what follows it) as one statement."""
    head, condition, tail = parts
    return f"{head} WHERE {condition}{tail}"


def unreadable_sql(parts):
    """The same statement with a condition whose time bounds the engine does not read."""
    head, condition, tail = parts
    return f"{head} WHERE ({condition}) OR false{tail}"


def duckdb_cell(sql):
    """The first cell of `sql` run by the DuckDB library the build uses (through its C API)."""
    lib = ctypes.CDLL(str(REPO / "third_party" / "duckdb" / "lib" / "libduckdb.so"))
    lib.duckdb_value_varchar.restype = ctypes.c_void_p
    db, conn = ctypes.c_void_p(), ctypes.c_void_p()
    result = ctypes.create_string_buffer(256)  # duckdb_result, larger than it is
    assert lib.duckdb_open(None, ctypes.byref(db)) == 0
    assert lib.duckdb_connect(db, ctypes.byref(conn)) == 0
    try:
        assert lib.duckdb_query(conn, sql.encode(), result) == 0, sql
        text = lib.duckdb_value_varchar(result, ctypes.c_uint64(0), ctypes.c_uint64(0))
        value = ctypes.string_at(text).decode() if text else None
        lib.duckdb_free(ctypes.c_void_p(text))
        lib.duckdb_destroy_result(result)
        return value
    finally:
        lib.duckdb_disconnect(ctypes.byref(conn))
        lib.duckdb_close(ctypes.byref(db))


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


class TimedWriters:
    """`count` threads that each write one line at a time until stopped: line n = k·10⁶ + i of
    thread k is `make_line(n)`. `sent[n]` and `acked[n]` are monotonic times, so a test can tell
    which writes were acknowledged before an operation began and which were sent after it ended."""

    def __init__(self, server, db, make_line, count=2):
        self.sent, self.acked, self.failures = {}, {}, []
        self._stop = threading.Event()

        def writer(k):
            i = 0
            while not self._stop.is_set():
                n = k * 1_000_000 + i
                self.sent[n] = time.monotonic()
                r = write_lp(server, db, make_line(n))
                if r.status_code != 204:
                    self.failures.append(r.text)
                    return
                self.acked[n] = time.monotonic()
                i += 1

        # Daemons: a test that fails before stop() must not leave them writing forever.
        self._threads = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(count)]
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()
        assert not self.failures, self.failures[:3]

    def acked_before(self, t):
        return {n for n, at in self.acked.items() if at < t}

    def sent_after(self, t):
        return {n for n, at in self.sent.items() if at > t}


def write_from_threads(server, db, make_line, writers, writes):
    """`writers` threads each make `writes` writes at once (`make_line(k, i)` is thread k's i-th
    line, written with precision=s); returns the bodies of the writes not answered 204."""
    failures = []

    def writer(k):
        for i in range(writes):
            r = write_lp(server, db, make_line(k, i), precision="s")
            if r.status_code != 204:
                failures.append(r.text)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def kill9_during_writes(server, db, make_line, writers=3, at_least=30, timeout=30):
    """Writes from `writers` threads at once (`make_line(k, i)` gives the i-th write of thread k
    as `(value, line)`), kills the server with -9 once `at_least` writes were acknowledged, and
    returns the values of every acknowledged write."""
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    def writer(k):
        i = 0
        while not stop.is_set():
            value, line = make_line(k, i)
            try:
                r = write_lp(server, db, line, precision="s")
            except requests.RequestException:
                return
            if r.status_code == 204:
                with lock:
                    acknowledged.append(value)
            i += 1

    threads = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(writers)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: len(acknowledged) >= at_least, timeout=timeout), "writes were not acknowledged"
        server.kill9()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=timeout)
    return acknowledged


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
