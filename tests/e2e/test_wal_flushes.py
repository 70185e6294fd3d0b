"""Issue 13, item 2: how WAL flushes form. A write to an idle server is flushed at once (not at
the next --wal-flush-interval tick); writes that arrive while a flush runs go together into the
next one; --wal-min-flush-gap spaces flushes out. Every acknowledged write is durable, and a WAL
trigger sees each write exactly once."""
import subprocess

import pytest
import requests

from conftest import (BINARY, Server, create_trigger, put_plugin, query_rows, unique_db, wait_for, write_from_threads,
                      write_lp)


def count(server, db, table="m"):
    return query_rows(server, db, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_a_write_to_an_idle_server_is_acknowledged_without_waiting_for_the_interval(tmp_path):
    # A one-hour interval: each write below is acknowledged only because it is flushed at once.
    s = Server(tmp_path, flush="1h").start()
    try:
        db = unique_db("idle")
        for i in range(5):
            r = write_lp(s, db, f"m,host=a v={i}i {1700000000 + i}", precision="s")
            assert r.status_code == 204, r.text
        assert count(s, db) == 5
        s.kill9()
        s.start()
        assert count(s, db) == 5  # acknowledged after the WAL file was durable
    finally:
        s.kill9()


PLUGIN = """
def process_writes(influxdb3_local, table_batches, args=None):
    for batch in table_batches:
        if batch["table_name"] != "m":
            continue
        for row in batch["rows"]:
            influxdb3_local.write(LineBuilder("seen").tag("w", str(row["w"])).int64_field("v", row["v"]))
"""


def test_concurrent_writers_are_grouped_and_a_wal_trigger_sees_each_write_once(tmp_path):
    s = Server(tmp_path).start()
    try:
        db = unique_db("group")
        s.cli("create", "database", db)
        put_plugin(s, "seen.py", PLUGIN)
        create_trigger(s, db, "seen", "table:m", "seen.py")
        errors = write_from_threads(s, db, lambda k, i: f"m,w={k} v={k * 1000 + i}i {1700000000 + k * 1000 + i}",
                                    writers=4, writes=25)
        assert not errors, errors
        assert count(s, db) == 100
        # The plugin's rows carry the write's value: 100 rows, 100 values, none twice.
        sql = "SELECT count(*) AS n, count(DISTINCT v) AS d FROM seen"

        def seen():
            r = requests.post(s.url + "/api/v3/query_sql", json={"db": db, "q": sql}, timeout=10)
            return r.json() if r.status_code == 200 else None

        assert wait_for(lambda: seen() == [{"n": 100, "d": 100}], timeout=20), seen()
    finally:
        s.kill9()


def test_the_minimum_gap_holds_writes_for_the_next_flush(tmp_path):
    s = Server(tmp_path, flush="1h", extra_args=["--wal-min-flush-gap", "1h"]).start()
    try:
        db = unique_db("gap")
        assert write_lp(s, db, "m v=1i 1700000000", precision="s").status_code == 204  # idle: at once
        # The next flush may not start for an hour: the second write is not acknowledged...
        with pytest.raises(requests.Timeout):
            requests.post(s.url + "/api/v3/write_lp", params={"db": db, "precision": "s"},
                          data="m v=2i 1700000001", timeout=1.5)
        # ...until the shutdown flushes what is queued.
        s.stop()
        s.start()
        assert count(s, db) == 2
    finally:
        s.kill9()


@pytest.mark.parametrize("value", ["soon", "-5ms"])
def test_a_bad_minimum_gap_is_refused(value):
    r = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", "--wal-min-flush-gap", value],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("Error:") and "--wal-min-flush-gap" in r.stderr, r.stderr


def test_replayed_wal_files_count_toward_the_next_snapshot(tmp_path):
    """--wal-snapshot-size counts flush periods with writes; after a restart the replayed files
    count as the periods they were, so that restarts do not postpone snapshots for ever."""
    s = Server(tmp_path, ["--wal-snapshot-size", "2", "--wal-min-flush-gap", "100ms"]).start()
    try:
        db = unique_db("replayed")
        for i in range(2):  # two periods: 2 × 2 < 3 × 2, no snapshot yet
            assert write_lp(s, db, f"m v={i}i {1700000000 + i}", precision="s").status_code == 204
        files = "SELECT count(*) AS n FROM system.parquet_files"
        assert query_rows(s, db, files) == [{"n": 0}]
        s.kill9()
        s.start()
        assert write_lp(s, db, "m v=2i 1700000002", precision="s").status_code == 204  # the third period
        assert wait_for(lambda: query_rows(s, db, files)[0]["n"] > 0, timeout=20), query_rows(s, db, files)
        assert count(s, db) == 3
    finally:
        s.kill9()
