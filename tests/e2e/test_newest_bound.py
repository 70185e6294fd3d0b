"""The newest row of each key over a whole table (`SELECT DISTINCT ON (keys) ... ORDER BY keys,
time DESC`, no WHERE) reads only the Parquet files and staged rows that reach every key's newest
time, once the server has found that time (buffer/newest_times.h). On a real server with rows in
files and in the buffer, every answer must be the one of the same statement over a subquery (which
is never narrowed) after each way rows come and go: a new key backfilled at an old time, a row
delete of a key's newest rows, older rows of a known key, a restart. And the narrowing must be
real: with the files older than the bound removed from the store behind the server's back, the
statement still answers, and so does InfluxQL's last point of each series, while a count(*) of
the table fails."""
from datetime import datetime, timezone

import requests

from conftest import OBJECT_STORE, Server, delete_object, query, query_rows, wait_for, write_lp

BASE = 1_600_000_000 - 1_600_000_000 % 86_400  # 2020-09-13T00:00:00Z
RECENT = BASE + 10 * 3600
LAST_POINT = "SELECT DISTINCT ON (host) host, n, time FROM cpu ORDER BY host, time DESC"
NOT_NARROWED = "SELECT DISTINCT ON (host) host, n, time FROM (SELECT * FROM cpu) AS cpu ORDER BY host, time DESC"


def iso(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def files(s):
    return query_rows(s, "db", "SELECT path, min_time, max_time FROM system.parquet_files ORDER BY path")


def loaded(tmp_path, env=None):
    """Three old hours of 4 hosts, then recent rows of them: 8 minutes each, a file a minute."""
    # On S3 the local cache keeps a file only while a query reads it: a query that pins a file
    # it does not need fails on a removed one.
    cache = ["--disable-parquet-mem-cache"] if OBJECT_STORE == "s3" else []
    s = Server(tmp_path, ["--force-snapshot-rows", "1", "--gen1-duration", "1m",
                          "--compaction-min-files", "100000"] + cache, env=env).start()
    expected = 0
    for start in (BASE, BASE + 3600, BASE + 7200, RECENT):
        body = "\n".join(f"cpu,host=h{i % 4} n={start // 60 + i}i {start + i * 60}" for i in range(8))
        assert write_lp(s, "db", body, precision="s").status_code == 204
        expected += 8
        assert wait_for(lambda: len(files(s)) == expected, timeout=20), files(s)
    return s


def newest_rows(s):
    got = query_rows(s, "db", LAST_POINT)
    assert got == query_rows(s, "db", NOT_NARROWED)
    return got


def test_answers_stay_exact_as_rows_come_and_go(tmp_path):
    s = loaded(tmp_path)
    try:
        first = newest_rows(s)  # finds the bound
        assert [r["host"] for r in first] == ["h0", "h1", "h2", "h3"]
        assert newest_rows(s) == first  # narrowed by it
        # A new key at an old time: in the buffer, older than the bound.
        assert write_lp(s, "db", f"cpu,host=h9 n=9i {BASE + 3 * 3600}", precision="s").status_code == 204
        got = newest_rows(s)
        assert [(r["host"], r["n"]) for r in got][-1] == ("h9", 9)
        # It reaches a file too.
        assert wait_for(lambda: len(files(s)) == 33, timeout=20), files(s)
        assert newest_rows(s) == got
        # A row delete takes h0's recent rows: its newest row is now an old one.
        out = s.cli("delete", "rows", "-d", "db", "-y", "-t", "cpu", "--min-time", iso(RECENT),
                    "--max-time", iso(RECENT + 3600), "-p", 'host = "h0"')
        assert "Deleted 2 rows" in out.stdout, out.stdout
        got = newest_rows(s)
        assert got[0]["host"] == "h0" and got[0]["time"] < iso(RECENT).rstrip("Z"), got
        # Older rows of a known key change nothing.
        assert write_lp(s, "db", f"cpu,host=h1 n=555i {BASE + 60}", precision="s").status_code == 204
        assert newest_rows(s) == got
        s.stop()
        s.start()
        assert newest_rows(s) == got
        assert newest_rows(s) == got
    finally:
        s.kill9()


def test_files_before_the_bound_are_not_read(tmp_path):
    s = loaded(tmp_path)
    try:
        expected = newest_rows(s)
        assert newest_rows(s) == expected
        old = [f for f in files(s) if f["max_time"] < RECENT * 10**9]
        assert len(old) == 24, files(s)
        for f in old:
            delete_object(s, f["path"])
        assert query_rows(s, "db", LAST_POINT) == expected
        # InfluxQL's last point of each series is translated to the same statement.
        r = requests.get(s.url + "/query", params={
            "db": "db", "q": 'SELECT n FROM cpu GROUP BY "host" ORDER BY time DESC LIMIT 1'}, timeout=30)
        assert r.status_code == 200 and "error" not in r.json()["results"][0], r.text
        assert {x["tags"]["host"]: x["values"][0][1] for x in r.json()["results"][0]["series"]} == {
            row["host"]: row["n"] for row in expected}
        whole = query(s, "db", "SELECT count(*) AS n FROM cpu")
        assert whole.status_code != 200, whole.text  # it needs the removed files
    finally:
        s.kill9()


def test_a_run_during_which_the_bound_moved_reads_every_row(tmp_path):
    """RIFFLE_FAULT=newest_bound_moves lowers the bound by 1 ns as each narrowed run binds, as an
    append of older rows committed meanwhile would: the run is repeated over every file, removed
    ones too (the lowered bound alone still reaches only the recent files)."""
    s = loaded(tmp_path, env={"RIFFLE_FAULT": "newest_bound_moves"})
    try:
        expected = newest_rows(s)
        assert newest_rows(s) == expected
        for f in files(s):
            if f["max_time"] < RECENT * 10**9:
                delete_object(s, f["path"])
        r = query(s, "db", LAST_POINT)
        assert r.status_code != 200, r.text
    finally:
        s.kill9()


def test_lower_bounds_on_time_keep_the_narrowing(tmp_path):
    """A WHERE of only lower bounds on time keeps or leaves out each key's newest row with all its
    older ones, so the bound still applies, within the statement's own range; an upper bound
    could keep an older row instead, and reads every file."""
    s = loaded(tmp_path)

    def last_point(where, table="cpu"):
        return (f"SELECT DISTINCT ON (host) host, n, time FROM {table} WHERE {where} "
                f"ORDER BY host, time DESC")

    since_base = f"time >= '{iso(BASE)}'"
    since_h2 = f"time > '{iso(RECENT + 5 * 60)}' AND time >= now() - INTERVAL '100000 days'"
    try:
        expected = newest_rows(s)  # finds the bound
        for where in (since_base, since_h2):
            assert query_rows(s, "db", last_point(where)) == query_rows(
                s, "db", last_point(where, "(SELECT * FROM cpu) AS cpu")), where
        for f in files(s):
            if f["max_time"] < RECENT * 10**9:
                delete_object(s, f["path"])
        assert query_rows(s, "db", last_point(since_base)) == expected
        # h0 and h1 wrote nothing after the bound: they are not in the answer.
        assert query_rows(s, "db", last_point(since_h2)) == [r for r in expected if r["host"] in ("h2", "h3")]
        r = requests.get(s.url + "/query", params={
            "db": "db", "q": f"SELECT n FROM cpu WHERE time >= '{iso(BASE)}' GROUP BY \"host\" "
                             f"ORDER BY time DESC LIMIT 1"}, timeout=30)
        assert r.status_code == 200 and "error" not in r.json()["results"][0], r.text
        assert {x["tags"]["host"]: x["values"][0][1] for x in r.json()["results"][0]["series"]} == {
            row["host"]: row["n"] for row in expected}
        upper = query(s, "db", last_point(f"time < '{iso(RECENT + 3600)}'"))
        assert upper.status_code != 200, upper.text  # it needs the removed files
    finally:
        s.kill9()


def test_conditions_on_tags_have_their_own_bound(tmp_path):
    """Conditions on tags make the bound one of the rows they keep, found with them and known by
    them: another statement's conditions (or none) never use it. A key whose newest row the
    conditions leave out answers with an older one, which the bound must reach. Conditions on a
    field (a repeated point may change it) read every row."""
    s = loaded(tmp_path)

    def last_point(where, table="cpu"):
        return (f"SELECT DISTINCT ON (host) host, n, time FROM {table} WHERE {where} "
                f"ORDER BY host, time DESC")

    def exact(where):
        got = query_rows(s, "db", last_point(where))
        assert got == query_rows(s, "db", last_point(where, "(SELECT * FROM cpu) AS cpu")), where
        return got

    try:
        # h0's rows in rack r1 are old; its newest row is in r2. The others' r1 rows are recent.
        lines = [f"cpu,host=h0,rack=r1 n=1i {BASE + 30}", f"cpu,host=h0,rack=r2 n=2i {RECENT + 600}"]
        lines += [f"cpu,host=h{i},rack=r1 n={10 + i}i {RECENT + 600 + i}" for i in (1, 2, 3)]
        assert write_lp(s, "db", "\n".join(lines), precision="s").status_code == 204
        in_r1 = "rack = 'r1'"
        late = "host IN ('h2', 'h3')"
        assert [r["host"] for r in exact(late)] == ["h2", "h3"]
        assert exact(late) == exact(late)  # narrowed by its own bound
        # The bound of `late` (h2's newest time) is above h0's and h1's newest rows: the other
        # statements must not use it.
        got = exact(in_r1)
        assert [(r["host"], r["n"]) for r in got] == [("h0", 1), ("h1", 11), ("h2", 12), ("h3", 13)]
        assert exact(in_r1) == got
        assert [r["host"] for r in newest_rows(s)] == ["h0", "h1", "h2", "h3"]
        # A backfill into r1 of a new host lowers every bound of the table.
        assert write_lp(s, "db", f"cpu,host=h9,rack=r1 n=9i {BASE + 90}", precision="s").status_code == 204
        assert [r["host"] for r in exact(in_r1)] == ["h0", "h1", "h2", "h3", "h9"]
        assert wait_for(lambda: len(files(s)) == 35, timeout=20), files(s)
        # Found again from the rows it reaches, now that files were published.
        assert [r["host"] for r in exact(late)] == ["h2", "h3"]
        for f in files(s):
            if f["max_time"] < (RECENT + 600) * 10**9:
                delete_object(s, f["path"])
        assert [r["host"] for r in query_rows(s, "db", last_point(late))] == ["h2", "h3"]
        # r1's bound reaches h0's and h9's old rows: their files are gone.
        assert query(s, "db", last_point(in_r1)).status_code != 200
        # A field's condition has no bound: it reads every file.
        assert query(s, "db", last_point(f"{late} AND n > 0")).status_code != 200
    finally:
        s.kill9()


def test_a_field_as_key_has_no_bound(tmp_path):
    """A repeated point takes the later write's fields: rewriting one can take a key's newest row
    away, leaving that key's newest row older than any bound found before. Keys that are fields
    (and conditions on fields) therefore read every row."""
    s = loaded(tmp_path)
    by_value = "SELECT DISTINCT ON (v) v, host, time FROM mem ORDER BY v, time DESC"
    not_narrowed = "SELECT DISTINCT ON (v) v, host, time FROM (SELECT * FROM mem) AS mem ORDER BY v, time DESC"
    try:
        body = f"mem,host=a v=5i {BASE + 60}\nmem,host=a v=5i {RECENT + 60}\nmem,host=b v=6i {RECENT + 120}"
        assert write_lp(s, "db", body, precision="s").status_code == 204
        for _ in range(2):
            assert [(r["v"], r["host"]) for r in query_rows(s, "db", by_value)] == [(5, "a"), (6, "b")]
        # a's recent point again, now with v=6: key 5's newest row is its old one.
        assert write_lp(s, "db", f"mem,host=a v=6i {RECENT + 60}", precision="s").status_code == 204
        for _ in range(2):
            got = query_rows(s, "db", by_value)
            assert got == query_rows(s, "db", not_narrowed)
            assert [(r["v"], r["time"]) for r in got] == [(5, iso(BASE + 60).rstrip("Z")), (6, iso(RECENT + 120).rstrip("Z"))]
    finally:
        s.kill9()
