"""Duplicate points (issue 5): as in InfluxDB 3, a table keeps one row per series (tag set) and
time; writing the same point again merges it, the newest non-null value of each field winning.
Checked in the buffer, across snapshots, through compaction, across restarts and from a plugin."""
import random
import threading
import time

from conftest import Server, create_trigger, put_plugin, query_rows, wait_for, write_lp

SNAPSHOT_ARGS = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
T0 = 1_700_000_000  # 2023-11-14, seconds


def rows(server, db, table="m"):
    return query_rows(server, db, f'SELECT * FROM "{table}" ORDER BY time, host, region')


def write(server, db, body):
    r = write_lp(server, db, body, precision="s")
    assert r.status_code == 204, r.text
    time.sleep(0.15)  # one WAL file per write (flush every 100 ms)


def parquet_files(server, db):
    return query_rows(server, db, "SELECT path, row_count FROM system.parquet_files ORDER BY path")


def test_a_rewritten_point_is_one_row_with_the_newest_field_values(fresh_server):
    s = fresh_server.start()
    write(s, "db", f"m,host=a,region=r1 v=1,s=\"x\",n=1i {T0}\n"
                   f"m,host=b,region=r1 v=5 {T0}\n"
                   f"m,host=a,region=r1 v=2 {T0 + 10}")
    # The same point again, its tags in another order: v replaced, s and n kept.
    write(s, "db", f"m,region=r1,host=a v=10 {T0}")
    # Only s this time: v stays 10.
    write(s, "db", f"m,host=a,region=r1 s=\"y\" {T0}")
    got = rows(s, "db")
    assert [(r["host"], r.get("v"), r.get("s"), r.get("n")) for r in got] == [
        ("a", 10.0, "y", 1), ("b", 5.0, None, None), ("a", 2.0, None, None)]
    assert query_rows(s, "db", "SELECT count(*) AS c, sum(v) AS v FROM m") == [{"c": 3, "v": 17.0}]
    assert query_rows(s, "db", "SELECT count(*) AS c FROM m WHERE time = '2023-11-14T22:13:20Z'") == [{"c": 2}]


def test_other_series_and_out_of_order_points_are_not_merged(fresh_server):
    s = fresh_server.start()
    # Backfill written newest first, a series without the region tag, the same time elsewhere.
    write(s, "db", "\n".join(f"m,host=a,region=r1 v={i} {T0 + 100 - i}" for i in range(5)))
    write(s, "db", f"m,host=a v=100 {T0 + 100}\nm,host=a,region=r2 v=200 {T0 + 100}")
    write(s, "db", f"other,host=a,region=r1 v=300 {T0 + 100}")
    got = rows(s, "db")
    assert len(got) == 7
    assert sorted(r["v"] for r in got if r["time"] == "2023-11-14T22:15:00") == [0.0, 100.0, 200.0]
    assert len(rows(s, "db", "other")) == 1


def merges_at_read_time(server, db, table):
    plan = query_rows(server, db, f'EXPLAIN SELECT * FROM "{table}"')
    return "arg_max" in str(plan)


def test_a_backfill_from_concurrent_clients_in_any_order_is_read_without_merging(fresh_server):
    s = fresh_server.start()
    batches = ["\n".join(f"m,host=h{h},region=r{h % 3} v={b * 100 + i} {T0 + (b * 50 + i) * 10}"
                         for i in range(50) for h in range(20)) for b in range(12)]
    order = list(range(len(batches)))
    random.Random(7).shuffle(order)

    def client(mine):
        for b in mine:
            r = write_lp(s, "db", batches[b], precision="s")
            assert r.status_code == 204, r.text
    threads = [threading.Thread(target=client, args=(order[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert query_rows(s, "db", "SELECT count(*) AS c FROM m") == [{"c": 12 * 50 * 20}]
    assert not merges_at_read_time(s, "db", "m")
    # A retried batch: now the view merges (only that batch's times), and nothing is counted twice.
    write(s, "db", batches[order[0]])
    assert merges_at_read_time(s, "db", "m")
    assert query_rows(s, "db", "SELECT count(*) AS c FROM m") == [{"c": 12 * 50 * 20}]


def test_repeats_are_merged_across_snapshots_compaction_and_restarts(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS + ["--compaction-min-files", "3"]).start()
    try:
        def batch(b, scale):
            return "\n".join(f"m,host=h{i},region=r{b % 2} v={scale * (b * 10 + i)},first={scale}i {T0 + b * 70 + i}"
                             for i in range(3))
        for b in range(6):
            write(s, "db", batch(b, 1))
        expected = {(r["host"], r["time"]): r for r in rows(s, "db")}
        assert len(expected) == 18
        wait_for(lambda: parquet_files(s, "db"), timeout=20)
        # A client retries its batches 0-2 (now in Parquet files) with new values, v only.
        for b in range(3):
            write(s, "db", "\n".join(f"m,host=h{i},region=r{b % 2} v={-(b * 10 + i)} {T0 + b * 70 + i}"
                                     for i in range(3)))
            for i in range(3):
                key = (f"h{i}", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + b * 70 + i)))
                expected[key] = {**expected[key], "v": float(-(b * 10 + i))}
        want = sorted(expected.values(), key=lambda r: (r["time"], r["host"]))

        def current():
            return rows(s, "db")
        assert current() == want
        # More writes push the repeats into Parquet files too; compaction merges the day.
        for b in range(6, 12):
            write(s, "db", batch(b, 1))
        for b in range(6, 12):
            for r in rows(s, "db"):
                if r["time"] >= "2023-11-14T22:20:20":
                    expected[(r["host"], r["time"])] = r
        want = sorted(expected.values(), key=lambda r: (r["time"], r["host"]))
        assert current() == want
        merged = wait_for(lambda: [f for f in parquet_files(s, "db") if "/00-00/c" in f["path"]], timeout=30)
        assert merged, (parquet_files(s, "db"), s.log())
        assert current() == want
        # The compacted file holds each point once.
        assert query_rows(s, "db", "SELECT count(*) AS c FROM m") == [{"c": 36}]
        s.kill9()
        s.start()
        assert current() == want
        # After the restart the series' history is not in memory: a repeat of a persisted point
        # is still merged.
        write(s, "db", f"m,host=h0,region=r0 v=999 {T0}")
        point = [r for r in current() if r["host"] == "h0" and r["time"] == "2023-11-14T22:13:20"]
        assert [(p["v"], p["first"]) for p in point] == [(999.0, 1)]
        assert len(current()) == 36
        s.restart()
        assert [r["v"] for r in current() if r["host"] == "h0" and r["time"] == "2023-11-14T22:13:20"] == [999.0]
        assert "snapshot failed" not in s.log() and "compaction failed" not in s.log()
    finally:
        s.kill9()


def test_a_snapshot_writes_each_repeated_point_once(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        # Repeats within the rows of one snapshot, next to a table without any.
        write(s, "db", f"m,host=a,region=r a=1,b=10 {T0}\nplain,host=a v=1 {T0}")
        write(s, "db", f"m,region=r,host=a a=2 {T0}\nm,host=a,region=r a=3 {T0 + 1}")
        write(s, "db", f"m,host=a,region=r a=4 {T0 + 1}\nplain,host=a v=2 {T0 + 1}")
        files = wait_for(lambda: query_rows(s, "db", "SELECT table_name, row_count FROM system.parquet_files "
                                                     "ORDER BY table_name"), timeout=20)
        assert files == [{"table_name": "m", "row_count": 2}, {"table_name": "plain", "row_count": 2}], s.log()
        assert "snapshot failed" not in s.log()
        want = [{"a": 2.0, "b": 10.0}, {"a": 4.0}]
        assert [{k: r[k] for k in ("a", "b") if k in r} for r in rows(s, "db")] == want
        # A repeat of a persisted point, then a restart that replays it over the file.
        write(s, "db", f"m,host=a,region=r b=20 {T0 + 1}")
        want[1]["b"] = 20.0
        assert [{k: r[k] for k in ("a", "b") if k in r} for r in rows(s, "db")] == want
        s.kill9()
        s.start()
        assert [{k: r[k] for k in ("a", "b") if k in r} for r in rows(s, "db")] == want
    finally:
        s.kill9()


def test_a_plugin_rewriting_the_same_summary_point_leaves_one_row(fresh_server):
    s = fresh_server.start()
    put_plugin(s, "summary.py", """
        def process_writes(influxdb3_local, table_batches, args=None):
            for batch in table_batches:
                if batch["table_name"] != "raw":
                    continue
                total = influxdb3_local.query("SELECT count(*) AS c, sum(v) AS v FROM raw")[0]
                line = LineBuilder("summary").tag("source", "raw")
                line.int64_field("count", total["c"]).float64_field("sum", total["v"])
                line.time_ns(0)  # one summary point, rewritten on every write
                influxdb3_local.write(line)
    """)
    write(s, "db", f"raw v=1 {T0}")
    create_trigger(s, "db", "summary", "table:raw", "summary.py")
    for i in range(2, 6):
        write(s, "db", f"raw v={i} {T0 + i}")
    assert wait_for(lambda: query_rows(s, "db", "SELECT \"count\" FROM summary") == [{"count": 5}], timeout=15), \
        query_rows(s, "db", "SELECT * FROM summary")
    assert query_rows(s, "db", "SELECT \"sum\", source FROM summary") == [{"sum": 15.0, "source": "raw"}]


def test_compaction_ends_the_merging_of_a_closed_day(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS + ["--compaction-min-files", "3"]).start()
    try:
        def batch(b, value):
            return "\n".join(f"m,host=h{i},region=r v={value},b={b}i {T0 + b * 70 + i}" for i in range(3))
        # Nine writes of one (long closed) day, one WAL file each: three snapshots (of three
        # flush periods each) persist them all, and no row of the day is left in the buffer.
        for b in range(9):
            body = batch(b, b)
            if b == 5:  # with a retry of the first write's points: merged until compacted
                body += "\n" + batch(0, 100)
            write(s, "db", body)
        merged = wait_for(lambda: [f for f in parquet_files(s, "db") if "/00-00/c" in f["path"]], timeout=30)
        assert merged, (parquet_files(s, "db"), s.log())
        assert wait_for(lambda: not merges_at_read_time(s, "db", "m"), timeout=10), s.log()
        got = query_rows(s, "db", "SELECT b, v FROM m ORDER BY time, host")
        assert len(got) == 27 and [r["v"] for r in got[:3]] == [100.0] * 3
        # One file, each point once (its row count is after merging: 30 rows were written).
        assert [(f["path"].split("/")[-2], f["row_count"]) for f in parquet_files(s, "db")] == [("00-00", 27)]
        # The series still remember the day: a new repeat is merged again.
        write(s, "db", batch(1, 200))
        assert merges_at_read_time(s, "db", "m")
        got = query_rows(s, "db", "SELECT b, v FROM m ORDER BY time, host")
        assert len(got) == 27 and [r["v"] for r in got[3:6]] == [200.0] * 3
        s.kill9()
        s.start()
        assert query_rows(s, "db", "SELECT b, v FROM m ORDER BY time, host") == got
    finally:
        s.kill9()


def test_after_a_restart_a_check_of_the_rows_ends_the_merging_where_no_point_repeats(tmp_path):
    """A restart does not know which series a Parquet file holds, so every replayed point within
    a file's time span is flagged as a possible repeat, and queries merged those spans (after a
    backfill: all of them, lastpoint 25x slower) until compaction. A check of the rows clears the
    spans where no point repeats and keeps those where one does. (Compaction, which also ends the
    merging of what it merged, is off here.)"""
    s = Server(tmp_path, SNAPSHOT_ARGS + ["--compaction-min-files", "1000"]).start()
    try:
        # Even seconds first, persisted; then the odd seconds in between (new points, which the
        # series' span flags) and, in table r, a rewrite of a persisted point.
        for table in ("m", "r"):
            for half in (range(0, 30, 2), range(30, 60, 2)):
                write(s, "db", "\n".join(f"{table},host=h{h} v={t} {T0 + t}" for t in half for h in range(3)))
        persisted = "SELECT table_name, sum(row_count)::BIGINT AS n FROM system.parquet_files GROUP BY 1 ORDER BY 1"
        want = [{"table_name": "m", "n": 90}, {"table_name": "r", "n": 90}]

        def persisted_all():  # writes to another table make the next snapshot due
            write(s, "db", f"nudge v=1 {T0}")
            return [r for r in query_rows(s, "db", persisted) if r["table_name"] != "nudge"] == want
        assert wait_for(persisted_all, timeout=20), s.log()
        write(s, "db", "\n".join(f"m,host=h{h} v={t} {T0 + t}" for t in range(1, 60, 2) for h in range(3)))
        write(s, "db", f"r,host=h1 v=-1 {T0 + 30}")
        assert merges_at_read_time(s, "db", "m") and merges_at_read_time(s, "db", "r")
        s.kill9()
        s.start()
        checked = wait_for(lambda: "table 'm' may hold repeated points" in s.log()
                           and "table 'r' may hold repeated points" in s.log(), timeout=20)
        assert checked, s.log()
        assert "table 'm' may hold repeated points in " in s.log() and "which queries no longer merge; 0 remain" in s.log()
        assert "table 'r' may hold repeated points" in s.log() and "; 1 remain" in s.log()
        assert not merges_at_read_time(s, "db", "m")
        assert merges_at_read_time(s, "db", "r"), s.log()
        assert query_rows(s, "db", "SELECT count(*) AS c, count(DISTINCT time) AS t FROM m") == [{"c": 180, "t": 60}]
        assert query_rows(s, "db", "SELECT count(*) AS c FROM r") == [{"c": 90}]
        assert query_rows(s, "db", "SELECT host, v FROM r WHERE time = '2023-11-14T22:13:50Z' ORDER BY host") == [
            {"host": "h0", "v": 30.0}, {"host": "h1", "v": -1.0}, {"host": "h2", "v": 30.0}]
        # A repeat written after the check is merged again.
        write(s, "db", f"m,host=h2 v=-2 {T0 + 7}")
        assert merges_at_read_time(s, "db", "m")
        assert query_rows(s, "db", "SELECT count(*) AS c FROM m") == [{"c": 180}]
        assert query_rows(s, "db", "SELECT v FROM m WHERE host = 'h2' AND time = '2023-11-14T22:13:27Z'") == [
            {"v": -2.0}]
        assert "failed" not in s.log()
    finally:
        s.kill9()
