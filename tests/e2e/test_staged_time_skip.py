"""A query bounded in time skips the buffer's staged chunks (duck/staged_rows.h) whose rows all
fall outside its range, as it skips Parquet files (test_time_pruning.py): the engine puts the
statement's range in a session variable the views' staged scans read. One server holds 12,000
rows of `cpu` in four hours of a day, all staged (about six chunks of 2,048 rows), one point
written twice (so the view merges repeats by arrival position) and 60 rows of the last minute.
Every bounded query must answer exactly as the same query whose bound the engine cannot read
(`OR false`), and read fewer staged rows, as DuckDB's EXPLAIN ANALYZE counts them; the next
query on the connection must see every row again."""
import re
import time
from datetime import datetime, timezone

import pytest
import requests

from conftest import Server, bounded_sql, query, query_rows, unreadable_sql, write_lp

BASE = 1_600_000_000 - 1_600_000_000 % 86_400  # 2020-09-13T00:00:00Z
PER_HOUR = 3_000
REWRITTEN_N = 1_000_000
REWRITTEN_AT = BASE + 3600 + 7  # second 7 of hour 1


def iso(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("staged-skip")).start()
    for h in range(4):  # one write per hour: each fills the open chunk and then new ones
        body = "\n".join(f"cpu,host=h{i % 4} n={h * PER_HOUR + i}i {(BASE + h * 3600 + i) * 10**9}"
                         for i in range(PER_HOUR))
        assert write_lp(s, "db", body).status_code == 204
    now = int(time.time())
    body = "\n".join(f"cpu,host=h{i % 4} n={-1 - i}i,extra=1i {(now - i) * 10**9}" for i in range(60))
    assert write_lp(s, "db", body).status_code == 204
    r = write_lp(s, "db", f"cpu,host=h{7 % 4} n={REWRITTEN_N}i {REWRITTEN_AT * 10**9}")
    assert r.status_code == 204, r.text
    yield s
    s.kill9()


def staged_rows_read(server, sql):
    """The rows DuckDB's EXPLAIN ANALYZE counts out of every RIFFLE_STAGED scan of `sql`,
    after one run first (literal bounds narrow from a statement text's second run)."""
    for _ in range(2):
        r = query(server, "db", "EXPLAIN ANALYZE " + sql)
        assert r.status_code == 200, r.text
    plan = next(v for row in r.json() for v in row.values() if "Total Time" in str(v))
    lines = plan.splitlines()
    total = scans = 0
    for i, line in enumerate(lines):
        for m in re.finditer("RIFFLE_STAGED", line):
            scans += 1
            # The scan's box: 29 columns, its name centred; the row count further down in it.
            left, right = m.start() - 8, m.start() + 21
            for below in lines[i + 1:]:
                cell = below[left:right]
                found = re.search(r"([\d,]+) rows", cell)
                if found:
                    total += int(found.group(1).replace(",", ""))
                    break
                assert "└" not in cell, f"no row count in the box of RIFFLE_STAGED:\n{plan}"
    assert scans, f"no staged scan in the plan:\n{plan}"
    return total


ONE_HOUR = f"time >= '{iso(BASE + 3600)}' AND time < '{iso(BASE + 7200)}'"
COUNT = "SELECT count(*) AS c, sum(n) AS s, count(extra) AS e FROM cpu"
# name: (statement up to WHERE, the condition, what follows it)
BOUNDED = {
    "strings": (COUNT, ONE_HOUR, ""),
    "between timestamps": (COUNT, f"time BETWEEN TIMESTAMP '{iso(BASE + 7200)}' AND TIMESTAMP '{iso(BASE + 7500)}'", ""),
    "column on the right": (COUNT, f"'{iso(BASE + 3 * 3600)}' <= time AND host <> 'h0'", ""),
    "the rewritten point": ("SELECT host, n FROM cpu", f"time = '{iso(REWRITTEN_AT)}'", ""),
    "grouped": ("SELECT date_bin(INTERVAL '10 minutes', time) AS t, count(*) AS c, max(n) AS m FROM cpu", ONE_HOUR,
                " GROUP BY 1 ORDER BY 1"),
    "the last minute": (COUNT, f"time > '{iso(int(time.time()) - 3600)}'", ""),
    "nothing": (COUNT, f"time < '{iso(BASE - 86_400)}'", ""),
}
BOUNDED_SQL = {name: bounded_sql(parts) for name, parts in BOUNDED.items()}
UNREADABLE_SQL = {name: unreadable_sql(parts) for name, parts in BOUNDED.items()}


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_a_bounded_query_answers_as_every_staged_row_does(loaded, name):
    for _ in range(2):  # the first run of a text and the narrowed ones
        assert query_rows(loaded, "db", BOUNDED_SQL[name]) == query_rows(loaded, "db", UNREADABLE_SQL[name]), BOUNDED_SQL[name]
    narrowed, whole = staged_rows_read(loaded, BOUNDED_SQL[name]), staged_rows_read(loaded, UNREADABLE_SQL[name])
    assert whole >= 4 * PER_HOUR + 60, whole
    assert narrowed < whole / 2, (BOUNDED_SQL[name], narrowed, whole)


def test_what_the_narrowed_queries_saw(loaded):
    n_hour_1 = sum(range(PER_HOUR, 2 * PER_HOUR)) - (PER_HOUR + 7) + REWRITTEN_N
    for _ in range(2):
        assert query_rows(loaded, "db", BOUNDED_SQL["strings"]) == [{"c": PER_HOUR, "s": n_hour_1, "e": 0}]
        assert query_rows(loaded, "db", BOUNDED_SQL["the rewritten point"]) == [{"host": "h3", "n": REWRITTEN_N}]
        assert query_rows(loaded, "db", BOUNDED_SQL["the last minute"]) == [{"c": 60, "s": -sum(range(1, 61)), "e": 60}]
        assert query_rows(loaded, "db", BOUNDED_SQL["nothing"]) == [{"c": 0, "e": 0}]  # JSON leaves out NULLs


def test_the_next_query_on_the_connection_sees_every_staged_row_again(loaded):
    everything = [{"c": 4 * PER_HOUR + 60, "e": 60}]
    for name in ("the rewritten point", "nothing", "strings"):
        for _ in range(3):
            assert query_rows(loaded, "db", BOUNDED_SQL[name]) == query_rows(loaded, "db", UNREADABLE_SQL[name])
            assert query_rows(loaded, "db", "SELECT count(*) AS c, count(extra) AS e FROM cpu") == everything
            assert query_rows(loaded, "db", "SELECT max(n) AS m FROM cpu WHERE host = 'h3'") == [{"m": REWRITTEN_N}]


def test_influxql_time_ranges_skip_staged_rows_too(loaded):
    q = f"SELECT count(n) FROM cpu WHERE time >= '{iso(BASE + 3600)}' AND time < '{iso(BASE + 7200)}'"
    for _ in range(3):
        got = requests.get(loaded.url + "/query", params={"db": "db", "q": q}, timeout=30)
        assert got.status_code == 200, got.text
        assert got.json()["results"][0]["series"][0]["values"][0][1] == PER_HOUR, got.text
