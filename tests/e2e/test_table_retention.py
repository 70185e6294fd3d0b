"""Issue 19, item 4 (part): table-level retention, as InfluxDB 3 Enterprise has it.

`create table --retention-period`, `update table --retention-period D|none` (PUT
/api/v3/configure/table), `show retention` (from _internal's system.databases and
system.tables). A table's own period replaces its database's: its expired rows leave queries at
once, and its expired Parquet files leave the store and system.parquet_files at the next
retention check (the bytes on disk go down), while another table's files stay."""
import time

import requests

from conftest import Server, query_rows, wait_for

HOUR_NS = 3600 * 10**9
SNAPSHOTS = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m",
             "--retention-check-interval", "1s"]


def count(s, db, table):
    return query_rows(s, db, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def write(s, db, body):
    r = requests.post(s.url + "/api/v3/write_lp", params={"db": db, "precision": "ns"}, data=body, timeout=10)
    assert r.status_code == 204, r.text


def test_a_tables_own_retention_hides_its_old_rows_and_can_be_cleared(tmp_path):
    s = Server(tmp_path).start()
    try:
        s.cli("create", "database", "rdb", "--retention-period", "30d")
        s.cli("create", "table", "-d", "rdb", "short", "--tags", "host", "--retention-period", "1h")
        now = time.time_ns()
        old = now - 2 * HOUR_NS
        write(s, "rdb", f"short,host=a v=1 {old}\nshort,host=a v=2 {now}\nlong,host=a v=1 {old}\nlong,host=a v=2 {now}")
        assert count(s, "rdb", "short") == 1 and count(s, "rdb", "long") == 2
        shown = s.cli("show", "retention", "--format", "json").stdout
        assert '"table_name":"short","retention_period":"1h"' in shown and \
            '"database_name":"rdb","table_name":"*","retention_period":"30d"' in shown, shown
        assert query_rows(s, "_internal", "SELECT table_name, retention_period_ns, effective_retention_period_ns "
                                          "FROM system.tables WHERE database_name = 'rdb' ORDER BY 1") == [
            {"table_name": "long", "effective_retention_period_ns": 30 * 24 * HOUR_NS},  # JSON leaves out nulls
            {"table_name": "short", "retention_period_ns": HOUR_NS, "effective_retention_period_ns": HOUR_NS}]
        s.cli("update", "table", "-d", "rdb", "short", "--retention-period", "none")
        assert count(s, "rdb", "short") == 2  # the database's 30 days apply again
        s.cli("update", "table", "-d", "rdb", "short", "--retention-period", "90m")
        assert count(s, "rdb", "short") == 1
        s.restart()  # the period is in the catalog
        assert count(s, "rdb", "short") == 1
        bad = requests.put(s.url + "/api/v3/configure/table", json={"db": "rdb", "table": "nope",
                                                                     "retention_period": "1h"}, timeout=10)
        assert bad.status_code == 404 and "nope" in bad.json()["error"], bad.text
        bad = requests.put(s.url + "/api/v3/configure/table", json={"db": "rdb", "table": "short",
                                                                     "retention_period": "soon"}, timeout=10)
        assert bad.status_code == 400 and "retention_period" in bad.json()["error"], bad.text
    finally:
        s.kill9()


def parquet_bytes(s, table_id):
    files = [p for p in (s.data_dir / "node0" / "dbs").rglob("*.parquet") if f"/{table_id}/" in p.as_posix()]
    return sum(p.stat().st_size for p in files)


def test_expired_files_of_a_table_leave_the_store(tmp_path):
    s = Server(tmp_path, SNAPSHOTS).start()
    try:
        s.cli("create", "table", "-d", "fdb", "short", "--tags", "host")
        old = time.time_ns() - 2 * HOUR_NS
        for i in range(3):  # three WAL files: a snapshot writes them to Parquet
            write(s, "fdb", f"short,host=h{i} v={i} {old + i}\nlong,host=h{i} v={i} {old + i}")
            time.sleep(0.15)
        files = "SELECT table_name, count(*) AS n FROM system.parquet_files GROUP BY 1 ORDER BY 1"
        assert wait_for(lambda: [r["table_name"] for r in query_rows(s, "fdb", files)] == ["long", "short"],
                        timeout=30), query_rows(s, "fdb", files)
        ids = {r["table_name"]: r["path"].split("/")[3] for r in
               query_rows(s, "fdb", "SELECT DISTINCT table_name, path FROM system.parquet_files")}
        before = parquet_bytes(s, ids["short"])
        assert before > 0 and parquet_bytes(s, ids["long"]) > 0, ids
        s.cli("update", "table", "-d", "fdb", "short", "--retention-period", "1h")
        assert wait_for(lambda: [r["table_name"] for r in query_rows(s, "fdb", files)] == ["long"], timeout=30), \
            query_rows(s, "fdb", files)
        assert wait_for(lambda: parquet_bytes(s, ids["short"]) == 0, timeout=30), parquet_bytes(s, ids["short"])
        assert parquet_bytes(s, ids["long"]) > 0 and count(s, "fdb", "long") == 3
        assert count(s, "fdb", "short") == 0
    finally:
        s.kill9()
