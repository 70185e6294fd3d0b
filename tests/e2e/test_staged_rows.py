"""The buffer's staged rows (duck/staged_rows.h): a table's newest rows wait as DuckDB chunks,
read by queries through a table function, and move into the table's DuckDB storage a row group
(122,880 rows) at a time. Every acknowledged row must be queryable at once, exactly once,
whichever side of a move it is on, across snapshots, restarts and kill -9."""
import re
import time

import requests

from conftest import Server, query_rows, wait_for, write_lp

SNAPSHOT_ARGS = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
T0 = 1_700_000_000  # seconds


def staged_rows(server):
    text = requests.get(server.url + "/metrics", timeout=10).text
    m = re.search(r"^riffle_buffer_staged_rows (\S+)$", text, re.M)
    assert m, "riffle_buffer_staged_rows missing from /metrics"
    return float(m.group(1))


def big_batch(start, count):
    return "\n".join(f"big,host=h{i % 10} v={i}i,w={i}.5 {T0 * 10**9 + i * 10**6}" for i in range(start, start + count))


def test_a_table_past_a_row_group_moves_its_rows_and_repeats_still_merge(tmp_path):
    s = Server(tmp_path).start()
    try:
        total = 130_000
        for start in range(0, total, 10_000):
            assert write_lp(s, "db", big_batch(start, 10_000)).status_code == 204
            # Acknowledged means queryable, each row once, wherever it is.
            n = query_rows(s, "db", "SELECT count(*) AS n, count(DISTINCT v) AS d FROM big")[0]
            assert n == {"n": start + 10_000, "d": start + 10_000}, n
        # A row group's worth moved into the table; the rest is staged.
        assert staged_rows(s) <= total - 122_880, staged_rows(s)
        # Points written again, one of the moved rows and one still staged: the newest fields win.
        r = write_lp(s, "db", f"big,host=h0 v=-1i {T0 * 10**9}\nbig,host=h9 v=-2i {T0 * 10**9 + 129_999 * 10**6}")
        assert r.status_code == 204, r.text
        # A field the table gains now: NULL in every earlier row, staged or moved.
        r = write_lp(s, "db", f"big,host=h5 v=7i,extra=\"x\" {T0 * 10**9 + 200_000 * 10**6}")
        assert r.status_code == 204, r.text

        def check():
            got = query_rows(s, "db", "SELECT count(*) AS n, count(extra) AS e, sum(v) AS sv, "
                                      "min(v) AS lo, count(DISTINCT time) AS t FROM big")[0]
            expected_sum = sum(range(total)) - 0 - 129_999 - 1 - 2 + 7
            assert got == {"n": total + 1, "e": 1, "sv": expected_sum, "lo": -2, "t": total + 1}, got
            first = query_rows(s, "db", f"SELECT v, w FROM big WHERE time = to_timestamp_nanos({T0 * 10**9})")
            assert first == [{"v": -1, "w": 0.5}], first  # merged: v rewritten, w kept
        check()
        s.kill9()
        s.start()
        check()
        s.stop()
        s.start()
        check()
    finally:
        s.stop()


def test_many_tables_written_a_few_rows_per_flush_keep_every_row(tmp_path):
    tables = 300
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        for w in range(12):
            body = "\n".join(f"m{t},host=h{w % 3} v={w}i,t={t}i {T0 + w * 30 + t % 7}" for t in range(tables))
            assert write_lp(s, "db", body, precision="s").status_code == 204
            time.sleep(0.15)  # > the 100 ms flush interval: a WAL period each, so snapshots come
            if w % 4 == 3:
                counts = query_rows(s, "db", f"SELECT count(*) AS n FROM m{w * 7 % tables}")[0]["n"]
                assert counts == w + 1, counts

        def check():
            for t in (0, 1, 150, tables - 1):
                got = query_rows(s, "db", f"SELECT count(*) AS n, sum(v) AS sv, min(t) AS lo, max(t) AS hi FROM m{t}")[0]
                assert got == {"n": 12, "sv": sum(range(12)), "lo": t, "hi": t}, (t, got)
        check()
        # The snapshots persisted staged rows of every table.
        assert wait_for(lambda: len({r["table_name"] for r in query_rows(
            s, "db", "SELECT DISTINCT table_name FROM system.parquet_files")}) == tables, timeout=60), s.log()[-3000:]
        check()
        s.kill9()
        s.start()
        check()
    finally:
        s.stop()
