"""The newest row of each series in SQL: `SELECT DISTINCT ON (keys) ... ORDER BY keys, time DESC`
runs over only the rows at each key's newest time (query/last_point.h). On a real server with
rows in Parquet files and in the buffer, a point rewritten across them, series without a tag,
and ties at the newest time, every form must answer exactly as the same statement over a
subquery of the table (which is not rewritten)."""
import time

import pytest

from conftest import Server, query, query_rows, wait_for, write_lp

T0 = 1_700_000_000  # 2023-11-14, seconds


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("last_point"),
               ["--wal-snapshot-size", "2", "--gen1-duration", "1m"]).start()
    batches = [
        # room a: two floors, their newest points at the same time (a tie broken by ORDER BY)
        "\n".join(f"home,room=a,floor={f} temp={20 + i + f},hum={40 + i}i {T0 + 60 * i}"
                  for i in range(10) for f in (1, 2)),
        # room b: no floor tag on its newest point; room c only old points; no room at all
        "\n".join([f"home,room=b,floor=1 temp={30 + i} {T0 + 60 * i}" for i in range(5)] +
                  [f"home,room=b temp=99 {T0 + 3000}", f"home,room=c,floor=3 temp=5 {T0 - 600}",
                   f"home,floor=9 temp=7 {T0 + 120}", f"home,floor=8 temp=8 {T0 + 60}"]),
        # newer points of room a that a WHERE on temp leaves out
        "\n".join(f"home,room=a,floor=1 temp={100 + i} {T0 + 5000 + i}" for i in range(3)),
        # room b's newest point written again (merged with the first, hum added)
        f"home,room=b hum=77i {T0 + 3000}",
    ]
    for body in batches:
        r = write_lp(s, "db", body, precision="s")
        assert r.status_code == 204, r.text
        time.sleep(0.15)  # one WAL file per write
    assert wait_for(lambda: query_rows(s, "db", "SELECT count(*) AS n FROM system.parquet_files")[0]["n"] > 0,
                    timeout=20)
    yield s
    s.kill9()


FORMS = {
    "every column": ("SELECT DISTINCT ON (room) * FROM {t} ORDER BY room, time DESC, floor", None),
    "two keys": ("SELECT DISTINCT ON (room, floor) * FROM {t} ORDER BY floor DESC, room, time DESC", None),
    "where leaves the newest out": (
        "SELECT DISTINCT ON (room) room, floor, temp, time FROM {t} WHERE temp < 100 "
        "ORDER BY room, time DESC, floor", None),
    "alias, cast, limit": (
        "SELECT DISTINCT ON (h.room) h.room, h.temp::VARCHAR AS t, h.time FROM {t} h "
        "WHERE h.time >= '2023-11-14T22:14:00Z' ORDER BY h.room NULLS FIRST, h.time DESC, h.floor LIMIT 3",
        None),
    "parameter": ("SELECT DISTINCT ON (room) * FROM {t} WHERE temp > $min ORDER BY room, time DESC, floor",
                  {"min": 25.5}),
}


@pytest.mark.parametrize("name", FORMS)
def test_each_form_answers_as_written(loaded, name):
    sql, params = FORMS[name]
    rewritten = query(loaded, "db", sql.format(t="home"), params=params)
    subquery = "(SELECT * FROM home)" + ("" if "{t} h " in sql else " AS home")
    as_written = query(loaded, "db", sql.format(t=subquery), params=params)
    assert rewritten.status_code == 200, rewritten.text
    assert as_written.status_code == 200, as_written.text
    assert rewritten.json() == as_written.json()
    assert rewritten.json()


def test_the_rows_are_the_newest_with_merged_repeats(loaded):
    got = query_rows(loaded, "db", "SELECT DISTINCT ON (room) room, floor, temp, hum, time FROM home "
                                   "ORDER BY room, time DESC, floor")
    assert [(r.get("room"), r.get("floor"), r.get("temp"), r.get("hum")) for r in got] == [
        ("a", "1", 102.0, None), ("b", None, 99.0, 77), ("c", "3", 5.0, None), (None, "9", 7.0, None)]


def test_an_error_in_the_statement_is_reported_as_before(loaded):
    r = query(loaded, "db", "SELECT DISTINCT ON (room) * FROM home WHERE nope > 1 ORDER BY room, time DESC")
    assert r.status_code == 400
    assert "nope" in r.json()["error"]
