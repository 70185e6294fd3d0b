"""TLS on the one port (`serve --tls-cert/--tls-key [--tls-minimum-version]`) and the connection
limits of the HTTP server. A throwaway CA and server certificates (subjectAltName localhost and
127.0.0.1) are made with the openssl CLI. HTTPS is checked with curl, python requests/ssl and the
`influxdb3` CLI (--tls-ca, --tls-no-verify and their environment variables); Arrow Flight over
TLS with the official JS client (tests/e2e/flight/client.cjs) and python3-grpcio. Then: the TLS
minimum version, certificate reload on file change (and keeping the old one when the new file is
bad), startup errors, slow-loris connections and a flood of 10,000 connections."""
import json
import os
import resource
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
import requests

from conftest import BINARY, Server, free_port, unique_db, wait_for
from test_flight import DOGET, run_client, ticket

LINE = "cpu,host=a usage=1.5 1700000000000000000"


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem; a.pem/a.key (CN riffle-a) and b.pem/b.key (CN riffle-b), both signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2",
       "-subj", "/CN=Riffle Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (d / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("a", "b"):
        sh("openssl", "req", *ec, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr", "-subj", f"/CN=riffle-{name}")
        sh("openssl", "x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
           "-CAcreateserial", "-days", "2", "-extfile", d / "san.cnf", "-out", d / f"{name}.pem")
    return SimpleNamespace(dir=d, ca=str(d / "ca.pem"), **{f"{n}_{k}": str(d / f"{n}.{k}") for n in "ab"
                                                           for k in ("pem", "key")})


class TlsServer(Server):
    """A Server started with its own copies of cert A (so a test may replace them), at https://localhost."""

    def __init__(self, tmp, pki, extra_args=()):
        super().__init__(tmp)
        self.ca, self.cert, self.key = pki.ca, tmp / "server.pem", tmp / "server.key"
        shutil.copy(pki.a_pem, self.cert)
        shutil.copy(pki.a_key, self.key)
        self.url = f"https://localhost:{self.port}"
        self.extra_args = ["--tls-cert", str(self.cert), "--tls-key", str(self.key), *extra_args]

    def wait_healthy(self, limit):
        deadline = time.time() + limit
        while time.time() < deadline:
            assert self.proc.poll() is None, f"server exited with {self.proc.returncode}:\n{self.log()}"
            try:
                if requests.get(self.url + "/health", verify=self.ca, timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"TLS server not healthy within {limit} s:\n{self.log()}")


@pytest.fixture(scope="module")
def tls(pki, tmp_path_factory):
    s = TlsServer(tmp_path_factory.mktemp("tls"), pki).start()
    yield s
    s.kill9()


@pytest.fixture
def make_tls(pki, tmp_path):
    started = []

    def make(*extra):
        started.append(TlsServer(tmp_path / f"s{len(started)}", pki, extra).start())
        return started[-1]
    yield make
    for s in started:
        s.kill9()


def curl(*args):
    p = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code} %{http_version}", *args],
                       capture_output=True, text=True, timeout=30)
    body, _, status = p.stdout.rpartition("\n")
    return p.returncode, body, status, p.stderr


def peer(port, cafile, **ctx_settings):
    """(subject CN, TLS version) of a new TLS connection to 127.0.0.1:port, verified against `cafile`."""
    ctx = ssl.create_default_context(cafile=cafile)
    for k, v in ctx_settings.items():
        setattr(ctx, k, v)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return dict(rdn[0] for rdn in s.getpeercert()["subject"])["commonName"], s.version()


def write_and_query(url, db, verify, timeout=30):
    r = requests.post(f"{url}/api/v3/write_lp", params={"db": db}, data=LINE, verify=verify, timeout=timeout)
    assert r.status_code == 204, r.text
    r = requests.post(f"{url}/api/v3/query_sql", json={"db": db, "q": "SELECT host, usage FROM cpu"},
                      verify=verify, timeout=timeout)
    assert r.status_code == 200 and r.json() == [{"host": "a", "usage": 1.5}], (r.status_code, r.text)


# ---------------------------------------------------------------------------------------------
# HTTPS: curl, plain HTTP on the TLS port, the CLI


def test_curl_over_https(tls, pki):
    db = unique_db("tls")
    rc, body, status, err = curl("--cacert", pki.ca, "--data-binary", LINE, f"{tls.url}/api/v3/write_lp?db={db}")
    assert (rc, status) == (0, "204 1.1"), (rc, status, body, err)
    q = json.dumps({"db": db, "q": "SELECT host, usage FROM cpu"})
    rc, body, status, err = curl("--cacert", pki.ca, "-H", "Content-Type: application/json", "--data", q,
                                 f"{tls.url}/api/v3/query_sql")
    assert (rc, status) == (0, "200 1.1") and json.loads(body) == [{"host": "a", "usage": 1.5}], (rc, status, body, err)
    rc, body, status, err = curl("-k", f"https://127.0.0.1:{tls.port}/health")
    assert (rc, status) == (0, "200 1.1"), (rc, status, body, err)
    rc, _, _, err = curl(f"{tls.url}/health")  # the system trust store does not know the test CA
    assert rc == 60, (rc, err)


def test_plain_http_to_the_tls_port_is_told_to_use_https(tls):
    for method, path in (("GET", "/health"), ("POST", "/api/v3/write_lp?db=x")):
        r = requests.request(method, f"http://127.0.0.1:{tls.port}{path}", data=LINE, timeout=5)
        assert r.status_code == 400, (method, r.status_code, r.text)
        assert "https://" in r.json()["error"] and "TLS" in r.json()["error"], r.text


def test_cli_over_https(tls, pki):
    db = unique_db("cli")
    tls.cli("write", "--database", db, "--tls-ca", pki.ca, LINE)
    out = tls.cli("query", "--database", db, "--format", "json", "--tls-ca", pki.ca, "SELECT usage FROM cpu").stdout
    assert json.loads(out) == [{"usage": 1.5}], out
    out = tls.cli("query", "--database", db, "--format", "json", "SELECT count(*) AS n FROM cpu",
                  env={"INFLUXDB3_TLS_CA": pki.ca}).stdout
    assert json.loads(out) == [{"n": 1}], out
    for cmd in (("write", "--database", db, LINE), ("query", "--database", db, "SELECT 1")):
        r = tls.cli(*cmd, check=False)
        assert r.returncode != 0, (cmd, r.stdout)
        assert "--tls-ca" in r.stderr and "trust" in r.stderr, (cmd, r.stderr)
    tls.cli("write", "--database", db, "--tls-no-verify", "cpu,host=b usage=2 1700000001000000000")
    out = tls.cli("query", "--database", db, "--format", "json", "SELECT count(*) AS n FROM cpu",
                  env={"INFLUXDB3_TLS_NO_VERIFY": "true"}).stdout
    assert json.loads(out) == [{"n": 2}], out


# ---------------------------------------------------------------------------------------------
# Arrow Flight over TLS


def grpc_doget_tls(server, sql, db, root, token=None):
    creds = grpc.ssl_channel_credentials(root_certificates=Path(root).read_bytes())
    raw = json.dumps({"database": db, "sql_query": sql, "query_type": "sql"}).encode()
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.secure_channel(f"localhost:{server.port}", creds) as channel:
        call = channel.unary_stream(DOGET, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        return list(call(ticket(raw), timeout=30, metadata=metadata))


def test_flight_over_tls(tls, pki, monkeypatch):
    db = unique_db("flight")
    write_and_query(tls.url, db, pki.ca)
    messages = grpc_doget_tls(tls, "SELECT host, usage FROM cpu", db, pki.ca)
    assert len(messages) >= 2 and all(m[:1] == b"\x12" for m in messages), messages  # schema + batch
    with pytest.raises(grpc.RpcError) as e:  # trusting only cert B: the handshake must fail
        grpc_doget_tls(tls, "SELECT 1", db, pki.b_pem)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value
    out = run_client(tls, db, {"sql": "SELECT host, usage FROM cpu"})
    assert "error" in out, f"grpc-js trusted the test CA without being told: {out}"
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", pki.ca)  # node() passes os.environ on
    out = run_client(tls, db, {"sql": "SELECT host, usage FROM cpu"})
    assert "error" not in out and out["results"][0]["rows"] == [{"host": "a", "usage": 1.5}], out


def test_flight_over_tls_with_auth(make_tls, pki):
    s = make_tls()
    db = unique_db("auth")
    write_and_query(s.url, db, pki.ca)
    r = s.cli("create", "token", "--admin", "--tls-ca", pki.ca)
    token = next(line.split("Token: ", 1)[1] for line in r.stdout.splitlines() if line.startswith("Token: "))
    for bad in (None, "wrong"):
        with pytest.raises(grpc.RpcError) as e:
            grpc_doget_tls(s, "SELECT 1 AS x", db, pki.ca, token=bad)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED, (bad, e.value)
    assert len(grpc_doget_tls(s, "SELECT 1 AS x", db, pki.ca, token=token)) >= 2
    r = requests.get(f"{s.url}/api/v3/query_sql", params={"db": db, "q": "SELECT 1"}, verify=pki.ca, timeout=10)
    assert r.status_code == 401, (r.status_code, r.text)


# ---------------------------------------------------------------------------------------------
# Minimum version, reload, startup errors


def test_minimum_tls_version(tls, make_tls, pki):
    assert peer(tls.port, pki.ca, maximum_version=ssl.TLSVersion.TLSv1_2) == ("riffle-a", "TLSv1.2")
    assert peer(tls.port, pki.ca) == ("riffle-a", "TLSv1.3")
    strict = make_tls("--tls-minimum-version", "tls-1.3")
    with pytest.raises(ssl.SSLError):
        peer(strict.port, pki.ca, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert peer(strict.port, pki.ca, minimum_version=ssl.TLSVersion.TLSv1_3) == ("riffle-a", "TLSv1.3")
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{strict.port}", "-tls1_2"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15)
    assert p.returncode != 0, p.stdout[-2000:]
    assert requests.get(strict.url + "/health", verify=pki.ca, timeout=5).status_code == 200


def replace_file(path, data):
    tmp = Path(f"{path}.new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_certificate_reload(make_tls, pki):
    s = make_tls()
    db = unique_db("reload")
    assert peer(s.port, pki.ca)[0] == "riffle-a"
    replace_file(s.cert, Path(pki.b_pem).read_bytes())
    replace_file(s.key, Path(pki.b_key).read_bytes())
    seen = wait_for(lambda: peer(s.port, pki.ca)[0] == "riffle-b", timeout=10, interval=0.2)
    assert seen, f"new connections still get cert A 10 s after the files changed:\n{s.log()[-3000:]}"
    write_and_query(s.url, db, pki.ca)
    log_before = len(s.log())
    replace_file(s.cert, b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    kept = lambda: peer(s.port, pki.ca)[0] == "riffle-b" and "previous" in s.log()[log_before:]  # noqa: E731
    assert wait_for(kept, timeout=10, interval=0.2), f"no 'kept the previous' warning:\n{s.log()[log_before:]}"
    assert peer(s.port, pki.ca)[0] == "riffle-b"
    assert requests.get(s.url + "/health", verify=pki.ca, timeout=5).status_code == 200


@pytest.mark.parametrize("case", ["missing_cert", "mismatched_key", "cert_only", "key_only", "bad_version"])
def test_startup_errors_name_the_flag(pki, tmp_path, case):
    args, flag = {"missing_cert": (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", pki.a_key], "--tls-cert"),
                  "mismatched_key": (["--tls-cert", pki.a_pem, "--tls-key", pki.b_key], "--tls-key"),
                  "cert_only": (["--tls-cert", pki.a_pem], "--tls-key"),
                  "key_only": (["--tls-key", pki.a_key], "--tls-cert"),
                  "bad_version": (["--tls-cert", pki.a_pem, "--tls-key", pki.a_key,
                                   "--tls-minimum-version", "tls-1.1"], "--tls-minimum-version")}[case]
    try:
        p = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "file", "--data-dir",
                            str(tmp_path / "data"), "--http-bind", f"127.0.0.1:{free_port()}", *args],
                           capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{case}: the server started instead of failing: {e.stdout}") from None
    output = p.stdout + p.stderr
    assert p.returncode != 0 and flag in output, (case, p.returncode, output[-2000:])
    if case == "mismatched_key":
        assert "does not match" in output, output[-2000:]


# ---------------------------------------------------------------------------------------------
# Slow loris and a connection flood


def fresh_requests_work(url, verify=True):
    db = unique_db("busy")
    assert requests.get(url + "/health", verify=verify, timeout=5, headers={"Connection": "close"}).status_code == 200
    write_and_query(url, db, verify, timeout=5)


def test_slow_loris_does_not_block_fresh_requests(fresh_server):
    s = fresh_server.start()
    partial = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    slow, pos = [], []
    for i in range(200):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        pos.append(1 + i % 8)
        c.sendall(partial[: pos[i]])  # "G", "GE", ...: the server sees a partial first line
        slow.append(c)
    errors = []

    def trickle():
        for _ in range(8):  # a byte every 0.5 s: the rest of the first line, a header, its value
            for i, c in enumerate(slow):
                try:
                    c.sendall(partial[pos[i]: pos[i] + 1])
                    pos[i] += 1
                except OSError as e:
                    errors.append((i, e))
            time.sleep(0.5)
    t = threading.Thread(target=trickle)
    t.start()
    try:
        for _ in range(3):
            fresh_requests_work(s.url)
            time.sleep(0.5)
    finally:
        t.join()
    assert not errors, errors[:5]
    for i, c in enumerate(slow):  # each slow request, once finished, is answered
        c.sendall(partial[pos[i]:] + b"1\r\nConnection: close\r\n\r\n")
    answered = [c.recv(64).startswith(b"HTTP/1.1 200") for c in slow]
    assert all(answered), f"{answered.count(False)} of 200 slow requests got no 200"
    for c in slow:
        c.close()


def test_silent_connections_do_not_block_the_tls_server(tls, pki):
    silent = [socket.create_connection(("127.0.0.1", tls.port), timeout=5) for _ in range(100)]
    try:
        for _ in range(3):
            fresh_requests_work(tls.url, pki.ca)
            assert peer(tls.port, pki.ca)[0] == "riffle-a"
        for c in silent:  # never sent a ClientHello, yet still open (the first-byte limit is 60 s)
            c.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.recv(1)
    finally:
        for c in silent:
            c.close()


def test_a_request_starting_with_p_may_pause(fresh_server):
    """'P' could begin the HTTP/2 preface, so the server waits for more; a request that pauses
    there for 3 s is still well inside the 300 s a request has to arrive."""
    s = fresh_server.start()
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
        c.sendall(b"P")
        time.sleep(3)
        try:
            c.sendall(b"UT /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = c.recv(64)
        except OSError as e:
            answer = repr(e).encode()
    assert answer.startswith(b"HTTP/1.1 404"), f"expected an HTTP answer (404: no PUT /health), got {answer!r}"


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_connection_flood(fresh_server):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 10_000
    count = min(want, hard - 500)
    note = f"(scaled down to {count} connections: RLIMIT_NOFILE hard limit {hard})" if count < want else ""
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))  # the server inherits a low soft limit
    try:
        s = fresh_server.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE) == (hard, hard), "soft limit not raised to hard"
    before = open_fds(s.proc.pid)
    conns = []
    try:
        for _ in range(count):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive afterwards
            conns.append(c)
        ok = sum(c.recv(64).startswith(b"HTTP/1.1 200") for c in conns)
        assert ok == count, f"{ok} of {count} flooding connections got a 200 {note}"
        assert open_fds(s.proc.pid) >= before + count - 50, f"server does not hold the connections {note}"
        fresh_requests_work(s.url)
    finally:
        for c in conns:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    back = wait_for(lambda: open_fds(s.proc.pid) <= before + 100, timeout=10, interval=0.2)
    assert back, f"server fds: {before} before, {open_fds(s.proc.pid)} 10 s after closing {count} {note}"
    fresh_requests_work(s.url)


def test_out_of_descriptors_backs_off_and_recovers(fresh_server):
    s = fresh_server.start()
    pid, limits = s.proc.pid, resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid) + 50, limits[1]))
    conns = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(300)]
    try:
        assert wait_for(lambda: "cannot accept connections" in s.log(), timeout=10), s.log()[-2000:]
        cpu = cpu_seconds(pid)
        time.sleep(2)  # a spinning accept loop would burn about a core (2 CPU s) meanwhile
        used = cpu_seconds(pid) - cpu
        assert used < 1.0, f"{used:.2f} CPU s in 2 s while out of descriptors: the accept loop spins"
    finally:
        for c in conns:
            c.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    fresh_requests_work(s.url)
