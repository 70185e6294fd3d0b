"""`serve --object-store s3`: the local copies of Parquet objects under `<data-dir>/.cache` are a
cache bounded by `--parquet-mem-cache-size` (InfluxDB 3's flag names): snapshots write their files
through to the bucket and the cache may drop them at once; a query pins (downloading what is
missing) the files of the tables its SQL names until its result ends; then the least recently used
unpinned copies beyond the limit go (down to (1 - --parquet-mem-cache-prune-percentage) of it).
`--disable-parquet-mem-cache` keeps copies only while a query reads them. /metrics shows the
riffle_parquet_cache_* gauges. At start a node counts the copies it finds against the limit and
removes half-downloaded `*.part.*` files. A `--mode query` node reads an ingest node's files
through the same cache.

Every server here is on a fresh bucket of the session's S3 server, behind test_s3.py's
signature-checking proxy (cluster nodes: test_cluster.py's fixtures, straight to s3rver). Table
names are chosen so that none is a substring of another or of the SQL of the helpers (a query pins
every table whose name appears in its text)."""
import os
import re
import subprocess
import threading
import time

import pytest
import requests

from conftest import BINARY, free_port, query, query_rows, unique_db, wait_for, write_lp
from test_cluster import WAIT, assert_written, cluster, lines, s3_store  # noqa: F401 (fixtures)
from test_s3 import parquet_files, proxy, riffle  # noqa: F401 (fixtures)

# A snapshot after every WAL file (so the last write is persisted too), covered WAL files deleted,
# one Parquet file per table and minute (each batch below is its own minute).
SNAPSHOT_EACH = ["--wal-snapshot-size", "1", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
# A snapshot every couple of WAL files (test_s3.py's SNAPSHOT).
SNAPSHOT_SOME = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
TABLES = ["walnut", "pecan", "cashew", "almond"]
ROWS_PER_BATCH = 3


# ---------------------------------------------------------------------------------------------
# Helpers

def write_table(s, table, batches, base=0, db="db", first=0):
    """`batches` acknowledged writes to `table` (one WAL file and one minute each, so one Parquet
    file each once snapshotted), batch b = first, first + 1, ... at minute b of a day long past;
    v = base + b * 10 + i; returns the values in time order."""
    out = []
    for b in range(first, first + batches):
        rows = [(base + b * 10 + i, 1_700_000_000 + b * 60 + i) for i in range(ROWS_PER_BATCH)]
        r = write_lp(s, db, "\n".join(f"{table},host=h{i} v={v}i {t}" for i, (v, t) in enumerate(rows)),
                     precision="s")
        assert r.status_code == 204, r.text
        out += [v for v, _ in rows]
        time.sleep(0.15)  # > the 100 ms flush interval: the next write is another WAL file
    return out


def values(s, table, db="db"):
    return [r["v"] for r in query_rows(s, db, f"SELECT v FROM {table} ORDER BY time, v")]


def files_of(s, table, db="db"):
    """The table's Parquet files (system.parquet_files; that query names no table of ours, so it
    pins nothing)."""
    return [f for f in parquet_files(s, db) if f["table_name"] == table]


def persisted(s, tables, rows, db="db"):
    """True once system.parquet_files holds `rows[t]` rows of each table t."""
    files = parquet_files(s, db)
    return all(sum(f["row_count"] for f in files if f["table_name"] == t) == rows[t] for t in tables)


def cache_dir(s):
    return s.data_dir / ".cache"


def on_disk(directory):
    """{object key: size} of the `.parquet` copies under a `.cache` directory."""
    out = {}
    if not directory.is_dir():
        return out
    for p in directory.rglob("*.parquet"):
        try:
            out[p.relative_to(directory).as_posix()] = p.stat().st_size
        except FileNotFoundError:  # evicted while we looked
            pass
    return out


def cache_metrics(url):
    """The riffle_parquet_cache_* samples of /metrics (no labels) as {name without prefix: value}."""
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    found = dict(re.findall(r"^riffle_parquet_cache_(\w+) (\S+)$", r.text, re.M))
    return {k: float(v) for k, v in found.items()}


def consistent_within(s, limit):
    """The copies on disk are what the cache counts, and within `limit` bytes (None if not yet)."""
    disk = on_disk(cache_dir(s))
    m = cache_metrics(s.url)
    total = sum(disk.values())
    if total <= limit and m["bytes"] == total and m["files"] == len(disk) and m["bytes"] <= m["limit_bytes"]:
        return disk, m
    return None


def state(s):
    """For assertion messages."""
    disk = on_disk(cache_dir(s))
    return {"disk_bytes": sum(disk.values()), "disk_files": sorted(disk), "metrics": cache_metrics(s.url)}


# ---------------------------------------------------------------------------------------------
# 1. No cache: copies exist only while a query reads them.

def test_disabled_cache_keeps_copies_only_while_a_query_reads_them(riffle):
    s = riffle(SNAPSHOT_SOME + ["--disable-parquet-mem-cache"]).start()
    expected = write_table(s, "walnut", 6)
    assert wait_for(lambda: files_of(s, "walnut"), timeout=30), s.log()
    # Written through to the bucket, then dropped: no copy is kept.
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)
    assert wait_for(lambda: cache_metrics(s.url)["bytes"] == 0, timeout=30), state(s)
    before = cache_metrics(s.url)
    assert before["limit_bytes"] == 0 and before["files"] == 0, before
    files = files_of(s, "walnut")
    assert values(s, "walnut") == expected
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)
    m = cache_metrics(s.url)
    # Every file of the table was downloaded for the query, and dropped after it.
    assert m["misses_total"] - before["misses_total"] >= len(files) > 0, (m, before, files)
    assert m["evictions_total"] - before["evictions_total"] >= len(files), (m, before)
    assert m["bytes"] == 0 and m["limit_bytes"] == 0 and m["files"] == 0, m
    # Again: downloaded again (nothing was kept), the same answer.
    assert values(s, "walnut") == expected
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)
    again = cache_metrics(s.url)
    assert again["misses_total"] - m["misses_total"] >= len(files), (again, m)
    assert again["bytes"] == 0, again


# ---------------------------------------------------------------------------------------------
# 2. A limit in bytes: least recently used copies go, the last queried tables stay.

def test_a_size_limit_keeps_the_most_recently_queried_tables(riffle):
    limit = 4500  # two tables' files (about 4 x 490 bytes each) fit, three do not (checked below)
    s = riffle(SNAPSHOT_EACH + ["--parquet-mem-cache-size", f"{limit}b", "--parquet-mem-cache-prune-percentage", "0",
                                # accepted and ignored
                                "--parquet-mem-cache-prune-interval", "1s",
                                "--parquet-mem-cache-query-path-duration", "5m"]).start()
    expected = {t: write_table(s, t, 4, base=1000 * k) for k, t in enumerate(TABLES)}
    rows = {t: len(v) for t, v in expected.items()}
    assert wait_for(lambda: persisted(s, TABLES, rows), timeout=30), (parquet_files(s), s.log()[-3000:])
    files = {t: files_of(s, t) for t in TABLES}
    totals = sorted(sum(f["size_bytes"] for f in fs) for fs in files.values())
    assert totals[-1] + totals[-2] <= limit < totals[0] + totals[1] + totals[2], \
        f"the test's premise: any two tables fit in {limit} bytes, no three do: {totals}"
    # The snapshots' copies were already trimmed to the limit as they were committed.
    assert wait_for(lambda: consistent_within(s, limit), timeout=30), state(s)
    assert cache_metrics(s.url)["evictions_total"] > 0
    assert cache_metrics(s.url)["limit_bytes"] == limit

    previous = None
    for t in TABLES:
        misses = cache_metrics(s.url)["misses_total"]
        missing = [f["path"] for f in files[t] if f["path"] not in on_disk(cache_dir(s))]
        assert values(s, t) == expected[t], t
        settled = wait_for(lambda: consistent_within(s, limit), timeout=30)
        assert settled, (t, state(s))
        disk, m = settled
        # What was not here was downloaded, once per file.
        assert m["misses_total"] - misses == len(missing), (t, m, misses, missing)
        # The table queried last is all there; so is the one before it (both fit).
        assert all(f["path"] in disk for f in files[t]), (t, sorted(disk))
        if previous:
            assert all(f["path"] in disk for f in files[previous]), (previous, t, sorted(disk))
        previous = t
    # The first table was the least recently used: it is gone, and a query downloads it again.
    first = TABLES[0]
    assert not any(f["path"] in on_disk(cache_dir(s)) for f in files[first]), state(s)
    before = cache_metrics(s.url)
    assert values(s, first) == expected[first]
    settled = wait_for(lambda: consistent_within(s, limit), timeout=30)
    assert settled, state(s)
    disk, m = settled
    assert m["misses_total"] - before["misses_total"] == len(files[first]), (m, before)
    assert m["evictions_total"] > before["evictions_total"], (m, before)
    assert all(f["path"] in disk for f in files[first]), sorted(disk)
    # Querying a table that is there downloads nothing.
    before = cache_metrics(s.url)
    assert values(s, first) == expected[first]
    after = cache_metrics(s.url)
    assert after["misses_total"] == before["misses_total"], (after, before)
    assert after["hits_total"] - before["hits_total"] >= len(files[first]), (after, before)


# ---------------------------------------------------------------------------------------------
# 3. A query over two tables pins both at once, even beyond the limit.

def test_a_query_over_two_tables_reads_both_with_a_tiny_limit(riffle):
    s = riffle(SNAPSHOT_EACH + ["--parquet-mem-cache-size", "100b"]).start()
    w = write_table(s, "walnut", 4, base=0)
    p = write_table(s, "pecan", 4, base=5000)
    c = write_table(s, "cashew", 4, base=9000)  # not named by the queries below
    assert wait_for(lambda: persisted(s, ["walnut", "pecan", "cashew"], {"walnut": 12, "pecan": 12, "cashew": 12}),
                    timeout=30), (parquet_files(s), s.log()[-3000:])
    n_files = len(files_of(s, "walnut")) + len(files_of(s, "pecan"))
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)  # no file is under 100 bytes

    before = cache_metrics(s.url)
    rows = query_rows(s, "db", "SELECT 'w' AS src, v FROM walnut UNION ALL SELECT 'p' AS src, v FROM pecan "
                               "ORDER BY src, v")
    assert rows == [{"src": "p", "v": v} for v in sorted(p)] + [{"src": "w", "v": v} for v in sorted(w)]
    assert wait_for(lambda: consistent_within(s, 100), timeout=30), state(s)
    m = cache_metrics(s.url)
    # Both tables' files were downloaded (and only theirs: cashew is not named).
    assert m["misses_total"] - before["misses_total"] == n_files, (m, before, n_files)

    rows = query_rows(s, "db", "SELECT w.v AS wv, p.v AS pv FROM walnut w JOIN pecan p ON w.time = p.time "
                               "ORDER BY w.time")
    assert [(r["wv"], r["pv"]) for r in rows] == list(zip(w, p))
    assert wait_for(lambda: consistent_within(s, 100), timeout=30), state(s)
    rows = query_rows(s, "db", "SELECT (SELECT sum(v) FROM walnut) AS a, (SELECT sum(v) FROM pecan) AS b, "
                               "(SELECT count(*) FROM cashew) AS c")
    assert rows == [{"a": sum(w), "b": sum(p), "c": len(c)}]
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)
    # InfluxQL, two statements in one request.
    r = requests.get(s.url + "/query", timeout=30,
                     params={"db": "db", "q": "SELECT count(v) FROM walnut; SELECT sum(v) FROM pecan"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["series"][0]["values"][0][1] for x in results] == [len(w), sum(p)], results
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)


# ---------------------------------------------------------------------------------------------
# 4. A restart counts the copies it finds against the (new) limit and removes temporaries.

def test_a_restart_counts_old_copies_against_a_smaller_limit_and_removes_part_files(riffle):
    s = riffle(SNAPSHOT_EACH + ["--parquet-mem-cache-size", "100mb"]).start()
    expected = {t: write_table(s, t, 4, base=1000 * k) for k, t in enumerate(TABLES)}
    rows = {t: len(v) for t, v in expected.items()}
    assert wait_for(lambda: persisted(s, TABLES, rows), timeout=30), (parquet_files(s), s.log()[-3000:])
    every = {f["path"] for f in parquet_files(s)}
    # Everything fits: the snapshots' copies stay.
    assert wait_for(lambda: set(on_disk(cache_dir(s))) == every, timeout=30), (state(s), every)
    total = sum(on_disk(cache_dir(s)).values())
    s.stop()
    assert set(on_disk(cache_dir(s))) == every  # kept on disk across the stop
    parts = [cache_dir(s) / "x.part.999",
             cache_dir(s) / sorted(every)[0].replace(".parquet", ".parquet.part.12345")]
    for part in parts:
        part.write_bytes(b"half a download")
    limit, prune = total // 2, 0.5
    assert limit < total
    s.start(SNAPSHOT_EACH + ["--parquet-mem-cache-size", f"{limit}b",
                             "--parquet-mem-cache-prune-percentage", str(prune)])
    assert not any(p.exists() for p in parts), [str(p) for p in parts if p.exists()]
    # Over the limit at start: pruned down to (1 - prune) x limit, the cache counting what is on disk.
    settled = wait_for(lambda: consistent_within(s, int(limit * (1 - prune))), timeout=30)
    assert settled, (limit, state(s))
    disk, m = settled
    assert 0 < len(disk) < len(every), sorted(disk)
    assert m["evictions_total"] > 0 and m["limit_bytes"] == limit, m
    for t in TABLES:
        assert values(s, t) == expected[t], t
        assert wait_for(lambda: consistent_within(s, limit), timeout=30), (t, state(s))
    assert cache_metrics(s.url)["misses_total"] > 0


# ---------------------------------------------------------------------------------------------
# 5. Flag values.

def run_serve(tmp_path, *args, timeout=30):
    p = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory",
                        "--http-bind", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path), *args],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("args, needle", [
    (["--parquet-mem-cache-size", "12xyz"], "--parquet-mem-cache-size"),
    (["--parquet-mem-cache-size", "101%"], "--parquet-mem-cache-size"),
    (["--parquet-mem-cache-size", "-5"], "--parquet-mem-cache-size"),
    (["--parquet-mem-cache-size=-5"], "--parquet-mem-cache-size"),
    (["--parquet-mem-cache-size", "1.5gb"], "--parquet-mem-cache-size"),
    (["--parquet-mem-cache-prune-percentage", "1.5"], "--parquet-mem-cache-prune-percentage"),
])
def test_serve_refuses_bad_cache_flag_values(tmp_path, args, needle):
    try:
        rc, out = run_serve(tmp_path, *args)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve {args} kept running instead of refusing the value")
    assert rc != 0 and needle in out, (rc, out)
    assert "terminate called" not in out and rc > 0, (rc, out)  # refused, not crashed


def test_serve_refuses_a_cache_size_too_large_for_64_bits(tmp_path):
    try:
        rc, out = run_serve(tmp_path, "--parquet-mem-cache-size", "99999999999999999999999")
    except subprocess.TimeoutExpired:
        pytest.fail("serve kept running instead of refusing the value")
    assert rc > 0 and "--parquet-mem-cache-size" in out and "terminate called" not in out, (rc, out)


def test_accepted_cache_sizes_set_the_limit(riffle):
    s = riffle()
    for text, expected in [("100kb", 100 * 1024), ("4096b", 4096), ("3", 3 * 2**20), ("2GB", 2 * 2**30),
                           ("512mb", 512 * 2**20)]:
        s.start(["--parquet-mem-cache-size", text])
        assert cache_metrics(s.url)["limit_bytes"] == expected, (text, cache_metrics(s.url))
        s.stop()
    s.env = {"INFLUXDB3_PARQUET_MEM_CACHE_SIZE": "7kb"}
    s.start([])
    assert cache_metrics(s.url)["limit_bytes"] == 7 * 1024, cache_metrics(s.url)
    s.stop()
    s.env = {"INFLUXDB3_DISABLE_PARQUET_MEM_CACHE": "true"}
    s.start([])
    assert cache_metrics(s.url)["limit_bytes"] == 0, cache_metrics(s.url)
    s.stop()
    s.env = {}
    s.start([])  # the default: 20% of the RAM
    limit = cache_metrics(s.url)["limit_bytes"]
    ram = _ram_bytes()
    assert ram * 0.19 <= limit <= ram * 0.21, (limit, ram)


def test_a_cache_size_that_overflows_is_not_a_disabled_cache(riffle):
    s = riffle()
    try:
        s.start(["--parquet-mem-cache-size", "99999999999gb"])
    except AssertionError as e:  # refusing the value is fine
        assert "--parquet-mem-cache-size" in str(e), e
        return
    assert cache_metrics(s.url)["limit_bytes"] >= 2**62, cache_metrics(s.url)


def _ram_bytes():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------------------------
# 6. Queries while snapshots (and compactions) come and go, with no cache.

def test_counts_are_exact_while_snapshots_run_without_a_cache(riffle):
    s = riffle(SNAPSHOT_SOME + ["--disable-parquet-mem-cache"]).start()
    expected = write_table(s, "walnut", 1, base=0)  # the table exists before the readers start
    sent = [len(expected)]  # rows sent so far (counted before each request)
    stop = threading.Event()
    problems, observations = [], []

    def reader(k):
        last = 0
        while True:
            done = stop.is_set()
            try:
                r = query(s, "db", "SELECT count(*) AS n FROM walnut")
            except requests.RequestException as e:
                problems.append(f"reader {k}: {e!r}")
                return
            if r.status_code != 200:
                problems.append(f"reader {k}: {r.status_code} {r.text}")
                return
            n = r.json()[0]["n"]
            if n < last:
                problems.append(f"reader {k}: count went from {last} down to {n}")
            if n > sent[0]:
                problems.append(f"reader {k}: {n} rows but only {sent[0]} sent")
            last = max(last, n)
            observations.append((k, n))
            if done:
                return

    threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(3)]
    for t in threads:
        t.start()
    try:
        for b in range(1, 20):  # past 8 files of one closed day: compactions too
            rows = [(b * 10 + i, 1_700_000_000 + b * 60 + i) for i in range(ROWS_PER_BATCH)]
            sent[0] += ROWS_PER_BATCH
            r = write_lp(s, "db", "\n".join(f"walnut,host=h{i} v={v}i {t}" for i, (v, t) in enumerate(rows)),
                         precision="s")
            assert r.status_code == 204, r.text
            expected += [v for v, _ in rows]
            time.sleep(0.15)
            assert not problems, problems[:5]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not problems, problems[:5]
    assert len(observations) >= 10, observations
    # Each reader's last query began after every write was acknowledged: it saw them all.
    finals = {k: n for k, n in observations}
    assert finals == {k: len(expected) for k in range(3)}, (finals, len(expected))
    assert values(s, "walnut") == expected
    assert query_rows(s, "db", "SELECT count(*) AS n FROM walnut") == [{"n": len(expected)}]
    # Snapshots happened, and a compaction (more than 8 files of a closed day) replaced files too.
    assert any(re.search(r"/c\d+\.parquet$", f["path"]) for f in files_of(s, "walnut")), parquet_files(s)
    m = cache_metrics(s.url)
    assert m["misses_total"] > 0 and m["limit_bytes"] == 0, m
    assert wait_for(lambda: not on_disk(cache_dir(s)), timeout=30), state(s)
    assert "No files found" not in s.log(), s.log()[-3000:]


# ---------------------------------------------------------------------------------------------
# 7. A query node reads the ingest node's files through its cache.

def test_a_query_node_without_a_cache_reads_the_ingest_nodes_files(cluster, s3_store):  # noqa: F811
    ing = cluster(s3_store, "ing1", "ingest", ["--wal-snapshot-size", "1", "--snapshotted-wal-files-to-keep", "0"])
    q = cluster(s3_store, "q1", "query", ["--disable-parquet-mem-cache"])
    q_cache = q.local_dir / ".cache"
    db = unique_db("qcache")
    for w in range(5):
        assert_written(ing.write(db, lines("walnut", w * 10, 10)))
        time.sleep(0.15)
    assert wait_for(lambda: any(k.endswith(".parquet") for k in s3_store.keys("ing1/dbs/")), timeout=WAIT), \
        s3_store.keys("ing1/")
    sql = "SELECT path, row_count FROM system.parquet_files ORDER BY path"

    def query_node_reads_files():  # the ingest node's snapshots (the rest is still in its WAL)
        rows = q.try_rows(db, sql)
        return rows if rows and len(rows) >= 2 and rows == ing.try_rows(db, sql) else None

    files = wait_for(query_node_reads_files, timeout=WAIT)
    assert files, {"query node": q.try_rows(db, sql), "ingest node": ing.try_rows(db, sql)}
    assert all(f["path"].startswith("ing1/") for f in files), files
    assert wait_for(lambda: q.count(db, "walnut") == 50, timeout=WAIT), q.count(db, "walnut")  # + its WAL
    assert wait_for(lambda: not on_disk(q_cache), timeout=WAIT), sorted(on_disk(q_cache))
    before = cache_metrics(q.url)
    assert before["limit_bytes"] == 0 and before["bytes"] == 0, before
    assert q.count(db, "walnut") == 50
    assert wait_for(lambda: not on_disk(q_cache), timeout=WAIT), sorted(on_disk(q_cache))
    assert q.rows(db, "SELECT v FROM walnut ORDER BY v") == [{"v": v} for v in range(50)]
    assert wait_for(lambda: not on_disk(q_cache), timeout=WAIT), sorted(on_disk(q_cache))
    m = cache_metrics(q.url)
    # Each query downloaded every file of the ingest node's table, and kept none.
    assert m["misses_total"] - before["misses_total"] >= 2 * len(files), (m, before, files)
    assert m["bytes"] == 0 and m["files"] == 0 and m["evictions_total"] > 0, m
    # More writes, more snapshots: still exact.
    for w in range(5, 8):
        assert_written(ing.write(db, lines("walnut", w * 10, 10)))
        time.sleep(0.15)
    assert wait_for(lambda: q.count(db, "walnut") == 80, timeout=WAIT), q.count(db, "walnut")
    assert q.rows(db, "SELECT count(DISTINCT v) AS d, min(v) AS lo, max(v) AS hi FROM walnut") == \
        [{"d": 80, "lo": 0, "hi": 79}]
    assert wait_for(lambda: not on_disk(q_cache), timeout=WAIT), sorted(on_disk(q_cache))
    # The ingest node (default cache) answers the same.
    assert ing.rows(db, "SELECT v FROM walnut ORDER BY v") == q.rows(db, "SELECT v FROM walnut ORDER BY v")


def test_a_query_node_keeps_answering_while_the_ingest_node_compacts(cluster, s3_store, monkeypatch):  # noqa: F811
    import test_cluster
    ing = cluster(s3_store, "ing1", "ingest,compact", SNAPSHOT_EACH)
    monkeypatch.setattr(test_cluster, "INTERVAL", "5s")  # the query node reads manifests every 5 s
    q = cluster(s3_store, "q1", "query", ["--disable-parquet-mem-cache"])
    db = unique_db("compact")
    expected = write_table(ing, "walnut", 6, db=db)  # 6 files of a closed day: not yet compacted
    sql = "SELECT path FROM system.parquet_files ORDER BY path"
    old = wait_for(lambda: q.try_rows(db, sql) if len(q.try_rows(db, sql) or []) >= 6 else None, timeout=WAIT)
    assert old, q.try_rows(db, sql)
    assert q.count(db, "walnut") == len(expected)
    expected += write_table(ing, "walnut", 4, first=6, db=db)  # past 8 files: the ingest node compacts
    assert wait_for(lambda: any(re.search(r"/c\d+\.parquet$", f["path"]) for f in ing.try_rows(db, sql) or []),
                    timeout=WAIT), ing.try_rows(db, sql)
    # In a cluster its inputs stay in the bucket for a grace period (at least 5 minutes) after
    # the ingest node stopped listing them...
    assert all(o["path"] in s3_store.keys("ing1/dbs/") for o in old)
    # ...because the query node still lists them until its next round: every answer is exact.
    failures, wrong, last = [], [], 0
    deadline = time.time() + 8  # > the query node's interval: it catches up meanwhile
    while time.time() < deadline:
        r = q.query(db, "SELECT count(*) AS n FROM walnut")
        if r.status_code != 200:
            failures.append(f"{r.status_code} {r.text[:300]}")
        else:
            n = r.json()[0]["n"]
            if not (len(old) * ROWS_PER_BATCH <= n <= len(expected) and n >= last):
                wrong.append((n, last))
            last = max(last, n)
        time.sleep(0.05)
    assert not failures, f"{len(failures)} failed queries, e.g. {failures[:2]}"
    assert not wrong, wrong[:5]
    assert wait_for(lambda: q.count(db, "walnut") == len(expected), timeout=WAIT), (q.count(db, "walnut"), expected)
    assert q.rows(db, "SELECT v FROM walnut ORDER BY time") == [{"v": v} for v in expected]
