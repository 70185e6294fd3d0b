"""Persistence (issue 4): snapshots of the buffer to Parquet, queries over buffer ∪ Parquet,
start-up from manifest + remaining WAL, retention, deletes, and the crash/fault points of a
snapshot. Every test runs its own server with tiny snapshot thresholds."""
import re
import threading
import time

import pytest
import requests

from conftest import OBJECT_STORE, Server, duckdb_cell, object_exists, object_keys, query, query_rows, read_object, wait_for, write_lp

# --wal-snapshot-size 2: a snapshot once 3 WAL files (1.5 × 2) are not yet persisted.
SNAPSHOT_ARGS = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
HOUR = 3600 * 10**9


def parquet_files(server, db):
    return query_rows(server, db, "SELECT table_name, path, size_bytes, row_count, min_time, max_time "
                                  "FROM system.parquet_files ORDER BY path")


def rows(server, db, table):
    return query_rows(server, db, f'SELECT * FROM "{table}" ORDER BY time, host')


def wal_files(server):
    return [k.rsplit("/", 1)[1] for k in object_keys(server, "node0/wal/")]


def parquet_keys(server, name_prefix=""):
    """Keys of the stored Parquet files (whose file names start with `name_prefix`)."""
    return [k for k in object_keys(server, "node0/dbs/")
            if k.endswith(".parquet") and k.rsplit("/", 1)[1].startswith(name_prefix)]


def write_batches(server, db, count, start=0, table="cpu"):
    """Writes `count` acknowledged batches (one WAL file each) spread over several minutes."""
    for b in range(start, start + count):
        lines = [f"{table},host=h{i % 3},region=r{b % 2} usage={b * 10 + i}.5,n={i}i,ok={str(i % 2 == 0).lower()},"
                 f'note="b{b}" {1_700_000_000 + b * 70 + i}' for i in range(5)]
        r = write_lp(server, db, "\n".join(lines), precision="s")
        assert r.status_code == 204, r.text
        time.sleep(0.15)  # > the 100 ms flush interval: one WAL file per batch


def test_query_is_the_same_before_and_after_a_snapshot_and_a_restart(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        write_batches(s, "db", 2)
        before = rows(s, "db", "cpu")
        assert len(before) == 10 and parquet_files(s, "db") == []
        write_batches(s, "db", 4, start=2)  # passes the threshold
        files = wait_for(lambda: parquet_files(s, "db"))
        assert files, s.log()
        everything = rows(s, "db", "cpu")
        assert len(everything) == 30 and everything[:10] == before
        # Parquet files: where COMPAT §8.4 puts them, zstd Parquet, time chunks of --gen1-duration.
        for f in files:
            assert f["table_name"] == "cpu" and f["row_count"] > 0 and f["min_time"] <= f["max_time"]
            assert re.fullmatch(r"node0/dbs/\d+/\d+/2023-11-14/\d\d-\d\d/\d{10}\.parquet", f["path"]), f
            data = read_object(s, f["path"])
            assert data[:4] == b"PAR1" and data[-4:] == b"PAR1" and len(data) == f["size_bytes"]
            assert f["max_time"] - f["min_time"] < 60 * 10**9
        assert len({f["path"].split("/")[5] for f in files}) > 1  # several 1-minute chunks
        # Aggregates, filters and types agree across buffer and Parquet rows.
        agg = "SELECT host, count(*) AS c, sum(n) AS n, avg(usage) AS u, bool_or(ok) AS ok FROM cpu GROUP BY host ORDER BY host"
        expected = query_rows(s, "db", agg)
        assert [r["c"] for r in expected] == [12, 12, 6]
        ranged = query_rows(s, "db", "SELECT count(*) AS c FROM cpu WHERE time >= '2023-11-14T22:16:00Z' "
                                     "AND time < '2023-11-14T22:18:00Z'")
        # The covered WAL files are gone (--snapshotted-wal-files-to-keep 0).
        assert wait_for(lambda: len(wal_files(s)) < 6), wal_files(s)
        s.restart()
        assert rows(s, "db", "cpu") == everything
        assert query_rows(s, "db", agg) == expected
        assert query_rows(s, "db", "SELECT count(*) AS c FROM cpu WHERE time >= '2023-11-14T22:16:00Z' "
                                   "AND time < '2023-11-14T22:18:00Z'") == ranged
        assert "loaded" in s.log() and "Parquet files" in s.log()
        # Writing after the restart adds to the same table; a second restart changes nothing.
        write_batches(s, "db", 4, start=6)
        after = rows(s, "db", "cpu")
        assert len(after) == 50
        s.restart()
        assert rows(s, "db", "cpu") == after
    finally:
        s.kill9()


def test_new_columns_after_a_snapshot_read_as_null_in_older_rows(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        write_batches(s, "db", 4)
        assert wait_for(lambda: parquet_files(s, "db")), s.log()
        assert write_lp(s, "db", "cpu,host=h9,zone=z1 usage=1.0,extra=7i 1800000000", precision="s").status_code == 204
        got = query_rows(s, "db", "SELECT host, zone, extra FROM cpu ORDER BY time DESC LIMIT 2")
        assert got == [{"host": "h9", "zone": "z1", "extra": 7}, {"host": "h1"}]
        cols = query_rows(s, "db", "SELECT column_name FROM information_schema.columns WHERE table_name = 'cpu' "
                                   "ORDER BY column_name")
        assert [c["column_name"] for c in cols] == ["extra", "host", "n", "note", "ok", "region", "time", "usage", "zone"]
    finally:
        s.kill9()


def write_until_the_fault(s, point, timeout=10):
    """Writes one row per WAL file until the server kills itself at RIFFLE_FAULT `point`;
    returns every row value that was acknowledged before it died."""
    acked = []
    for b in range(40):
        try:
            r = write_lp(s, "db", f"m,host=a v={b}i {1_700_000_000 + b * 30}", precision="s")
        except requests.RequestException:
            break
        if r.status_code != 204:
            break
        acked.append(b)
        time.sleep(0.12)
        if not s.alive():
            break
    assert wait_for(lambda: not s.alive(), timeout=timeout), "the fault point was never reached"
    assert f"RIFFLE_FAULT: crashing at {point}" in s.log()
    s.proc = None
    s.env = {}
    return acked


def crash_during_snapshot(tmp_path, point):
    """Runs a server that kills itself at `point` of its first snapshot; returns the restarted
    server and every row value that was acknowledged before it died."""
    s = Server(tmp_path, SNAPSHOT_ARGS, env={"RIFFLE_FAULT": point}).start()
    acked = write_until_the_fault(s, point)
    return s.start(), acked


def assert_exactly_once(s, acked):
    """Every acknowledged row once; the write in flight when the server died may be there too
    (its WAL file was durable before the crash, the 204 never sent)."""
    got = [r["v"] for r in query_rows(s, "db", "SELECT v FROM m ORDER BY time")]
    assert got in (acked, acked + [len(acked)]), (got, acked)


def test_crash_after_parquet_before_manifest_loses_nothing(tmp_path):
    s, acked = crash_during_snapshot(tmp_path, "after_parquet")
    try:
        assert len(acked) >= 2
        assert_exactly_once(s, acked)  # the orphan Parquet file is not read; the WAL replays
        assert parquet_files(s, "db") == []
        write_batches(s, "db", 4, table="more")  # snapshots work again after the crash
        assert wait_for(lambda: parquet_files(s, "db")), s.log()
        assert_exactly_once(s, acked)
    finally:
        s.kill9()


def test_crash_after_manifest_before_publish_loses_nothing(tmp_path):
    s, acked = crash_during_snapshot(tmp_path, "after_manifest")
    try:
        assert parquet_files(s, "db")  # the manifest was durable: its files are used
        assert_exactly_once(s, acked)  # and the WAL files it covers are not replayed twice
    finally:
        s.kill9()


def test_crash_before_wal_files_are_deleted_loses_nothing(tmp_path):
    s, acked = crash_during_snapshot(tmp_path, "before_wal_delete")
    try:
        assert parquet_files(s, "db")
        assert_exactly_once(s, acked)
        s.kill9()
        s.start()
        assert_exactly_once(s, acked)
    finally:
        s.kill9()


def test_concurrent_writers_during_snapshots_lose_nothing(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS, flush="20ms").start()
    acked, errors = [], []
    lock = threading.Lock()

    def writer(w):
        for i in range(60):
            v = w * 1000 + i
            r = write_lp(s, "db", f"c,w=w{w} v={v}i {1_700_000_000_000 + v}", precision="ms")
            with lock:
                (acked if r.status_code == 204 else errors).append(v if r.status_code == 204 else r.text)

    try:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        # Snapshots run in the background: the last one may still be writing.
        assert wait_for(lambda: parquet_files(s, "db"), timeout=20), s.log()
        assert wait_for(lambda: "snapshot:" in s.log())
        got = sorted(r["v"] for r in query_rows(s, "db", "SELECT v FROM c"))
        assert got == sorted(acked)
        s.kill9()
        s.start()
        assert sorted(r["v"] for r in query_rows(s, "db", "SELECT v FROM c")) == sorted(acked)
    finally:
        s.kill9()


def test_rows_the_buffer_could_not_take_stop_snapshots_until_a_restart_replays_them(tmp_path):
    """Rows acknowledged but refused by the in-memory buffer (an injected fault for table
    `lost`) are only in the WAL. A snapshot would persist the buffer without them and delete
    the WAL files, losing them for good; instead snapshots stop, and a restart replays them."""
    s = Server(tmp_path, SNAPSHOT_ARGS, env={"RIFFLE_FAULT": "append_refused:lost"}).start()
    try:
        lost = [f"lost,host=h{i % 2} v={i} {1_700_000_000 + i}" for i in range(5)]
        assert write_lp(s, "db", "\n".join(lost), precision="s").status_code == 204
        write_batches(s, "db", 8)  # past the 3 unpersisted WAL files that make a snapshot due
        assert wait_for(lambda: "snapshots are stopped" in s.log()), s.log()
        time.sleep(1)
        assert parquet_files(s, "db") == [], parquet_files(s, "db")
        assert len(wal_files(s)) >= 9
        before = rows(s, "db", "cpu")
        # Replayed at start under the same fault, the rows are refused again: snapshots stay stopped.
        s.kill9()
        stopped = s.log().count("snapshots are stopped")
        s.start()
        write_batches(s, "db", 8, start=8)
        assert wait_for(lambda: s.log().count("snapshots are stopped") > stopped), s.log()
        time.sleep(1)
        assert parquet_files(s, "db") == [], parquet_files(s, "db")
        before = rows(s, "db", "cpu")
        s.kill9()
        s.env.pop("RIFFLE_FAULT")
        s.start()
        assert query_rows(s, "db", "SELECT v FROM lost ORDER BY v") == [{"v": float(i)} for i in range(5)]
        assert rows(s, "db", "cpu") == before
    finally:
        s.kill9()


def test_delete_table_and_database_remove_their_files(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        write_batches(s, "keep", 2, table="a")
        write_batches(s, "keep", 2, table="b")
        write_batches(s, "gone", 4, table="c")
        assert wait_for(lambda: {f["table_name"] for f in parquet_files(s, "keep")} == {"a", "b"}), s.log()
        gone_files = [f["path"] for f in parquet_files(s, "gone")]
        b_files = [f["path"] for f in parquet_files(s, "keep") if f["table_name"] == "b"]
        assert gone_files and b_files and all(object_exists(s, k) for k in gone_files + b_files)
        r = requests.delete(s.url + "/api/v3/configure/table", params={"db": "keep", "table": "b"}, timeout=30)
        assert r.status_code == 200, r.text
        assert wait_for(lambda: not any(object_exists(s, k) for k in b_files))
        assert {f["table_name"] for f in parquet_files(s, "keep")} == {"a"}
        assert len(rows(s, "keep", "a")) == 10
        r = requests.delete(s.url + "/api/v3/configure/database", params={"db": "gone"}, timeout=30)
        assert r.status_code == 200, r.text
        assert wait_for(lambda: not any(object_exists(s, k) for k in gone_files))
        s.restart()
        assert len(rows(s, "keep", "a")) == 10
        assert query(s, "keep", "SELECT * FROM b").status_code in (400, 404)
        # A new table of the same name starts empty.
        assert write_lp(s, "keep", "b,host=x usage=1 1", precision="s").status_code == 204
        assert len(rows(s, "keep", "b")) == 1
    finally:
        s.kill9()


def test_retention_period_hides_and_removes_expired_data(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS + ["--retention-check-interval", "1s"]).start()
    try:
        r = requests.post(s.url + "/api/v3/configure/database", json={"db": "ret", "retention_period": "1h"}, timeout=30)
        assert r.status_code == 200, r.text
        now = time.time_ns()
        old, recent = now - 3 * HOUR, now - HOUR // 2
        for i in range(4):
            body = f"t,host=old v={i}i {old + i}\nt,host=new v={i}i {recent + i}"
            assert write_lp(s, "ret", body).status_code == 204
            time.sleep(0.15)
        # Expired rows are invisible whether they are in memory or in Parquet.
        assert {r["host"] for r in query_rows(s, "ret", "SELECT host FROM t")} == {"new"}
        assert wait_for(lambda: parquet_files(s, "ret")), s.log()
        # The expired chunk's file is removed by the retention check; the recent one stays.
        assert wait_for(lambda: all(f["max_time"] >= now - HOUR for f in parquet_files(s, "ret")), timeout=15), \
            parquet_files(s, "ret")
        assert len(query_rows(s, "ret", "SELECT host FROM t")) == 4
        s.restart()
        assert {r["host"] for r in query_rows(s, "ret", "SELECT host FROM t")} == {"new"}
    finally:
        s.kill9()


@pytest.mark.skipif(OBJECT_STORE == "s3", reason="RIFFLE_FAULT=disk_full is a hook of the file store; "
                    "test_s3.py fails the S3 store's PUTs instead")
def test_a_full_disk_fails_writes_clearly_and_recovers(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS, env={"RIFFLE_FAULT": "disk_full"}).start()
    marker = s.data_dir / "FAULT_DISK_FULL"
    try:
        assert write_lp(s, "db", "d v=1i 1", precision="s").status_code == 204
        marker.touch()
        r = write_lp(s, "db", "d v=2i 2", precision="s")
        assert r.status_code >= 500 and "No space left on device" in r.json()["error"], r.text
        assert s.alive() and requests.get(s.url + "/health", timeout=5).status_code == 200
        assert query_rows(s, "db", "SELECT v FROM d") == [{"v": 1}]  # the failed write is not visible
        marker.unlink()
        for v in range(3, 9):
            assert write_lp(s, "db", f"d v={v}i {v}", precision="s").status_code == 204
            time.sleep(0.12)
        expected = [{"v": v} for v in [1, *range(3, 9)]]
        assert query_rows(s, "db", "SELECT v FROM d ORDER BY time") == expected
        s.kill9()
        s.env = {}
        s.start()
        assert query_rows(s, "db", "SELECT v FROM d ORDER BY time") == expected
    finally:
        s.kill9()


def test_user_sql_cannot_read_the_wal_or_the_catalog(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        write_batches(s, "db", 4)
        assert wait_for(lambda: parquet_files(s, "db"))
        for target in ("node0/wal/*", "node0/catalog/*", "node0/snapshots/*"):
            r = query(s, "db", f"SELECT * FROM read_blob('{s.data_dir}/{target}')")
            assert r.status_code == 400, (target, r.text[:200])
    finally:
        s.kill9()


def test_cli_show_system_and_update_database_retention(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        write_batches(s, "db", 4)
        assert wait_for(lambda: parquet_files(s, "db"))
        listed = s.cli("show", "system", "-d", "db", "table-list").stdout
        assert "parquet_files" in listed and "queries" in listed
        out = s.cli("show", "system", "-d", "db", "table", "parquet_files", "-s", "table_name,row_count",
                    "--format", "json").stdout
        assert {r["table_name"] for r in __import__("json").loads(out)} == {"cpu"}
        bad = s.cli("show", "system", "-d", "db", "table", "nope", check=False)
        assert bad.returncode != 0 and "unknown system table 'nope'" in bad.stderr
        # system.queries records the queries of this database, with their text and outcome.
        query(s, "db", "SELECT count(*) FROM cpu")
        query(s, "db", "SELECT nope FROM cpu")
        log = query_rows(s, "db", "SELECT query_text, success, phase FROM system.queries ORDER BY issue_time")
        assert {"query_text": "SELECT count(*) FROM cpu", "success": True, "phase": "success"} in log
        assert {"query_text": "SELECT nope FROM cpu", "success": False, "phase": "fail"} in log
        # update database --retention-period: older data disappears from queries at once, and
        # comes back with `none` as long as no retention check has removed its files yet.
        assert len(rows(s, "db", "cpu")) == 20
        assert "updated successfully" in s.cli("update", "database", "-d", "db", "--retention-period", "1h").stdout
        assert rows(s, "db", "cpu") == []
        s.cli("update", "database", "-d", "db", "-r", "none")
        assert len(rows(s, "db", "cpu")) == 20
        bad = s.cli("update", "database", "-d", "db", "-r", "soon", check=False)
        assert bad.returncode != 0 and "invalid retention_period" in bad.stderr
    finally:
        s.kill9()


def test_compaction_merges_a_closed_days_files_and_queries_do_not_change(tmp_path):
    args = SNAPSHOT_ARGS + ["--compaction-min-files", "3"]
    s = Server(tmp_path, args).start()
    try:
        write_batches(s, "db", 12)  # 2023-11-14, long closed: 1-minute chunks over 4 snapshots
        before = rows(s, "db", "cpu")
        merged = wait_for(lambda: [f for f in parquet_files(s, "db") if "/00-00/c" in f["path"]], timeout=20)
        assert merged, (parquet_files(s, "db"), s.log())
        assert "compaction: merged" in s.log()
        files = parquet_files(s, "db")
        assert len(files) < 3 or all("/00-00/c" in f["path"] for f in files[:1])
        assert rows(s, "db", "cpu") == before
        on_disk = parquet_keys(s)
        assert wait_for(lambda: parquet_keys(s) == sorted(f["path"] for f in parquet_files(s, "db"))), on_disk
        s.kill9()
        s.start()
        assert rows(s, "db", "cpu") == before
    finally:
        s.kill9()


def write_snapshots(server, count, with_n=False):
    """`count` writes of 10 recent rows to a server that snapshots every 10 rows: each write's
    file is listed before the next write."""
    now = time.time_ns()
    for b in range(count):
        n = ",n={i}i" if with_n else ""
        lines = [f"cpu,host=h{i % 3} usage={b * 10 + i}.5{n.format(i=i)} {now - (b * 10 + i) * 10**6}"
                 for i in range(10)]
        assert write_lp(server, "db", "\n".join(lines)).status_code == 204
        assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(server, "db")) == (b + 1) * 10,
                        timeout=20), parquet_files(server, "db")


def test_the_open_days_snapshots_are_merged_by_size_tiers(tmp_path):
    """Issue 13, item 4: a busy day's many snapshots do not wait for the day to close. Each write
    below makes a snapshot of one file (--force-snapshot-rows 10); with --compaction-min-files 3
    every three files of one size merge into one, and those again: nine snapshots end as one or
    two files, with the same answers before and after, and after a restart."""
    s = Server(tmp_path, ["--force-snapshot-rows", "10", "--compaction-min-files", "3",
                          "--snapshotted-wal-files-to-keep", "0"]).start()
    try:
        write_snapshots(s, 9, with_n=True)
        expected = [{"host": f"h{v % 10 % 3}", "usage": v + 0.5} for v in range(90)]
        sql = "SELECT host, usage FROM cpu ORDER BY usage"
        assert query_rows(s, "db", sql) == expected
        assert wait_for(lambda: len(parquet_files(s, "db")) <= 2, timeout=30), parquet_files(s, "db")
        assert "compaction: merged" in s.log()
        assert sum(f["row_count"] for f in parquet_files(s, "db")) == 90
        assert query_rows(s, "db", sql) == expected
        assert wait_for(lambda: parquet_keys(s) == sorted(f["path"] for f in parquet_files(s, "db"))), parquet_keys(s)
        s.kill9()
        s.start()
        assert query_rows(s, "db", sql) == expected
    finally:
        s.kill9()


def the_merged_file(server, tmp_path, rows):
    """Waits until table cpu of db is one merged file of `rows` rows; a local copy of it."""
    merged = wait_for(lambda: [f for f in parquet_files(server, "db") if "/c" in f["path"] and f["row_count"] == rows],
                      timeout=30)
    assert merged and len(parquet_files(server, "db")) == 1, (parquet_files(server, "db"), server.log())
    local = tmp_path / "merged.parquet"
    local.write_bytes(read_object(server, merged[0]["path"]))
    return local


def rows_out_of_order(local, keys):
    """How many rows of the Parquet file `local`, in the file's own row order, come before the
    row above them by the sort key `keys` (SQL expressions, most significant first)."""
    columns = ", ".join(f"{k} AS k{i}, lag({k}) OVER w AS p{i}" for i, k in enumerate(keys))
    before = f"p{len(keys) - 1} > k{len(keys) - 1}"
    for i in reversed(range(len(keys) - 1)):
        before = f"p{i} > k{i} OR (p{i} = k{i} AND ({before}))"
    return duckdb_cell(f"SELECT count(*) FROM (SELECT {columns} FROM read_parquet('{local}', file_row_number = true) "
                       f"WINDOW w AS (ORDER BY file_row_number)) WHERE {before}")


def test_a_merged_file_is_sorted_by_series_and_time_as_a_snapshots_file_is(tmp_path):
    """A snapshot writes its rows sorted by series (the tags, in the table's order) and time, so
    that a row group holds a few series and a query for one host skips the others by their
    min/max statistics. Compaction merges such files into one, and sorts it the same way: the
    inputs one after another would give row groups that each hold every series. Three snapshots
    of the same four hosts over one closed day (two files each) end as one file in that order,
    with the same answers."""
    s = Server(tmp_path, ["--force-snapshot-rows", "20", "--compaction-min-files", "3",
                          "--snapshotted-wal-files-to-keep", "0"]).start()
    day0 = 1_700_006_400  # 2023-11-15T00:00:00Z, long closed
    try:
        for b in range(3):
            # Time order across hosts: each write's file, sorted, starts again at h0.
            lines = [f"cpu,host=h{i % 4},rack=r{(i % 4) // 2} usage={b * 100 + i}.5 {day0 + b * 3600 + i * 60}"
                     for i in range(20)]
            assert write_lp(s, "db", "\n".join(lines), precision="s").status_code == 204
            assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(s, "db")) == (b + 1) * 20,
                            timeout=20), parquet_files(s, "db")
        sql = "SELECT host, rack, usage, time FROM cpu ORDER BY time"
        expected = query_rows(s, "db", sql)
        assert len(expected) == 60
        # Each write spans two 10-minute chunks (two files): merges follow until one file is left.
        local = the_merged_file(s, tmp_path, 60)
        assert query_rows(s, "db", sql) == expected
        assert rows_out_of_order(local, ["host", "rack", "time"]) == "0"
        assert duckdb_cell(f"SELECT count(*) FROM read_parquet('{local}')") == "60"
    finally:
        s.kill9()


def test_a_merge_of_dense_rows_is_sorted_by_series_within_each_time_bucket(tmp_path):
    """A merged file is sorted by time bucket first: the whole part of a UTC day that holds about
    131,072 rows (4 row groups) at the rows' rate, so that a query over part of a day still
    reads only the buckets in it. Each bucket is sorted on its own into a part file, and the
    parts are written in order. Three snapshots of 8,000 rows (8 hosts, 05:30 to 06:30 of a
    closed day) are merged at 16,000 rows in 6-hour buckets, then at 24,000 in 3-hour ones: the
    rows before 06:00, sorted by host and time, then those after, sorted the same way."""
    s = Server(tmp_path, ["--force-snapshot-rows", "8000", "--compaction-min-files", "3",
                          "--snapshotted-wal-files-to-keep", "0"]).start()
    t0 = 1_700_026_200_000  # 2023-11-15T05:30:00Z, in ms
    try:
        for b in range(3):
            lines = [f"cpu,host=h{h} usage={b}.{i} {t0 + i * 3600 + b * 1000}" for i in range(1000) for h in range(8)]
            assert write_lp(s, "db", "\n".join(lines), precision="ms").status_code == 204
            assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(s, "db")) == (b + 1) * 8000,
                            timeout=30), parquet_files(s, "db")
        sql = "SELECT count(*) AS n, round(sum(usage), 3) AS total, count(DISTINCT time) AS times FROM cpu"
        expected = query_rows(s, "db", sql)
        assert expected[0]["n"] == 24000 and expected[0]["times"] == 3000
        local = the_merged_file(s, tmp_path, 24000)
        assert query_rows(s, "db", sql) == expected
        assert rows_out_of_order(local, ["hour(time) >= 6", "host", "time"]) == "0"
        # Not sorted by host alone over the hour: h0's rows after 06:00 come after h7's before it.
        first_late = duckdb_cell(f"SELECT min(file_row_number) FROM read_parquet('{local}', file_row_number = true) "
                                 "WHERE hour(time) >= 6")
        assert first_late == str(8 * 3 * 500)  # 05:30-06:00 is half of each host's points
    finally:
        s.kill9()


def test_a_backfill_over_days_is_written_in_files_that_do_not_cross_midnight_and_merge(tmp_path):
    """A snapshot of more than 16 time chunks (here two days of 10-minute chunks) is written in
    wider chunks: 80 minutes, then 12 hours, each a whole part of a UTC day, so no file spans
    midnight. Compaction merges a table's files day by day and leaves a file that spans days as
    it is, so files of 640-minute chunks (eight times 80, the widening before) kept the days
    around them unmerged for good. Four such snapshots of the same two closed days end as one
    file per day, with the same answers."""
    args = ["--force-snapshot-rows", "100", "--compaction-min-files", "3", "--snapshotted-wal-files-to-keep", "0"]
    s = Server(tmp_path, args).start()
    day0 = 1_451_606_400  # 2016-01-01T00:00:00Z
    per_write = 2 * 144  # a point every 10 minutes for two days
    try:
        for b in range(4):
            body = "\n".join(f"cpu,host=h{i % 4} usage={b * 1000 + i}.5 {(day0 + i * 600 + b) * 10**9}"
                             for i in range(per_write))
            assert write_lp(s, "db", body).status_code == 204
            assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(s, "db")) >= (b + 1) * per_write,
                            timeout=20), parquet_files(s, "db")
        sql = "SELECT count(*) AS n, sum(usage) AS total, min(time) AS lo, max(time) AS hi FROM cpu"
        expected = [{"n": 4 * per_write, "total": sum(b * 1000 + i + 0.5 for b in range(4) for i in range(per_write)),
                     "lo": "2016-01-01T00:00:00", "hi": "2016-01-02T23:50:03"}]
        assert query_rows(s, "db", sql) == expected

        def day(t):
            return (t // 10**9 - day0) // 86_400
        assert all(day(f["min_time"]) == day(f["max_time"]) for f in parquet_files(s, "db")), parquet_files(s, "db")
        assert wait_for(lambda: len(parquet_files(s, "db")) == 2, timeout=30), parquet_files(s, "db")
        assert sorted(day(f["min_time"]) for f in parquet_files(s, "db")) == [0, 1]
        assert query_rows(s, "db", sql) == expected
    finally:
        s.kill9()


def test_part_files_of_a_merge_a_crash_interrupted_are_removed_at_start(tmp_path):
    """A merge sorts each time bucket into a part file in the node's scratch dir (<data-dir>/.tmp)
    before writing the merged file; a crash in between leaves them there, and the next start
    removes them (and nothing else)."""
    scratch = tmp_path / "data" / ".tmp"
    scratch.mkdir(parents=True)
    (scratch / "merge-part-17.parquet").write_bytes(b"PAR1 left by a crash")
    (scratch / "kept.txt").write_text("not a part file")
    s = Server(tmp_path).start()
    try:
        assert not (scratch / "merge-part-17.parquet").exists()
        assert (scratch / "kept.txt").exists()
    finally:
        s.kill9()


def codecs(server, tmp_path):
    """The codecs of the table's published Parquet files, as DuckDB reads their footers."""
    keys = wait_for(lambda: parquet_keys(server) == sorted(f["path"] for f in parquet_files(server, "db"))
                    and parquet_keys(server))
    assert keys
    found = set()
    for key in keys:
        local = tmp_path / "copy.parquet"
        local.write_bytes(read_object(server, key))
        found.add(duckdb_cell(f"SELECT string_agg(DISTINCT compression, ',') FROM parquet_metadata('{local}')"))
    return found


@pytest.mark.parametrize("codec", [None, "zstd"])
def test_parquet_files_are_written_with_the_chosen_codec(tmp_path, codec):
    """--parquet-compression (Riffle): snapshots, compaction and row deletes all write their files
    with it, snappy by default; every file reads back the same, whatever wrote it."""
    args = ["--force-snapshot-rows", "10", "--compaction-min-files", "3", "--snapshotted-wal-files-to-keep", "0"]
    s = Server(tmp_path, args + (["--parquet-compression", codec] if codec else [])).start()
    try:
        write_snapshots(s, 4)
        assert wait_for(lambda: "compaction: merged" in s.log(), timeout=30), s.log()
        want = (codec or "snappy").upper()
        assert codecs(s, tmp_path) == {want}  # compacted and snapshot files
        # h0 has rows in every file: the delete writes each one again
        out = s.cli("delete", "rows", "-d", "db", "-y", "-t", "cpu", "--all-time", "--predicate", "host = 'h0'")
        assert "Deleted 16 rows" in out.stdout, out.stdout
        expected = sorted(b * 10 + i + 0.5 for b in range(4) for i in range(10) if i % 3 != 0)
        assert [x["usage"] for x in query_rows(s, "db", "SELECT usage FROM cpu ORDER BY usage")] == expected
        assert codecs(s, tmp_path) == {want}
    finally:
        s.kill9()


def test_orphan_files_of_an_interrupted_compaction_are_removed_at_start(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS + ["--compaction-min-files", "3"],
               env={"RIFFLE_FAULT": "after_compact_parquet"}).start()
    try:
        acked = write_until_the_fault(s, "after_compact_parquet", timeout=20)
        orphan = parquet_keys(s, "c")
        assert orphan
        s.start()
        assert not any(object_exists(s, k) for k in orphan)
        assert "no snapshot manifest lists it" in s.log()
        got = [r["v"] for r in query_rows(s, "db", "SELECT v FROM m ORDER BY time")]
        assert got in (acked, acked + [len(acked)]), (got, acked)
    finally:
        s.kill9()


def test_a_query_reads_more_files_than_influxdb3_core_allows(tmp_path):
    """Issue 19, item 6: InfluxDB 3 Core refuses a query past 432 Parquet files; here 480 files
    of one table (30 snapshots of 16 one-minute chunks, compaction off) answer like one."""
    s = Server(tmp_path, ["--force-snapshot-rows", "1", "--gen1-duration", "1m", "--compaction-min-files", "100000",
                          "--snapshotted-wal-files-to-keep", "0"]).start()
    try:
        base = 1_600_000_000 - 1_600_000_000 % 86_400
        for w in range(30):
            body = "\n".join(f"cpu,host=h{i % 4} n={w * 16 + i}i {(base + w * 3600 + i * 60) * 10**9}" for i in range(16))
            assert write_lp(s, "db", body).status_code == 204
            assert wait_for(lambda: len(parquet_files(s, "db")) == (w + 1) * 16, timeout=20), len(parquet_files(s, "db"))
        assert query_rows(s, "db", "SELECT count(*) AS c, sum(n) AS t FROM cpu") == [{"c": 480, "t": sum(range(480))}]
        assert query_rows(s, "db", "SELECT max(n) AS m FROM cpu WHERE host = 'h1'") == [{"m": 477}]
        r = requests.get(s.url + "/query", params={"db": "db", "q": "SELECT count(n) FROM cpu"}, timeout=30)
        assert r.json()["results"][0]["series"][0]["values"][0][1] == 480, r.text
    finally:
        s.kill9()


def test_flushes_during_a_snapshot_make_the_next_one_due_without_another_write(tmp_path):
    """With --wal-snapshot-size 1, two flush periods not yet persisted make a snapshot due. The
    flushes that arrive while one runs only count their periods; when it ends with enough of
    them, the next snapshot starts by itself, not at some later write (an idle server has none)."""
    s = Server(tmp_path, ["--wal-snapshot-size", "1", "--force-snapshot-rows", "0",
                          "--wal-min-flush-gap", "100ms", "--max-http-request-size", "104857600"]).start()
    try:
        big = "\n".join(f"m,host=h{i % 100},k=k{i % 7} a={i},b={i * 2},c=\"s{i % 50}\" {1_700_000_000_000_000_000 + i * 1000}"
                        for i in range(1_000_000))
        assert write_lp(s, "db", big).status_code == 204
        time.sleep(0.15)
        assert write_lp(s, "db", "m,host=x a=1 1700000100000000000").status_code == 204  # due: 2 periods
        # While that snapshot of 1M rows runs (about half a second): two more periods, then nothing.
        for t in range(2):
            time.sleep(0.11)
            assert write_lp(s, "db", f"m,host=y a={t} {1_700_000_200_000_000_000 + t}").status_code == 204
        persisted = lambda: query_rows(s, "db", "SELECT coalesce(sum(row_count), 0) AS n FROM system.parquet_files")[0]["n"]
        assert wait_for(lambda: persisted() == 1_000_003, timeout=30), (persisted(), s.log()[-1500:])
        assert len(re.findall(r"snapshot: \d+ rows", s.log())) == 2, s.log()[-1500:]  # the 2 rows came after
    finally:
        s.stop()


def test_tables_written_in_turns_across_snapshots_keep_every_row(tmp_path):
    """A snapshot swaps the buffer's two DuckDB catalogs (src/buffer/buffer.h): a table with rows
    is frozen where it is and gets a fresh table in the other catalog, an empty one stays behind
    until rows come for it. Tables written in turns over six snapshots go through each case."""
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        expected = {"a": [], "b": [], "c": []}
        snapshots = lambda: len(re.findall(r"snapshot: \d+ rows", s.log()))
        value = 0
        for turn in [("a", "b"), ("a",), ("b", "c"), ("c",), ("a", "b", "c"), ("b",)]:
            before = snapshots()
            for _ in range(3):  # three WAL files: a snapshot is due
                lines = []
                for t in turn:
                    for i in range(5):
                        value += 1
                        expected[t].append(value)
                        lines.append(f"{t},host=h{i} v={value}i {1_700_000_000 + value}")
                assert write_lp(s, "db", "\n".join(lines), precision="s").status_code == 204
                time.sleep(0.15)  # > the 100 ms flush interval: one WAL file per write
            assert wait_for(lambda: snapshots() > before, timeout=20), s.log()[-2000:]
            for t, values in expected.items():
                if values:
                    got = query_rows(s, "db", f"SELECT v FROM {t} ORDER BY v")
                    assert [r["v"] for r in got] == values, (turn, t)
        files = {f["table_name"] for f in parquet_files(s, "db")}
        assert files == {"a", "b", "c"}
        for restart in (s.restart, lambda: (s.kill9(), s.start())):
            restart()
            for t, values in expected.items():
                assert [r["v"] for r in query_rows(s, "db", f"SELECT v FROM {t} ORDER BY v")] == values
    finally:
        s.kill9()


def test_rows_that_arrive_while_a_snapshot_writes_are_compressed_meanwhile_and_kept(tmp_path):
    """The buffer compresses its rows every 2^19 appended (a DuckDB checkpoint), also while a
    snapshot writes the frozen rows: those are in the other catalog, which that checkpoint does
    not wait for. The snapshot of 1M rows is held (RIFFLE_FAULT=snapshot_waits_for) while 600k
    more arrive: they are compressed before their write is acknowledged, and nothing is lost."""
    go = tmp_path / "go"
    s = Server(tmp_path, ["--wal-snapshot-size", "1", "--force-snapshot-rows", "0",
                          "--max-http-request-size", "104857600"],
               env={"RIFFLE_FAULT": f"snapshot_waits_for:{go}"}).start()

    def body(start, count):
        return "\n".join(f"m,host=h{i % 100} a={i},b={i * 2} {1_700_000_000_000_000_000 + i * 1000}"
                         for i in range(start, start + count))

    def checkpoints(outcome):
        text = requests.get(s.url + "/metrics", timeout=10).text
        found = re.search(r'^riffle_buffer_checkpoints_total\{outcome="' + outcome + r'"\} (\d+)', text, re.M)
        return int(found.group(1)) if found else 0

    try:
        first, second = body(0, 1_000_000), body(1_000_000, 600_000)
        assert write_lp(s, "db", first).status_code == 204
        time.sleep(0.15)
        assert write_lp(s, "db", "m,host=x a=1 1700000100000000000").status_code == 204  # due
        assert wait_for(lambda: (tmp_path / "go.held").exists(), timeout=30), s.log()[-1500:]
        run, put_off = checkpoints("run"), checkpoints("put_off")
        assert write_lp(s, "db", second).status_code == 204
        assert "snapshot: " not in s.log()  # still held
        assert checkpoints("run") == run + 1 and checkpoints("put_off") == put_off
        go.touch()
        assert wait_for(lambda: "snapshot: 1000001 rows" in s.log(), timeout=60), s.log()[-1500:]
        n = 1_600_000
        count = lambda: query_rows(s, "db", "SELECT count(*) AS n, sum(a) AS a FROM m")[0]
        assert count() == {"n": n + 1, "a": n * (n - 1) // 2 + 1}
        s.kill9()
        s.start()
        assert count() == {"n": n + 1, "a": n * (n - 1) // 2 + 1}
    finally:
        go.touch()
        s.kill9()
