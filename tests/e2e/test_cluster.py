"""Multi-node mode (InfluxDB 3 Enterprise's `--cluster-id` and `--mode`): several real `serve`
processes over one S3 bucket (the session's s3rver, conftest's `s3rver` fixture) or over one shared file-store
directory. Ingest nodes write only under their own node id ({node}/wal, {node}/snapshots,
{node}/dbs); the catalog, the tokens and the node registry live under the cluster id; a
`--mode query` node serves the ingest nodes' data by reading their WAL files and snapshot
manifests every --replication-interval.

Two tests put tests/e2e/s3_proxy.py's proxy between a node and s3rver: one to answer
`If-None-Match: *` atomically as AWS S3 does (s3rver ignores it), one to hold a query node's
listing of the WAL files at a chosen moment.

Every wait is a `wait_for` with a generous deadline; no test asserts a duration. Counts on the
query node are checked at every observation (never more than was sent, never a row twice, never
one missing once a later one is visible), not only at the end. Each test prints the last lines of
every node's log at teardown (shown by pytest when the test fails)."""
import dataclasses
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import BINARY, ServeProcess, free_port, new_bucket, s3_proxy_for, unique_db, wait_for
from s3_proxy import S3Client

INTERVAL = "200ms"  # --replication-interval of every node here
CLUSTER = "c1"
WAIT = 20  # seconds: the deadline of every wait for replication (100 intervals)


# ---------------------------------------------------------------------------------------------
# The two shared stores: keys are relative to the store's root, as the nodes name them.

@dataclasses.dataclass
class S3Store:
    client: S3Client  # of s3rver itself: what the tests list and read
    bucket: str
    node_endpoint: str = None  # what the nodes talk to (default: s3rver directly)
    kind = "s3"

    @classmethod
    def new(cls, s3rver, node_endpoint=None):
        """A fresh bucket on `s3rver` (conftest's S3rver)."""
        client = s3rver.client()
        return cls(client, new_bucket(client, "cluster"), node_endpoint)

    @property
    def endpoint(self):
        return self.client.endpoint

    def args(self, local_dir):
        return ["--object-store", "s3", "--bucket", self.bucket, "--aws-endpoint", self.node_endpoint or self.endpoint,
                "--aws-access-key-id", self.client.access_key, "--aws-secret-access-key", self.client.secret_key,
                "--aws-allow-http", "--data-dir", str(local_dir)]

    def keys(self, prefix=""):
        return self.client.list_keys(self.bucket, prefix)

    def read(self, key):
        return self.client.get_object(self.bucket, key)


@dataclasses.dataclass
class FileStore:
    root: Path
    kind = "file"

    def args(self, local_dir):  # every node uses the shared directory itself
        return ["--object-store", "file", "--data-dir", str(self.root)]

    def keys(self, prefix=""):
        if not self.root.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        # Top-level dot directories (.tmp, .cache) are scratch space, not objects.
        return sorted(k for k in keys if k.startswith(prefix) and not k.startswith("."))

    def read(self, key):
        return (self.root / key).read_bytes()


@pytest.fixture(params=["s3", "file"])
def store(request, tmp_path):
    if request.param == "s3":
        return S3Store.new(request.getfixturevalue("s3rver"))
    return FileStore(tmp_path / "shared")


@pytest.fixture
def conditional_s3_store(s3rver):
    """The bucket behind tests/e2e/s3_proxy.py's proxy, which answers `If-None-Match: *` PUTs
    atomically (412 when the object exists), as AWS S3 does and s3rver does not."""
    client = s3rver.client()
    proxy = s3_proxy_for(s3rver.endpoint, client.access_key, client.secret_key, emulate_if_none_match=True)
    yield S3Store.new(s3rver, node_endpoint=proxy.url)
    proxy.stop()


@pytest.fixture
def s3_store(s3rver):
    return S3Store.new(s3rver)


# ---------------------------------------------------------------------------------------------
# Nodes: real `influxdb3 serve` processes.

class Node(ServeProcess):
    def __init__(self, tmp: Path, store, node_id, modes=None, extra=(), auth=False, cluster=CLUSTER):
        self.tmp = tmp
        self.store = store
        self.node_id = node_id
        self.modes = modes
        self.extra = list(extra)
        self.auth = auth
        self.cluster = cluster
        self.local_dir = tmp / f"{node_id}-local"  # the S3 nodes' local cache
        self.plugin_dir = tmp / f"{node_id}-plugins"
        self.plugin_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / f"{node_id}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.what = f"node {node_id}"

    def args(self):
        args = [BINARY, "serve", "--node-id", self.node_id]
        if self.cluster:
            args += ["--cluster-id", self.cluster]
        if self.modes:
            args += ["--mode", self.modes]
        args += self.store.args(self.local_dir)
        # Flushes 100ms apart at least: each write its own WAL file and flush period, so that
        # --wal-snapshot-size counts writes here as it did before flushes formed per write.
        args += ["--http-bind", f"127.0.0.1:{self.port}", "--wal-flush-interval", "100ms", "--wal-min-flush-gap", "100ms",
                 "--replication-interval", INTERVAL, "--plugin-dir", str(self.plugin_dir)]
        if not self.auth:
            args.append("--without-auth")
        return args + self.extra

    def start(self):
        return self.launch(self.args(), 60, header=True, stdin=subprocess.DEVNULL)

    def cli(self, *args, check=True):
        r = subprocess.run([BINARY, *args, "--host", self.url], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"influxdb3 {' '.join(args)} ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    # -- HTTP helpers --------------------------------------------------------------------------
    def write(self, db, body, token=None, **params):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + "/api/v3/write_lp", params={"db": db, **params}, data=body.encode(),
                             headers=headers, timeout=30)

    def query(self, db, sql, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + "/api/v3/query_sql", json={"db": db, "q": sql, "format": "json"},
                             headers=headers, timeout=30)

    def rows(self, db, sql, token=None):
        r = self.query(db, sql, token)
        assert r.status_code == 200, f"{self.node_id}: {r.status_code} {r.text}"
        return r.json()

    def try_rows(self, db, sql, token=None):
        """The rows, or None when the query fails (e.g. the table is not known here yet)."""
        try:
            r = self.query(db, sql, token)
        except requests.RequestException:
            return None
        return r.json() if r.status_code == 200 else None

    def count(self, db, table, token=None):
        rows = self.try_rows(db, f'SELECT count(*) AS n FROM "{table}"', token)
        return rows[0]["n"] if rows else None

    def databases(self, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = requests.get(self.url + "/api/v3/configure/database", params={"format": "json"}, headers=headers,
                         timeout=30)
        assert r.status_code == 200, f"{self.node_id}: {r.status_code} {r.text}"
        return {row["iox::database"] for row in r.json()}

    def tables(self, db, token=None):
        rows = self.try_rows(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox'", token)
        return {row["table_name"] for row in rows} if rows is not None else set()


@pytest.fixture
def cluster(tmp_path):
    """cluster(store, node_id, modes=None, extra=(), auth=False, start=True) → a Node; every node
    is killed at teardown, and the tail of its log printed."""
    nodes = []

    def make(store, node_id, modes=None, extra=(), auth=False, start=True, cluster=CLUSTER):
        node = Node(tmp_path, store, node_id, modes, extra, auth, cluster)
        nodes.append(node)
        return node.start() if start else node

    yield make
    for node in nodes:
        node.kill9()
    for node in nodes:
        print(f"---- log of {node.node_id} (tail) ----\n{node.log()[-6000:]}")


def ts(i):
    """A distinct recent timestamp (ns) for row i."""
    return BASE_NS + i * 1000


BASE_NS = (time.time_ns() // 10**9 - 600) * 10**9  # ten minutes ago, whole seconds


def lines(table, start, n, tags="", field="v"):
    """n rows of `table` with v = start..start+n-1 at distinct timestamps."""
    tag = f",{tags}" if tags else ""
    return "\n".join(f"{table}{tag} {field}={i}i {ts(i)}" for i in range(start, start + n))


def assert_written(r, what=""):
    assert r.status_code == 204, f"write {what}: {r.status_code} {r.text}"


# ---------------------------------------------------------------------------------------------
# Replication: what an ingest node acknowledged is served by a query node.

def test_query_node_serves_what_the_ingest_node_acknowledged(cluster, store):
    ing = cluster(store, "ing1", "ingest")
    q = cluster(store, "q1", "query")
    db = unique_db("cl")
    assert_written(ing.write(db, lines("cpu", 0, 10, "host=a")))
    assert wait_for(lambda: q.count(db, "cpu") == 10, timeout=WAIT), (q.count(db, "cpu"), q.tables(db))
    assert db in q.databases()
    assert q.tables(db) == {"cpu"}
    rows = q.rows(db, "SELECT host, v, time FROM cpu ORDER BY v")
    assert [r["v"] for r in rows] == list(range(10)) and {r["host"] for r in rows} == {"a"}
    # A second write, and a new column, arrive the same way.
    assert_written(ing.write(db, f"cpu,host=b v=10i,extra=1.5 {ts(10)}"))
    assert wait_for(lambda: q.count(db, "cpu") == 11, timeout=WAIT)
    assert q.rows(db, "SELECT host, extra FROM cpu WHERE v = 10") == [{"host": "b", "extra": 1.5}]
    # The query node is the same data as the ingest node (which also answers queries).
    assert q.rows(db, "SELECT * FROM cpu ORDER BY v") == ing.rows(db, "SELECT * FROM cpu ORDER BY v")


def _stream_and_watch(ing_nodes, q, db, tables, writes, batch):
    """Writers (one thread per (node, table), each sequential, each its own v range) while the
    query node is polled: at every observation, per table, no row twice (count == count
    distinct), never more than was sent, never fewer than before, and the visible rows of each
    writer are a prefix of what it sent (nothing missing once a later row is visible)."""
    writers = [(node, table, k) for k, (node, table) in enumerate((n, t) for n in ing_nodes for t in tables)]
    sent = {k: 0 for _, _, k in writers}
    acked = {k: 0 for _, _, k in writers}
    errors = []
    span = writes * batch

    def write_all(node, table, k):
        try:
            for w in range(writes):
                start = k * span + w * batch
                sent[k] += batch  # before the request: a row may be visible before its 204 arrives
                r = node.write(db, lines(table, start, batch, f"w={k}"))
                if r.status_code != 204:
                    errors.append(f"writer {k} ({node.node_id}/{table}) write {w}: {r.status_code} {r.text}")
                    return
                acked[k] += batch
        except Exception as e:  # noqa: BLE001
            errors.append(f"writer {k}: {e!r}")

    threads = [threading.Thread(target=write_all, args=w) for w in writers]
    for t in threads:
        t.start()
    last = {k: 0 for _, _, k in writers}
    observations = 0
    violations = []
    seen = set()  # (writer, count) pairs observed, for the printout
    by_writer_sql = {table: f'SELECT w, count(*) AS n, count(DISTINCT v) AS d, min(v) AS lo, max(v) AS hi ' \
                            f'FROM "{table}" GROUP BY w' for table in tables}
    try:
        while any(t.is_alive() for t in threads) or observations < 3:
            for table in tables:
                r = q.query(db, by_writer_sql[table])
                after = dict(sent)
                if r.status_code != 200:
                    if any(last[k] for _, t, k in writers if t == table):
                        violations.append(f"query of {table} failed after rows were visible: {r.status_code} {r.text}")
                    continue
                present = {int(row["w"]) for row in r.json()}
                for _, t, k in writers:
                    if t == table and last[k] and k not in present:
                        violations.append(f"writer {k}: no row visible after {last[k]} were (rows went missing)")
                for row in r.json():
                    k = int(row["w"])
                    n = row["n"]
                    if n != row["d"]:
                        violations.append(f"writer {k}: {n} rows but {row['d']} distinct values (a row counted twice)")
                    if n > after[k]:
                        violations.append(f"writer {k}: {n} rows visible but only {after[k]} sent")
                    if n < last[k]:
                        violations.append(f"writer {k}: {n} rows visible after {last[k]} were (rows went missing)")
                    if n and (row["lo"] != k * span or row["hi"] != k * span + n - 1):
                        violations.append(f"writer {k}: rows {row['lo']}..{row['hi']} visible, {n} of them: "
                                          f"not the prefix of what it wrote (a row missing)")
                    last[k] = max(last[k], n)
                    seen.add((k, n))
            observations += 1
            assert not violations, violations[:5]
    finally:
        for t in threads:
            t.join()
    assert not errors, errors
    total = {table: sum(acked[k] for _, t, k in writers if t == table) for table in tables}
    for table in tables:
        assert wait_for(lambda: q.count(db, table) == total[table], timeout=WAIT), \
            (table, q.count(db, table), total[table])
        # Settled: the exact count, each value once.
        rows = q.rows(db, f'SELECT count(*) AS n, count(DISTINCT v) AS d FROM "{table}"')
        assert rows == [{"n": total[table], "d": total[table]}]
    assert observations >= 3
    print(f"{observations} observations of the query node, {len(seen)} distinct (writer, count) states")
    return total, observations


def test_counts_on_the_query_node_are_exact_while_the_ingest_node_snapshots(cluster, store):
    # A snapshot after every WAL file, and covered WAL files deleted at once: the query node
    # switches from WAL files to Parquet files many times during the stream.
    ing = cluster(store, "ing1", "ingest", ["--wal-snapshot-size", "1", "--snapshotted-wal-files-to-keep", "1"])
    q = cluster(store, "q1", "query")
    db = unique_db("stream")
    total, _ = _stream_and_watch([ing], q, db, ["a", "b"], writes=30, batch=7)
    assert total == {"a": 30 * 7, "b": 30 * 7}
    # The snapshots did happen: the query node reads Parquet files of the ingest node.
    files = wait_for(lambda: q.try_rows(db, "SELECT path, row_count FROM system.parquet_files"), timeout=WAIT)
    assert files, q.try_rows(db, "SELECT * FROM system.parquet_files")


def test_counts_are_exact_with_snapshots_every_two_wal_files(cluster, s3_store):
    ing = cluster(s3_store, "ing1", "ingest", ["--wal-snapshot-size", "2"])
    q = cluster(s3_store, "q1", "query")
    _stream_and_watch([ing], q, unique_db("stream2"), ["m"], writes=40, batch=3)


def test_no_gap_when_wal_files_are_deleted_between_the_manifest_and_the_wal_listing(cluster, s3rver):
    """The race the streaming tests meet by chance, made certain: the query node (behind
    tests/e2e/s3_proxy.py's proxy) has read the ingest node's manifest and is listing its WAL
    files; the listing is held while the ingest node snapshots (a new manifest) and deletes the
    WAL files it covered, and writes one more. The listing then shows only that newest file: a
    query node that reads it before the new manifest shows the newest write without the ones
    before it, which the snapshot holds."""
    direct = S3Store.new(s3rver)
    proxy = s3_proxy_for(s3rver.endpoint, direct.client.access_key, direct.client.secret_key)
    try:
        ing = cluster(direct, "ing1", "ingest", ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0"])
        q = cluster(dataclasses.replace(direct, node_endpoint=proxy.url), "q1", "query")
        db = unique_db("gap")
        assert_written(ing.write(db, lines("m", 0, 10)))  # A: v 0..9
        assert wait_for(lambda: q.count(db, "m") == 10, timeout=WAIT)
        assert not direct.keys("ing1/snapshots/")
        # Hold the query node's next listing of the WAL files (after its manifest read).
        rule = proxy.stall(20, n=1, method="GET", query="wal")
        assert wait_for(lambda: rule.fired, timeout=WAIT), proxy.stats()
        # B: writes until a snapshot covers them and their WAL files are gone.
        b = 0
        while not direct.keys("ing1/snapshots/") and b < 10:
            assert_written(ing.write(db, lines("m", 10 + b * 10, 10)))
            b += 1
            wait_for(lambda: direct.keys("ing1/snapshots/"), timeout=1)
        assert direct.keys("ing1/snapshots/"), direct.keys("ing1/")
        assert wait_for(lambda: not direct.keys("ing1/wal/"), timeout=WAIT), direct.keys("ing1/")
        # C: one more write, in a WAL file of its own.
        c_start = 10 + b * 10
        assert_written(ing.write(db, lines("m", c_start, 10)))
        assert len(direct.keys("ing1/wal/")) == 1, direct.keys("ing1/")
        total = c_start + 10
        assert rule.fired and proxy.stats()["rules"][0]["remaining"] == 0
        proxy.release()
        # From now on: never C's rows without all of B's.
        gaps = []
        deadline = time.time() + 3
        while time.time() < deadline:
            rows = q.try_rows(db, "SELECT count(*) AS n, max(v) AS hi FROM m")
            if rows and rows[0]["hi"] is not None and rows[0]["hi"] >= c_start and rows[0]["n"] != total:
                gaps.append(rows[0])
            if rows and rows[0]["n"] == total:
                break
            time.sleep(0.01)
        assert not gaps, f"the last write was visible with {total - gaps[0]['n']} earlier rows missing: {gaps[:3]}"
        assert wait_for(lambda: q.count(db, "m") == total, timeout=WAIT), q.count(db, "m")
    finally:
        proxy.stop()


# ---------------------------------------------------------------------------------------------
# Two ingest nodes side by side.

def test_two_ingest_nodes_write_side_by_side_each_under_its_own_prefix(cluster, store):
    ing1 = cluster(store, "ing1", "ingest", ["--wal-snapshot-size", "2"])
    ing2 = cluster(store, "ing2", "ingest", ["--wal-snapshot-size", "2"])
    q = cluster(store, "q1", "query")
    db = unique_db("two")
    # Same database, same table (the tag tells the nodes apart), and a table of each node's own,
    # written by both at once while the query node is watched.
    total, _ = _stream_and_watch([ing1, ing2], q, db, ["shared"], writes=12, batch=4)
    assert total == {"shared": 2 * 12 * 4}
    for node in (ing1, ing2):
        for i in range(5):
            assert_written(node.write(db, f"only_{node.node_id} v={i}i {ts(i)}"))
    assert wait_for(lambda: q.tables(db) == {"shared", "only_ing1", "only_ing2"}, timeout=WAIT), q.tables(db)
    assert wait_for(lambda: q.count(db, "only_ing1") == 5 and q.count(db, "only_ing2") == 5, timeout=WAIT)
    rows = q.rows(db, "SELECT w, count(*) AS n FROM shared GROUP BY w ORDER BY w")
    assert rows == [{"w": "0", "n": 48}, {"w": "1", "n": 48}]  # writer 0 is ing1's, 1 is ing2's

    # Each node's keys are under its own prefix; the shared ones under the cluster id.
    keys = store.keys()
    tops = {k.split("/", 1)[0] for k in keys}
    assert tops <= {CLUSTER, "ing1", "ing2", "q1"}, sorted(tops)
    for node in ("ing1", "ing2"):
        assert any(k.startswith(f"{node}/wal/") and k.endswith(".wal") for k in keys), keys
        assert f"{CLUSTER}/nodes/{node}.json" in keys
        record = json.loads(store.read(f"{CLUSTER}/nodes/{node}.json"))
        assert record["node_id"] == node and record["modes"] == ["ingest"], record
    assert json.loads(store.read(f"{CLUSTER}/nodes/q1.json"))["modes"] == ["query"]
    assert any(k.startswith(f"{CLUSTER}/catalog/") for k in keys), keys
    assert not any(k.startswith("q1/") and k.endswith(".wal") for k in keys), keys  # a query node writes no WAL
    # The Parquet files of each node's own table are under that node's prefix.
    files = wait_for(lambda: q.try_rows(db, "SELECT table_name, path FROM system.parquet_files"), timeout=WAIT)
    assert files, "no Parquet file on the query node after snapshots of both ingest nodes"
    for f in files:
        assert f["path"].split("/", 1)[0] in ("ing1", "ing2"), f
        if f["table_name"].startswith("only_"):
            assert f["path"].startswith(f["table_name"][len("only_"):] + "/"), f
        assert f["path"] in keys or f["path"] in store.keys(f["path"]), (f, keys)


# ---------------------------------------------------------------------------------------------
# The catalog is shared.

def test_catalog_changes_are_seen_by_every_node(cluster, store):
    ing1 = cluster(store, "ing1", "ingest")
    ing2 = cluster(store, "ing2", "ingest")
    q = cluster(store, "q1", "query")
    db = unique_db("cat")
    r = requests.post(ing1.url + "/api/v3/configure/database", json={"db": db}, timeout=30)
    assert r.status_code == 200, r.text
    for node in (ing2, q):
        assert wait_for(lambda: db in node.databases(), timeout=WAIT), (node.node_id, node.databases())
    # Creating it again on another node is a conflict: it knows the database.
    r = requests.post(ing2.url + "/api/v3/configure/database", json={"db": db}, timeout=30)
    assert r.status_code == 409, r.text
    # A table made on the second node shows on the others, with its columns.
    spec = {"db": db, "table": "made", "tags": ["host"], "fields": [{"name": "f", "type": "float64"}]}
    r = requests.post(ing2.url + "/api/v3/configure/table", json=spec, timeout=30)
    assert r.status_code == 200, r.text
    for node in (ing1, q):
        assert wait_for(lambda: node.tables(db) == {"made"}, timeout=WAIT), (node.node_id, node.tables(db))
    cols = q.rows(db, "SELECT column_name FROM information_schema.columns WHERE table_name = 'made' "
                      "ORDER BY column_name")
    assert [c["column_name"] for c in cols] == ["f", "host", "time"]
    shown = {row["table_name"] for row in q.rows(db, "SHOW TABLES") if row.get("table_schema") == "iox"}
    assert shown == {"made"}
    # ing1 writes into the table ing2 made; the query node serves it.
    assert_written(ing1.write(db, f"made,host=h f=2.5 {ts(0)}"))
    assert wait_for(lambda: q.count(db, "made") == 1, timeout=WAIT)
    # A table deleted on one node goes on the others.
    r = requests.delete(ing1.url + "/api/v3/configure/table", params={"db": db, "table": "made"}, timeout=30)
    assert r.status_code == 200, r.text
    for node in (ing2, q):
        assert wait_for(lambda: node.tables(db) == set(), timeout=WAIT), (node.node_id, node.tables(db))


def test_concurrent_catalog_changes_from_two_nodes_lose_nothing(cluster, store):
    if isinstance(store, S3Store) and store.node_endpoint in (None, store.endpoint):
        # s3rver ignores If-None-Match, so nothing can make two nodes' catalog versions
        # exclusive there: the node says so at start (the race itself is tested through the
        # proxy that enforces it, below).
        node = cluster(store, "ing1", "ingest")
        assert "does not enforce create-only puts" in node.log(), node.log()
        return
    _concurrent_catalog_changes(cluster, store)


def test_concurrent_catalog_changes_over_an_s3_that_honours_if_none_match(cluster, conditional_s3_store):
    _concurrent_catalog_changes(cluster, conditional_s3_store)


def _concurrent_catalog_changes(cluster, store):
    ing1 = cluster(store, "ing1", "ingest")
    ing2 = cluster(store, "ing2", "ingest")
    q = cluster(store, "q1", "query")
    db = unique_db("race")
    rounds = 15
    barrier = threading.Barrier(2)
    failures = []

    def run(node, letter):
        try:
            for i in range(rounds):
                barrier.wait(timeout=60)
                # A new table in a shared database, and a new database of its own, at the same moment.
                r = node.write(db, f"{letter}_{i} v={i}i {ts(i)}")
                if r.status_code != 204:
                    failures.append(f"{node.node_id} round {i}: write {r.status_code} {r.text}")
                r = requests.post(node.url + "/api/v3/configure/database", json={"db": f"{db}_{letter}{i}"}, timeout=30)
                if r.status_code != 200:
                    failures.append(f"{node.node_id} round {i}: create database {r.status_code} {r.text}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{node.node_id}: {e!r}")

    threads = [threading.Thread(target=run, args=(ing1, "a")), threading.Thread(target=run, args=(ing2, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    tables = {f"{letter}_{i}" for letter in "ab" for i in range(rounds)}
    dbs = {db} | {f"{db}_{letter}{i}" for letter in "ab" for i in range(rounds)}
    for node in (ing1, ing2, q):
        ok = wait_for(lambda: node.tables(db) == tables and dbs <= node.databases(), timeout=WAIT)
        assert ok, (f"{node.node_id}: missing tables {sorted(tables - node.tables(db))}, "
                    f"missing databases {sorted(dbs - node.databases())}")
    # And every row: each table's one row on the query node (a round publishes the catalog it
    # read before the WAL files it reads next, so the rows may follow the tables by a moment).
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in sorted(tables))

    def counts():
        rows = q.try_rows(db, sql)
        return {r["t"]: r["n"] for r in rows} if rows is not None else None

    assert wait_for(lambda: counts() == {t: 1 for t in tables}, timeout=WAIT), \
        {t: n for t, n in (counts() or {}).items() if n != 1}


# ---------------------------------------------------------------------------------------------
# Tokens are shared.

def test_an_admin_token_made_on_one_node_works_on_the_others(cluster, store):
    ing = cluster(store, "ing1", "ingest", auth=True)
    q = cluster(store, "q1", "query", auth=True)
    db = unique_db("tok")
    assert_written(ing.write(db, f"m v=1i {ts(1)}"))  # no token anywhere yet: open
    out = ing.cli("create", "token", "--admin").stdout
    token = next(line.split("Token: ", 1)[1] for line in out.splitlines() if line.startswith("Token: ")).strip()
    assert token.startswith("apiv3_"), out
    # The ingest node turns authentication on at once; the query node once it has the token.
    assert ing.write(db, f"m v=2i {ts(2)}").status_code == 401
    assert wait_for(lambda: q.query(db, "SELECT 1 AS one").status_code == 401, timeout=WAIT), \
        q.query(db, "SELECT 1 AS one").text
    assert wait_for(lambda: q.count(db, "m", token=token) == 1, timeout=WAIT), q.query(db, "SELECT * FROM m", token).text
    assert_written(ing.write(db, f"m v=3i {ts(3)}", token=token))
    assert wait_for(lambda: q.count(db, "m", token=token) == 2, timeout=WAIT)
    # Without a token (or with a wrong one): 401 on both.
    for node in (ing, q):
        r = node.query(db, "SELECT count(*) FROM m")
        assert r.status_code == 401, (node.node_id, r.status_code, r.text)
        assert node.query(db, "SELECT count(*) FROM m", token="apiv3_wrong").status_code == 401
        r = requests.get(node.url + "/api/v3/configure/database", params={"format": "json"}, timeout=30)
        assert r.status_code == 401, (node.node_id, r.status_code, r.text)
    assert db in q.databases(token=token)
    # The query node knows an admin token exists: a second one is refused there too.
    again = q.cli("create", "token", "--admin", check=False)
    assert again.returncode != 0, again.stdout


# ---------------------------------------------------------------------------------------------
# Modes.

def test_writes_to_a_query_node_are_refused_with_403(cluster, s3_store):
    ing = cluster(s3_store, "ing1", "ingest")
    q = cluster(s3_store, "q1", "query")
    db = unique_db("ro")
    assert_written(ing.write(db, f"m v=1i {ts(1)}"))
    attempts = [requests.post(q.url + "/api/v3/write_lp", params={"db": db}, data=f"m v=2i {ts(2)}", timeout=30),
                requests.post(q.url + "/api/v2/write", params={"bucket": db}, data=f"m v=2i {ts(2)}", timeout=30),
                requests.post(q.url + "/write", params={"db": db}, data=f"m v=2i {ts(2)}", timeout=30)]
    for r in attempts:
        assert r.status_code == 403, (r.url, r.status_code, r.text)
        body = r.json()
        # v3: {"error": ...}; the v2 API's own error shape is {"code": ..., "message": ...}.
        text = body.get("message", "") if "/api/v2/" in r.url else body.get("error", "")
        assert isinstance(body, dict) and "mode query" in text, (r.url, body)
    # Nothing of them arrives anywhere.
    assert wait_for(lambda: q.count(db, "m") == 1, timeout=WAIT)
    time.sleep(0.6)  # three replication intervals
    assert q.count(db, "m") == 1 and ing.count(db, "m") == 1
    assert not any(k.startswith("q1/wal/") for k in s3_store.keys())


def _serve_refused(tmp_path, *args):
    port = free_port()
    cmd = [BINARY, "serve", "--node-id", "n1", "--object-store", "file", "--data-dir", str(tmp_path / "d"),
           "--http-bind", f"127.0.0.1:{port}", "--without-auth", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill9()
        out, err = p.communicate()
        pytest.fail(f"serve {' '.join(args)} kept running instead of refusing to start:\n{out}\n{err}")
    assert p.returncode != 0, (args, out, err)
    return out + err


def test_mode_without_cluster_id_is_refused(tmp_path):
    message = _serve_refused(tmp_path, "--mode", "query")
    assert "--cluster-id" in message, message
    message = _serve_refused(tmp_path, "--mode", "ingest,compact")
    assert "--cluster-id" in message, message


def test_mode_all_cannot_be_combined(tmp_path):
    message = _serve_refused(tmp_path, "--cluster-id", "c1", "--mode", "all,ingest")
    assert "all" in message and "--mode" in message, message
    message = _serve_refused(tmp_path, "--cluster-id", "c1", "--mode", "ingest,bogus")
    assert "bogus" in message or "--mode" in message, message


# ---------------------------------------------------------------------------------------------
# Query nodes over snapshots.

def test_a_restarted_query_node_with_an_empty_cache_serves_everything(cluster, s3_store):
    ing = cluster(s3_store, "ing1", "ingest", ["--wal-snapshot-size", "2"])
    q = cluster(s3_store, "q1", "query")
    db = unique_db("restart")
    for w in range(5):  # two snapshots, and the last WAL file not yet covered by one
        assert_written(ing.write(db, lines("m", w * 10, 10)))
    assert wait_for(lambda: any(k.startswith("ing1/dbs/") for k in s3_store.keys("ing1/")), timeout=WAIT), \
        s3_store.keys("ing1/")
    assert wait_for(lambda: q.count(db, "m") == 50, timeout=WAIT), q.count(db, "m")
    before = q.rows(db, "SELECT * FROM m ORDER BY v")
    q.kill9()
    shutil.rmtree(q.local_dir)
    q.start()
    assert wait_for(lambda: q.count(db, "m") == 50, timeout=WAIT), (q.count(db, "m"), q.log()[-3000:])
    assert q.rows(db, "SELECT * FROM m ORDER BY v") == before
    # It read the Parquet files back from the bucket into its fresh local cache.
    cached = [p for p in q.local_dir.rglob("*.parquet")]
    assert cached, sorted(str(p) for p in q.local_dir.rglob("*"))
    # And keeps following the ingest node.
    assert_written(ing.write(db, lines("m", 50, 10)))
    assert wait_for(lambda: q.count(db, "m") == 60, timeout=WAIT), q.count(db, "m")


def test_a_late_query_node_sees_data_whose_wal_files_are_gone(cluster, store):
    ing = cluster(store, "ing1", "ingest", ["--wal-snapshot-size", "1", "--snapshotted-wal-files-to-keep", "1"])
    db = unique_db("late")
    for w in range(8):
        assert_written(ing.write(db, lines("m", w * 5, 5)))
    first_wal = "ing1/wal/00000000001.wal"
    # A snapshot and --snapshotted-wal-files-to-keep 1 removed the first WAL files. How many of
    # the last ones remain depends on how the writes fell into flush periods, so only the first
    # is checked: its rows are in Parquet files alone.
    assert wait_for(lambda: first_wal not in store.keys("ing1/wal/"), timeout=WAIT), store.keys("ing1/wal/")
    q = cluster(store, "q1", "query")
    assert wait_for(lambda: q.count(db, "m") == 40, timeout=WAIT), q.count(db, "m")
    rows = q.rows(db, "SELECT count(DISTINCT v) AS d, min(v) AS lo, max(v) AS hi FROM m")
    assert rows == [{"d": 40, "lo": 0, "hi": 39}]


def test_system_parquet_files_on_the_query_node_lists_the_ingest_nodes_files(cluster, store):
    ing = cluster(store, "ing1", "ingest", ["--wal-snapshot-size", "1"])
    q = cluster(store, "q1", "query")
    db = unique_db("pq")
    for w in range(4):
        assert_written(ing.write(db, lines("m", w * 25, 25)))
    sql = "SELECT table_name, path, size_bytes, row_count FROM system.parquet_files ORDER BY path"

    def persisted():
        rows = q.try_rows(db, sql)
        return rows if rows and sum(r["row_count"] for r in rows) == 100 else None

    files = wait_for(persisted, timeout=WAIT)
    assert files, (q.try_rows(db, sql), ing.try_rows(db, sql))
    keys = store.keys("ing1/")
    for f in files:
        assert f["table_name"] == "m" and f["path"].startswith("ing1/"), f
        assert f["path"] in keys, (f["path"], keys)
        assert f["size_bytes"] == len(store.read(f["path"])), f
    # The ingest node's own view lists the same files.
    assert wait_for(lambda: ing.try_rows(db, sql) == files, timeout=WAIT), (ing.try_rows(db, sql), files)


def test_file_store_layout_of_a_cluster(cluster, tmp_path):
    shared = FileStore(tmp_path / "shared")
    ing = cluster(shared, "ing1", "ingest")
    q = cluster(shared, "q1", "query")
    db = unique_db("layout")
    assert_written(ing.write(db, lines("m", 0, 3)))
    assert wait_for(lambda: q.count(db, "m") == 3, timeout=WAIT)
    root = shared.root
    assert list((root / "ing1" / "wal").glob("*.wal")), sorted(map(str, root.rglob("*")))
    assert list((root / CLUSTER / "catalog").glob("*.json")), sorted(map(str, root.rglob("*")))
    for node in ("ing1", "q1"):
        assert (root / CLUSTER / "nodes" / f"{node}.json").is_file()
    # No catalog under a node id, as a single node would keep it.
    assert not (root / "ing1" / "catalog").exists() and not (root / "q1" / "catalog").exists()


# ---------------------------------------------------------------------------------------------
# Process mode: only nodes with `process` run triggers.

TICKER_PLUGIN = '''
def process_scheduled_call(influxdb3_local, call_time, args=None):
    n = influxdb3_local.cache.get("n", default=0) + 1
    influxdb3_local.cache.put("n", n)
    influxdb3_local.info(f"run {n}")
'''


def test_only_a_node_with_process_mode_runs_triggers(cluster, store):
    ing = cluster(store, "ing1", "ingest")
    pq = cluster(store, "pq1", "process,query")
    for node in (ing, pq):
        (node.plugin_dir / "ticker.py").write_text(TICKER_PLUGIN)
    db = unique_db("proc")
    assert_written(ing.write(db, f"m v=1i {ts(1)}"))
    ing.cli("create", "trigger", "--trigger-spec", "every:1s", "--plugin-filename", "ticker.py",
            "--database", db, "ticker")
    logs_sql = "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'ticker'"

    def texts(node):
        rows = node.try_rows(db, logs_sql)
        return [r["log_text"] for r in rows] if rows is not None else None

    # The process node learns of the trigger from the shared catalog and runs it.
    assert wait_for(lambda: "run 2" in (texts(pq) or []), timeout=WAIT), (texts(pq), pq.try_rows(
        db, "SELECT * FROM system.processing_engine_triggers"))
    assert [r["trigger_name"] for r in pq.rows(db, "SELECT trigger_name FROM system.processing_engine_triggers")] \
        == ["ticker"]
    # The ingest node (no process mode) knows the trigger but never ran it.
    assert texts(ing) == [], texts(ing)
    # The process,query node serves the ingest node's data and refuses writes.
    assert wait_for(lambda: pq.count(db, "m") == 1, timeout=WAIT)
    assert pq.write(db, f"m v=2i {ts(2)}").status_code == 403
