"""Row deletes (issue 19, item 1): `influxdb3 delete rows` with /api/v3/row_delete_requests and
system.row_deletes (InfluxDB 3 Enterprise's spelling), InfluxDB 2's POST /api/v2/delete and
InfluxQL's DELETE. Deleted rows are gone from queries when the request returns — from the buffer
and from Parquet files — never come back after a restart or kill -9, and their files' space is
given back."""
import time

import requests

from conftest import Server, TimedWriters, object_keys, query_rows, wait_for, write_lp

NOW_S = 1_700_000_000  # 2023-11-14T22:13:20Z
SNAPSHOT_EVERY_10 = ["--force-snapshot-rows", "10", "--snapshotted-wal-files-to-keep", "0"]


def lines(hosts, count, start=0, table="cpu"):
    return "\n".join(f"{table},host={hosts[i % len(hosts)]},region=r{i % 2} v={i}i {NOW_S + i}"
                     for i in range(start, start + count))


def hosts_count(s, table="cpu"):
    return {r["host"]: r["n"] for r in query_rows(s, "db", f'SELECT host, count(*) AS n FROM "{table}" GROUP BY host')}


def parquet_files(s):
    return query_rows(s, "db", "SELECT table_name, path, row_count, size_bytes FROM system.parquet_files ORDER BY path")


def delete_rows(s, *args, check=True):
    return s.cli("delete", "rows", "-d", "db", "-y", *args, check=check)


def test_delete_rows_leaves_buffer_and_parquet_at_once_and_never_comes_back(tmp_path):
    s = Server(tmp_path, SNAPSHOT_EVERY_10).start()
    try:
        assert write_lp(s, "db", lines(["a", "b", "c"], 30), precision="s").status_code == 204
        assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(s)) == 30, timeout=20), parquet_files(s)
        before = {f["path"] for f in parquet_files(s)}
        # Four more rows stay in the buffer (below the snapshot threshold).
        assert write_lp(s, "db", lines(["a", "b"], 4, start=30), precision="s").status_code == 204
        assert hosts_count(s) == {"a": 12, "b": 12, "c": 10}
        out = delete_rows(s, "-t", "cpu", "--all-time", "--predicate", 'host = "a"')
        assert "Deleted 12 rows" in out.stdout, out.stdout
        assert hosts_count(s) == {"b": 12, "c": 10}
        # The files that held host=a rows were replaced by copies without them.
        files = parquet_files(s)
        assert sum(f["row_count"] for f in files) == 20, files
        assert {f["path"] for f in files} != before
        # A time range and two tags: only region r1 of host b before NOW+20 s (max exclusive).
        out = delete_rows(s, "-t", "cpu", "--min-time", "2023-11-14T22:13:20Z", "--max-time", str((NOW_S + 20) * 10**9),
                          "-p", "host = 'b' AND region = 'r1'")
        assert "Deleted 4 rows" in out.stdout, out.stdout  # v = 1, 7, 13, 19 (25 is after the range)
        left = [r["v"] for r in query_rows(s, "db", "SELECT v FROM cpu WHERE host = 'b' ORDER BY v")]
        assert left == [4, 10, 16, 22, 25, 28, 31, 33], left
        # A row written after a delete that matches it stays.
        assert write_lp(s, "db", f"cpu,host=a,region=r0 v=100i {NOW_S}", precision="s").status_code == 204
        expected = query_rows(s, "db", "SELECT * FROM cpu ORDER BY time, host, v")
        assert [r["v"] for r in expected if r["host"] == "a"] == [100]
        requests_made = query_rows(s, "db", "SELECT sequence, table_name, disposition, rows_deleted, delete_predicate "
                                             "FROM system.row_deletes ORDER BY sequence")
        assert requests_made == [
            {"sequence": 1, "table_name": "cpu", "disposition": "completed", "rows_deleted": 12,
             "delete_predicate": 'host = "a"'},
            {"sequence": 2, "table_name": "cpu", "disposition": "completed", "rows_deleted": 4,
             "delete_predicate": "host = 'b' AND region = 'r1'"}]
        s.kill9()
        s.start()
        assert query_rows(s, "db", "SELECT * FROM cpu ORDER BY time, host, v") == expected
        assert len(query_rows(s, "db", "SELECT * FROM system.row_deletes")) == 2
        s.stop()
        s.start()
        assert query_rows(s, "db", "SELECT * FROM cpu ORDER BY time, host, v") == expected
        # Request numbers go on after the restart.
        r = requests.post(s.url + "/api/v3/row_delete_requests",
                          json={"db": "db", "table": "cpu", "all_time": True, "predicate": 'host="c"'}, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["sequence"] == 3 and body["disposition"] == "completed" and body["rows_deleted"] == 10, body
        listed = requests.get(s.url + "/api/v3/row_delete_requests", params={"db": "db", "min_sequence": 2},
                              timeout=10).json()
        assert [d["sequence"] for d in listed] == [2, 3]
        assert requests.post(s.url + "/api/v3/row_delete_requests/3/abort", json={"reason": "x"},
                             timeout=10).status_code == 409
        assert requests.post(s.url + "/api/v3/row_delete_requests/99/abort", json={"reason": "x"},
                             timeout=10).status_code == 404
    finally:
        s.kill9()


def test_deleted_files_give_their_space_back(tmp_path):
    s = Server(tmp_path, ["--force-snapshot-rows", "1000", "--snapshotted-wal-files-to-keep", "0"]).start()
    try:
        pad = "x" * 200
        body = "\n".join(f'log,host=h{i % 4} msg="{pad}{i}" {NOW_S * 10**9 + i}' for i in range(4000))
        assert write_lp(s, "db", body).status_code == 204
        assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(s)) == 4000, timeout=30)
        dbs = s.data_dir / "node0" / "dbs"

        def bytes_on_disk():
            return sum(p.stat().st_size for p in dbs.rglob("*.parquet"))

        full = bytes_on_disk()
        # Half the rows: the files are rewritten smaller.
        r = requests.post(s.url + "/api/v3/row_delete_requests",
                          json={"db": "db", "table": "log", "all_time": True, "predicate": "host = 'h0' AND host = 'h0'"},
                          timeout=60)
        assert r.status_code == 200, r.text
        delete_rows(s, "-t", "log", "--all-time", "-p", "host = 'h1'")
        assert query_rows(s, "db", "SELECT count(*) AS n FROM log") == [{"n": 2000}]
        assert wait_for(lambda: bytes_on_disk() < full * 0.7, timeout=20), (bytes_on_disk(), full)
        # All of them: no file is left, on disk or in system.parquet_files.
        delete_rows(s, "-t", "log", "--all-time")
        assert query_rows(s, "db", "SELECT count(*) AS n FROM log") == [{"n": 0}]
        assert parquet_files(s) == []
        assert wait_for(lambda: bytes_on_disk() == 0, timeout=20), list(dbs.rglob("*.parquet"))
        assert query_rows(s, "db", "SELECT files_removed FROM system.row_deletes WHERE sequence = 3")[0]["files_removed"] >= 1
        s.kill9()
        s.start()
        assert query_rows(s, "db", "SELECT count(*) AS n FROM log") == [{"n": 0}]
    finally:
        s.kill9()


def test_influxdb2_delete_api_and_influxql_delete(tmp_path):
    s = Server(tmp_path).start()
    try:
        assert write_lp(s, "db", lines(["a", "b"], 10)).status_code == 204
        assert write_lp(s, "db", lines(["a", "b"], 10, table="mem")).status_code == 204
        # InfluxDB 2: start and stop both inclusive, _measurement names the table.
        r = requests.post(s.url + "/api/v2/delete", params={"org": "any", "bucket": "db"},
                          json={"start": "2023-11-14T22:13:21Z", "stop": "2023-11-14T22:13:23Z",
                                "predicate": '_measurement="cpu" AND host="b"'}, timeout=30)
        assert r.status_code == 204, r.text
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM cpu ORDER BY v")] == [0, 2, 4, 5, 6, 7, 8, 9]
        # Without _measurement: every table of the bucket.
        r = requests.post(s.url + "/api/v2/delete", params={"bucket": "db"},
                          json={"start": "2023-11-14T22:13:29Z", "stop": "2030-01-01T00:00:00Z"}, timeout=30)
        assert r.status_code == 204, r.text
        assert 9 not in [x["v"] for x in query_rows(s, "db", "SELECT v FROM cpu")]
        assert 9 not in [x["v"] for x in query_rows(s, "db", "SELECT v FROM mem")]
        bad = requests.post(s.url + "/api/v2/delete", params={"bucket": "db"},
                            json={"start": "2023-11-14T22:13:29Z", "stop": "2030-01-01T00:00:00Z",
                                  "predicate": 'host="a" OR host="b"'}, timeout=30)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid" and "OR" in bad.json()["message"], bad.text
        # InfluxQL (InfluxDB 1.x's /query): tags and time comparisons joined by AND.
        q = requests.post(s.url + "/query", params={"db": "db"},
                          data={"q": "DELETE FROM mem WHERE host = 'a' AND time < '2023-11-14T22:13:24Z'"}, timeout=30)
        assert q.status_code == 200 and "error" not in q.text, q.text
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM mem ORDER BY v")] == [1, 3, 4, 5, 6, 7, 8]
        q = requests.get(s.url + "/query", params={"db": "db", "q": f"DELETE WHERE time >= {(NOW_S + 7) * 10**9}"},
                         timeout=30)
        assert q.status_code == 200 and "error" not in q.text, q.text
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM mem ORDER BY v")] == [1, 3, 4, 5, 6]
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM cpu ORDER BY v")] == [0, 2, 4, 5, 6]
        q = requests.get(s.url + "/query", params={"db": "db", "q": "DELETE FROM cpu WHERE v = 1"}, timeout=30)
        assert q.status_code == 400 and "tag = 'value'" in q.json()["error"], q.text
        # python-influxdb, InfluxDB 1.x's client library, sends the statement through /query.
        from influxdb import InfluxDBClient
        client = InfluxDBClient("127.0.0.1", s.port, database="db")
        client.query("DELETE FROM cpu WHERE host = 'b'")
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM cpu ORDER BY v")] == [0, 2, 4, 6]
        s.kill9()
        s.start()
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM cpu ORDER BY v")] == [0, 2, 4, 6]
        assert [x["v"] for x in query_rows(s, "db", "SELECT v FROM mem ORDER BY v")] == [1, 3, 4, 5, 6]
    finally:
        s.kill9()


def test_bad_deletes_are_refused_and_delete_nothing(tmp_path):
    s = Server(tmp_path).start()
    try:
        assert write_lp(s, "db", lines(["a", "b"], 6)).status_code == 204
        for args, says in ((["-t", "cpu"], "explicit time scope"),
                           (["-t", "cpu", "--all-time", "--min-time", "0"], "cannot be combined"),
                           (["-t", "cpu", "--all-time", "-p", 'host = "a" OR host = "b"'], "OR is not supported"),
                           (["-t", "cpu", "--all-time", "-p", "v = '1'"], "not a tag"),
                           (["-t", "cpu", "--all-time", "-p", "hots = 'a'"], "has no tag 'hots' (its tags: host, region)"),
                           (["-t", "nope", "--all-time"], "table 'nope' not found"),
                           (["-t", "cpu", "--min-time", "2024-01-02", "--max-time", "2024-01-01"], "time range is empty"),
                           (["-t", "cpu", "--min-time", "yesterday"], "RFC 3339")):
            r = delete_rows(s, *args, check=False)
            assert r.returncode != 0 and says in r.stderr, (args, r.stderr)
        r = s.cli("delete", "rows", "-d", "nodb", "-t", "cpu", "--all-time", "-y", check=False)
        assert r.returncode != 0 and "database not found" in r.stderr, r.stderr
        # Without --yes, the CLI asks first and deletes nothing unless told yes.
        r = s.cli("delete", "rows", "-d", "db", "-t", "cpu", "--all-time", input="no\n", check=False)
        assert r.returncode != 0 and "confirmation" in r.stderr
        for body, status in (({"db": "db", "table": "cpu"}, 400), ({"db": "db", "all_time": True}, 400),
                             ({"db": "db", "table": "cpu", "min_time": "soon"}, 400),
                             ({"db": "db", "table": "cpu", "min_time": 1.5}, 400),
                             ({"db": "other", "table": "cpu", "all_time": True}, 404)):
            r = requests.post(s.url + "/api/v3/row_delete_requests", json=body, timeout=10)
            assert r.status_code == status and r.json()["error"], (body, r.status_code, r.text)
        r = requests.post(s.url + "/api/v3/row_delete_requests", data="{}", timeout=10)
        assert r.status_code == 415, r.text
        r = requests.post(s.url + "/api/v2/delete", json={"start": "2023-01-01T00:00:00Z"}, timeout=10)
        assert r.status_code == 400 and "bucket" in r.json()["message"], r.text
        assert hosts_count(s) == {"a": 3, "b": 3}
        assert query_rows(s, "db", "SELECT count(*) AS n FROM system.row_deletes") == [{"n": 0}]
    finally:
        s.kill9()


def test_a_delete_removes_what_was_written_before_it_and_nothing_written_after(tmp_path):
    """Writers go on during the delete and snapshots happen meanwhile: every row acknowledged
    before the delete was sent is gone, every row sent after its answer stays, also after kill -9."""
    s = Server(tmp_path, ["--force-snapshot-rows", "40", "--snapshotted-wal-files-to-keep", "0"]).start()
    try:
        writers = TimedWriters(s, "db", lambda n: f"cpu,host=h,w=w{n // 1_000_000} n={n}i {NOW_S * 10**9 + n}")
        time.sleep(1.0)
        asked = time.monotonic()
        out = delete_rows(s, "-t", "cpu", "--all-time", "-p", 'host = "h"')
        answered = time.monotonic()
        time.sleep(1.0)
        writers.stop()
        assert "snapshot:" in s.log()
        kept = {r["n"] for r in query_rows(s, "db", "SELECT n FROM cpu")}
        before, after = writers.acked_before(asked), writers.sent_after(answered)
        assert before and after, (len(before), len(after))
        assert not (before & kept), sorted(before & kept)[:10]
        assert after <= kept, sorted(after - kept)[:10]
        assert kept <= set(writers.acked)
        assert out.returncode == 0
        s.kill9()
        s.start()
        assert {r["n"] for r in query_rows(s, "db", "SELECT n FROM cpu")} == kept
    finally:
        s.kill9()


def test_a_crash_in_the_middle_of_a_delete_finishes_it_at_start(tmp_path):
    for point in ("after_row_delete_parquet", "after_row_delete_manifest"):
        s = Server(tmp_path / point, SNAPSHOT_EVERY_10, env={"RIFFLE_FAULT": point}).start()
        try:
            assert write_lp(s, "db", lines(["a", "b"], 20), precision="s").status_code == 204
            assert wait_for(lambda: sum(f["row_count"] for f in parquet_files(s)) == 20, timeout=20)
            r = delete_rows(s, "-t", "cpu", "--all-time", "-p", "host = 'a'", check=False)
            assert r.returncode != 0  # the server died answering it
            assert wait_for(lambda: not s.alive(), timeout=10)
            assert f"crashing at {point}" in s.log()
            s.env = {}
            s.start()
            assert hosts_count(s) == {"b": 10}, point
            assert sum(f["row_count"] for f in parquet_files(s)) == 10
            # No file is left that no manifest lists.
            listed = {f["path"] for f in parquet_files(s)}
            assert wait_for(lambda: {k for k in object_keys(s, "node0/dbs/") if k.endswith(".parquet")} == listed)
            assert query_rows(s, "db", "SELECT disposition FROM system.row_deletes") == [{"disposition": "completed"}]
        finally:
            s.kill9()


def test_delete_permission_and_caches(tmp_path):
    s = Server(tmp_path).start()
    try:
        now = time.time_ns()  # within the last value cache's 4 h
        body = "\n".join(f"cpu,host={'ab'[i % 2]} v={i}i {now - 10**9 + i}" for i in range(6))
        assert write_lp(s, "db", body).status_code == 204
        s.cli("create", "last_cache", "-d", "db", "-t", "cpu", "--key-columns", "host", "lc")
        assert {r["host"] for r in query_rows(s, "db", "SELECT host FROM last_cache('cpu', 'lc')")} == {"a", "b"}
        admin = s.cli("create", "token", "--admin").stdout
        admin_token = next(w for w in admin.split() if w.startswith("apiv3_"))
        tokens = {}
        for name, perm in (("writer", "db:db:read,write"), ("deleter", "db:db:delete")):
            out = s.cli("create", "token", "--permission", perm, "--name", name, "--token", admin_token).stdout
            tokens[name] = next(w for w in out.split() if w.startswith("apiv3_"))
        r = delete_rows(s, "-t", "cpu", "--all-time", "-p", "host = 'a'", "--token", tokens["writer"], check=False)
        assert r.returncode != 0 and "db:db:delete" in r.stderr, r.stderr
        r = requests.get(s.url + "/query", params={"db": "db", "q": "DELETE FROM cpu WHERE host = 'a'"},
                         headers={"Authorization": "Bearer " + tokens["writer"]}, timeout=10)
        assert r.status_code == 403, r.text
        delete_rows(s, "-t", "cpu", "--all-time", "-p", "host = 'a'", "--token", tokens["deleter"])
        r = requests.post(s.url + "/api/v2/delete", params={"bucket": "db"},
                          json={"start": "1970-01-01T00:00:00Z", "stop": "2100-01-01T00:00:00Z"},
                          headers={"Authorization": "Token " + tokens["writer"]}, timeout=10)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
        auth = {"Authorization": "Bearer " + admin_token}
        assert [r["host"] for r in query_rows_auth(s, "SELECT DISTINCT host FROM cpu", auth)] == ["b"]
        # The last value cache forgets the deleted rows.
        assert [r["host"] for r in query_rows_auth(s, "SELECT host FROM last_cache('cpu', 'lc')", auth)] == ["b"]
    finally:
        s.kill9()


def query_rows_auth(s, sql, headers):
    r = requests.get(s.url + "/api/v3/query_sql", params={"db": "db", "q": sql, "format": "json"},
                     headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_data_only_deletes_keep_the_schema_and_give_the_space_back(tmp_path):
    """InfluxDB 3.6's --data-only: every row goes (buffer and files), the database, its tables,
    their caches and triggers stay and take new writes."""
    s = Server(tmp_path, SNAPSHOT_EVERY_10).start()
    try:
        # One write per snapshot: a write that arrives while a snapshot runs waits for the next one.
        assert write_lp(s, "db", lines(["a", "b"], 20), precision="s").status_code == 204
        assert wait_for(lambda: {f["table_name"] for f in parquet_files(s)} == {"cpu"}, timeout=20)
        assert write_lp(s, "db", lines(["a", "b"], 20, table="mem"), precision="s").status_code == 204
        assert wait_for(lambda: {f["table_name"] for f in parquet_files(s)} == {"cpu", "mem"}, timeout=20)
        assert write_lp(s, "db", lines(["c"], 3, start=40), precision="s").status_code == 204  # in the buffer
        s.cli("create", "distinct_cache", "-d", "db", "-t", "mem", "--columns", "host", "dc")
        out = s.cli("delete", "table", "cpu", "-d", "db", "--data-only", "-y")
        assert "Data of table" in out.stdout
        assert query_rows(s, "db", "SELECT count(*) AS n FROM cpu") == [{"n": 0}]
        assert {f["table_name"] for f in parquet_files(s)} == {"mem"}
        # The table is still there, with its columns, and takes writes.
        cols = {r["column_name"] for r in query_rows(s, "db", "SELECT column_name FROM information_schema.columns "
                                                               "WHERE table_name = 'cpu'")}
        assert {"host", "region", "v", "time"} <= cols
        assert write_lp(s, "db", "cpu,host=z v=1i", precision="s").status_code == 204
        assert hosts_count(s) == {"z": 1}
        out = s.cli("delete", "database", "db", "--data-only", "-y")
        assert "Data of database" in out.stdout
        assert query_rows(s, "db", "SELECT count(*) AS n FROM mem") == [{"n": 0}]
        assert hosts_count(s) == {}
        assert parquet_files(s) == []
        assert wait_for(lambda: not list((s.data_dir / "node0" / "dbs").rglob("*.parquet")), timeout=20)
        assert query_rows(s, "db", "SELECT count(*) AS n FROM distinct_cache('mem', 'dc')") == [{"n": 0}]
        assert "db" in s.cli("show", "databases").stdout
        # hard_delete_at is checked; remove_tables is refused rather than guessed at.
        r = requests.delete(s.url + "/api/v3/configure/table",
                            params={"db": "db", "table": "mem", "hard_delete_at": "later"}, timeout=10)
        assert r.status_code == 400 and "hard_delete_at" in r.json()["error"], r.text
        r = requests.delete(s.url + "/api/v3/configure/database",
                            params={"db": "db", "data_only": "true", "remove_tables": "true"}, timeout=10)
        assert r.status_code == 400, r.text
        # A data_only that is not true or false is refused, never read as false (which would
        # delete the whole database or table).
        assert write_lp(s, "db", "cpu,host=y v=2i", precision="s").status_code == 204
        for path, params in (("database", {"db": "db"}), ("table", {"db": "db", "table": "cpu"})):
            r = requests.delete(s.url + f"/api/v3/configure/{path}", params={**params, "data_only": "1"}, timeout=10)
            assert r.status_code == 400 and "'data_only': expected true or false" in r.json()["error"], r.text
        assert hosts_count(s) == {"y": 1}
        s.cli("delete", "table", "mem", "-d", "db", "--hard-delete", "now", "-y")
        s.kill9()
        s.start()
        assert hosts_count(s) == {"y": 1}  # the one row written after the data-only delete
        assert "mem" not in {r["table_name"] for r in query_rows(s, "db", "SHOW TABLES")}
    finally:
        s.kill9()
