"""`serve --object-store s3`: the WAL, catalog, snapshots and Parquet files as objects of a
bucket, and what happens when the store misbehaves. Every server here talks to the session's S3
server (s3rver, or RIFFLE_TEST_S3_ENDPOINT's) through its own `s3_proxy.S3Proxy`, which checks
every request's SigV4 signature and payload hash and injects the faults: 500s, 503 SlowDown,
stalls longer than --object-store-request-timeout, dropped connections, a store that is down."""
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

from conftest import (BINARY, Server, free_port, kill9_during_writes, object_exists, object_keys, query_rows, read_object, wait_for,
                      write_lp)

# Quick failures: a request is tried 3 times (2 retries) for at most 5 s, each attempt 2 s.
FAST = ["--object-store-max-retries", "2", "--object-store-retry-timeout", "5s",
        "--object-store-request-timeout", "2s"]
# A snapshot once 3 WAL files are not persisted (as test_persistence.py), covered WAL files deleted.
SNAPSHOT = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
WAL_KEY = re.compile(r"node0/wal/\d{11}\.wal")


@pytest.fixture
def proxy(s3_server):
    p = s3_server.proxy(region=s3_server.region)
    p.expect_rejections = False  # a test that sends bad signatures on purpose sets this
    yield p
    p.stop()
    if not p.expect_rejections:
        assert p.rejected == [], f"the proxy refused requests of the server: {p.rejected[:3]}"


@pytest.fixture
def riffle(tmp_path, proxy, s3_server):
    """riffle(args, **Server kwargs) → a Server (not started) on a fresh bucket, through `proxy`."""
    servers = []

    def make(args=(), target=None, **kw):
        s = Server(tmp_path / f"server{len(servers)}", args, object_store="s3",
                   s3=target or s3_server.target(proxy.url), **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.kill9()


def values(s, db="db", table="t"):
    return [r["v"] for r in query_rows(s, db, f"SELECT v FROM {table} ORDER BY time")]


def wal_puts(proxy):
    return len(proxy.requests_matching("PUT", "/node0/wal/"))


def parquet_files(s, db="db"):
    return query_rows(s, db, "SELECT table_name, path, size_bytes, row_count FROM system.parquet_files ORDER BY path")


def newest_manifest(s):
    """The JSON of the newest snapshot manifest (after its checksum line), or None."""
    keys = [k for k in object_keys(s, "node0/snapshots/") if k.endswith(".json")]
    if not keys:
        return None
    return json.loads(read_object(s, keys[-1]).split(b"\n", 1)[1])


def write_batches(s, count, start=0, db="db", table="t"):
    """`count` acknowledged writes, one WAL file each; returns their values."""
    out = []
    for b in range(start, start + count):
        lines = [f"{table},host=h{i} v={b * 10 + i}i {1_700_000_000 + b * 60 + i}" for i in range(3)]
        r = write_lp(s, db, "\n".join(lines), precision="s")
        assert r.status_code == 204, r.text
        out += [b * 10 + i for i in range(3)]
        time.sleep(0.15)  # > the 100 ms flush interval
    return out


def error_of(r):
    """The JSON error message of a failed write."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.status_code, r.text)
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


def test_write_query_and_restart_on_s3(riffle, proxy):
    s = riffle().start()
    assert write_lp(s, "db1", 'full,host=a i=-1i,u=2u,f=1.5,b=true,s="x \\"q\\"" 1\nother v=1 3',
                    precision="s").status_code == 204
    assert write_lp(s, "db2", "m,t=x v=1i 1", precision="s").status_code == 204
    before = [query_rows(s, db, f'SELECT * FROM "{t}" ORDER BY time') for db, t in
              (("db1", "full"), ("db1", "other"), ("db2", "m"))]
    assert before[0][0]["s"] == 'x "q"'
    keys = object_keys(s)
    assert any(WAL_KEY.fullmatch(k) for k in keys), keys
    assert any(k.startswith("node0/catalog/") for k in keys), keys
    # The data dir is only a cache: no WAL or catalog of the store is kept there.
    assert not (s.data_dir / "node0" / "wal").exists() and not (s.data_dir / "node0" / "catalog").exists()
    s.restart()
    assert [query_rows(s, db, f'SELECT * FROM "{t}" ORDER BY time') for db, t in
            (("db1", "full"), ("db1", "other"), ("db2", "m"))] == before
    assert write_lp(s, "db2", "m,t=y v=2i 2", precision="s").status_code == 204
    s.kill9()
    s.start()
    assert query_rows(s, "db2", "SELECT t, v FROM m ORDER BY time") == [{"t": "x", "v": 1}, {"t": "y", "v": 2}]
    assert proxy.requests["PUT"] > 0 and proxy.requests["GET"] > 0
    assert proxy.bad_signatures == 0 and proxy.bad_payload_hashes == 0


def test_a_snapshot_puts_parquet_files_and_a_manifest_in_the_bucket(riffle, proxy, s3_server):
    # Small multipart parts (s3rver has no 5 MiB minimum; a real S3 server has) so that the
    # Parquet uploads go through CreateMultipartUpload / UploadPart / CompleteMultipartUpload.
    env = {} if s3_server.external else {"RIFFLE_S3_PART_BYTES": "1024"}
    s = riffle(["--wal-snapshot-size", "1", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"],
               env=env).start()
    expected = write_batches(s, 6)
    files = wait_for(lambda: parquet_files(s), timeout=30)
    assert files, s.log()
    for f in files:
        data = read_object(s, f["path"])
        assert data[:4] == b"PAR1" and data[-4:] == b"PAR1" and len(data) == f["size_bytes"], f
    manifest = wait_for(lambda: newest_manifest(s), timeout=30)
    assert manifest and {f["path"] for f in manifest["files"]} >= {f["path"] for f in files}
    assert all(object_exists(s, f["path"]) for f in manifest["files"])
    if not s3_server.external and any(f["size_bytes"] > 1024 for f in files):
        assert proxy.requests_matching("POST", "/node0/dbs/"), "no multipart upload"
        assert any("partNumber=" in e["query"] for e in proxy.requests_matching("PUT", "/node0/dbs/"))
    assert values(s) == expected
    # The covered WAL files are deleted from the bucket.
    assert wait_for(lambda: len(object_keys(s, "node0/wal/")) < 6), object_keys(s, "node0/wal/")
    assert proxy.requests["DELETE"] > 0
    # The local copies are only a cache: without them the files are fetched from the bucket again.
    s.stop()
    shutil.rmtree(s.data_dir / ".cache", ignore_errors=True)
    gets = len(proxy.requests_matching("GET", "/node0/dbs/"))
    s.start()
    assert values(s) == expected
    assert len(proxy.requests_matching("GET", "/node0/dbs/")) > gets


def test_wal_puts_failing_fail_the_write_and_nothing_acknowledged_is_lost(riffle, proxy):
    s = riffle(FAST).start()
    acked = [v for v in range(3) if write_lp(s, "db", f"t v={v}i {v + 1}", precision="s").status_code == 204]
    assert acked == [0, 1, 2]
    puts = wal_puts(proxy)
    proxy.fail_next(None, status=500, method="PUT", key="/node0/wal/")
    r = write_lp(s, "db", "t v=100i 100", precision="s")
    assert r.status_code >= 500, r.text
    message = error_of(r)
    assert "500" in message, message  # names what the store answered
    assert wal_puts(proxy) - puts >= 2, "the failed WAL PUT was not retried"
    assert s.alive() and requests.get(s.url + "/health", timeout=5).status_code == 200
    assert values(s) == [0, 1, 2]  # the failed write is not visible (as with a full disk)
    proxy.clear()
    for v in (3, 4, 5):
        assert write_lp(s, "db", f"t v={v}i {v + 1}", precision="s").status_code == 204
        acked.append(v)
    assert values(s) == acked
    s.kill9()
    s.start()
    assert values(s) == acked


def test_slowdown_is_retried_transparently(riffle, proxy):
    s = riffle(FAST).start()
    puts = wal_puts(proxy)
    proxy.slowdown(2, method="PUT", key="/node0/wal/")
    r = write_lp(s, "db", "t v=1i 1", precision="s")
    assert r.status_code == 204, r.text
    assert proxy.faults["slowdown"] == 2
    assert wal_puts(proxy) - puts >= 3  # two throttled attempts, then the one that landed
    assert values(s) == [1]
    s.restart()
    assert values(s) == [1]


def test_a_stalled_request_is_timed_out_and_retried_or_failed_cleanly(riffle, proxy):
    s = riffle(["--object-store-request-timeout", "1s", "--object-store-max-retries", "2",
                "--object-store-retry-timeout", "10s"]).start()
    # One WAL PUT held far longer than the request timeout: the retry lands, the write succeeds.
    proxy.stall(30, n=1, method="PUT", key="/node0/wal/", then="drop")
    puts = wal_puts(proxy)
    r = write_lp(s, "db", "t v=1i 1", precision="s")
    assert r.status_code == 204, r.text
    assert proxy.faults["stall"] == 1 and wal_puts(proxy) - puts >= 2
    # Every attempt held: the write fails within the retry budget, with a JSON error.
    proxy.stall(120, n=None, method="PUT", key="/node0/wal/", then="drop")
    r = write_lp(s, "db", "t v=2i 2", precision="s")
    assert r.status_code >= 500, r.text
    error_of(r)
    assert s.alive()
    proxy.clear()  # the held requests are dropped: they never reach the store
    assert write_lp(s, "db", "t v=3i 3", precision="s").status_code == 204
    assert values(s) == [1, 3]
    s.kill9()
    s.start()
    assert values(s) == [1, 3]


def test_dropped_connections_are_retried(riffle, proxy):
    s = riffle(FAST).start()
    proxy.drop_connections(2, method="PUT", key="/node0/wal/")
    assert write_lp(s, "db", "t v=1i 1", precision="s").status_code == 204
    assert proxy.faults["drop"] == 2
    # The PUT lands but its answer is lost: the retry finds the object there (412 to its
    # If-None-Match), with its own bytes, which is a success; the row is there once.
    proxy.drop_connections(1, method="PUT", key="/node0/wal/", after_forward=True)
    assert write_lp(s, "db", "t v=2i 2", precision="s").status_code == 204
    assert proxy.faults["drop"] == 3
    assert values(s) == [1, 2]
    s.kill9()
    s.start()
    assert values(s) == [1, 2]
    assert write_lp(s, "db", "t v=3i 3", precision="s").status_code == 204
    assert values(s) == [1, 2, 3]


def test_a_snapshot_that_fails_while_the_store_is_down_is_retried(riffle, proxy):
    s = riffle(SNAPSHOT + FAST).start()
    # The snapshot's Parquet uploads hang; then the whole store goes down under it.
    proxy.stall(120, n=None, key="/node0/dbs/", then="drop")
    acked = write_batches(s, 4)
    assert wait_for(lambda: proxy.faults["stall"] >= 1, timeout=30), "no snapshot started"
    proxy.down()
    proxy.release()  # the held uploads are dropped (the store is down)
    r = write_lp(s, "db", "t v=999999i 1800000000", precision="s")
    assert r.status_code >= 500, r.text  # nothing can be made durable while the store is down
    error_of(r)
    assert s.alive() and requests.get(s.url + "/health", timeout=5).status_code == 200
    assert sorted(values(s)) == sorted(acked)  # everything acknowledged is still answered
    proxy.clear()  # up again, no more stalls
    acked += write_batches(s, 4, start=4)
    files = wait_for(lambda: parquet_files(s), timeout=60)
    assert files, s.log()
    assert wait_for(lambda: sorted(values(s)) == sorted(acked), timeout=30), (values(s), acked)
    manifest = newest_manifest(s)
    assert manifest is not None
    missing = [f["path"] for f in manifest["files"] if not object_exists(s, f["path"])]
    assert missing == [], missing
    assert {f["path"] for f in files} <= set(object_keys(s, "node0/dbs/"))
    s.kill9()
    s.start()
    assert sorted(values(s)) == sorted(acked)


def test_kill9_during_writes_loses_no_acknowledged_line(riffle, proxy):
    s = riffle(SNAPSHOT).start()
    for round_ in range(2):
        def line(k, i, round_=round_):
            v = round_ * 10_000_000 + k * 1_000_000 + i
            return v, f"t,w=w{k} v={v}i {1_700_000_000 + v}"

        acknowledged = kill9_during_writes(s, "db", line, at_least=40, timeout=60)
        s.start()
        got = set(values(s))
        missing = sorted(set(acknowledged) - got)
        assert missing == [], f"round {round_}: {len(missing)} acknowledged lines lost: {missing[:10]}"
    assert proxy.bad_signatures == 0


def test_deletes_and_every_request_is_signed(riffle, proxy):
    """Database and table deletes remove their objects with signed DELETEs; across writes,
    snapshots, queries, a restart and deletes the proxy refused nothing."""
    s = riffle(SNAPSHOT).start()
    write_batches(s, 4, db="gone")
    write_batches(s, 4, db="kept")
    assert wait_for(lambda: parquet_files(s, "gone") and parquet_files(s, "kept"), timeout=30), s.log()
    gone = [f["path"] for f in parquet_files(s, "gone")]
    r = requests.delete(s.url + "/api/v3/configure/database", params={"db": "gone"}, timeout=30)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: not any(object_exists(s, k) for k in gone), timeout=30)
    s.restart()
    assert len(values(s, "kept")) == 12
    methods = set(proxy.requests)
    assert {"GET", "PUT", "DELETE"} <= methods, methods
    assert proxy.rejected == [] and proxy.bad_signatures == 0 and proxy.bad_payload_hashes == 0
    # Each request signed its payload hash and the host.
    signed = [e["signed_headers"] for e in proxy.log]
    assert all(h and "host" in h and "x-amz-content-sha256" in h and "x-amz-date" in h for h in signed), \
        [e for e in proxy.log if not e["signed_headers"]][:3]


@pytest.mark.parametrize("change, code", [({"secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
                                          ({"access_key": "NOSUCHKEY"}, "InvalidAccessKeyId")])
def test_wrong_credentials_stop_serve_with_the_s3_error(riffle, proxy, s3_server, change, code):
    proxy.expect_rejections = True
    s = riffle(FAST, target=s3_server.target(proxy.url, **change))
    try:
        s.start()
    except AssertionError as e:  # serve checks the bucket at start (HeadBucket: no error body) and exits
        message = str(e)
        assert "server exited" in message and "403" in message and s.bucket in message, message
    else:  # or it starts and every write fails with the store's answer
        r = write_lp(s, "db", "t v=1i 1", precision="s")
        assert r.status_code >= 500 and "403" in error_of(r), r.text
    assert proxy.rejected and proxy.rejected[0][2] == code  # what the store refused it for


def test_a_missing_bucket_stops_serve(riffle, proxy):
    s = riffle(FAST)
    s.bucket = f"riffle-missing-{free_port()}"  # never created
    with pytest.raises(AssertionError) as e:
        s.start()
    assert "server exited" in str(e.value) and s.bucket in str(e.value) and "404" in str(e.value), e.value


@pytest.mark.parametrize("args, needle", [
    (["--bucket", "b", "--aws-endpoint", "http://127.0.0.1:1", "--aws-access-key-id", "k",
      "--aws-secret-access-key", "s"], "--aws-allow-http"),
    (["--aws-endpoint", "http://127.0.0.1:1", "--aws-allow-http", "--aws-access-key-id", "k",
      "--aws-secret-access-key", "s"], "--bucket"),
    (["--bucket", "b", "--aws-endpoint", "http://127.0.0.1:1", "--aws-allow-http"], "--aws-access-key-id"),
])
def test_serve_refuses_incomplete_s3_settings(tmp_path, args, needle):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("INFLUXDB3_BUCKET", "INFLUXDB3_OBJECT_STORE")}
    p = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "s3", "--data-dir", str(tmp_path),
                        "--http-bind", f"127.0.0.1:{free_port()}", *args],
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and needle in p.stdout + p.stderr, (p.returncode, p.stdout, p.stderr)


def test_s3_settings_from_the_environment(riffle, proxy):
    s = riffle(s3_via_env=True).start()  # AWS_ENDPOINT, AWS_ACCESS_KEY_ID, ..., INFLUXDB3_BUCKET
    assert write_lp(s, "db", "t v=1i 1", precision="s").status_code == 204
    s.restart()
    assert values(s) == [1]
    assert any(WAL_KEY.fullmatch(k) for k in object_keys(s, "node0/wal/"))


def test_session_token_is_sent_and_signed(riffle, proxy):
    s = riffle(["--aws-session-token", "a-session-token"]).start()
    assert write_lp(s, "db", "t v=1i 1", precision="s").status_code == 204
    assert all("x-amz-security-token" in (e["signed_headers"] or []) for e in proxy.log), proxy.log[:2]


def test_skip_signature_sends_anonymous_requests(riffle, s3_server, tmp_path):
    if s3_server.external:
        pytest.skip("needs a server that accepts anonymous requests (s3rver)")
    anonymous = s3_server.proxy(allow_anonymous=True)
    try:
        s = riffle(["--aws-skip-signature"], target=s3_server.target(anonymous.url))
        s.start()
        assert write_lp(s, "db", "t v=1i 1", precision="s").status_code == 204
        assert values(s) == [1]
        assert anonymous.log and all(e["signed_headers"] is None for e in anonymous.log)
    finally:
        anonymous.stop()


def test_connection_limit_bounds_open_connections(riffle, proxy):
    s = riffle(["--object-store-connection-limit", "2"] + SNAPSHOT, flush="20ms").start()
    errors = []

    def writer(w):
        for i in range(30):
            r = write_lp(s, "db", f"t,w=w{w} v={w * 1000 + i}i {1_700_000_000 + w * 1000 + i}", precision="s")
            if r.status_code != 204:
                errors.append(r.text)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(values(s)) == 120
    assert 1 <= proxy.max_connections <= 2, proxy.max_connections
