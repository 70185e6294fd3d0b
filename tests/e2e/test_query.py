"""Queries: /api/v3/query_sql formats, InfluxDB SQL surface, parameters, errors, lock-down
(COMPAT §6.2, §8.3)."""
import datetime as dt
import json

import pytest
import requests

from conftest import query, query_rows, unique_db, write_lp

# Six rows, 30 s apart from 2023-11-14T22:13:20Z, two hosts; every field type.
ROWS = 6
BASE = 1700000000


@pytest.fixture(scope="module")
def cpu_db(server):
    db = unique_db("q")
    lines = [f'cpu,host=h{i % 2},region=r usage={i}.5,count={i}i,u={i}u,ok={"true" if i % 2 else "false"},'
             f'note="n{i}" {BASE + i * 30}' for i in range(ROWS)]
    lines.append("sparse,a=x v=1 1")
    lines.append("sparse w=2 2")
    r = write_lp(server, db, "\n".join(lines), precision="s")
    assert r.status_code == 204, r.text
    return db


def get(server, **params):
    return requests.get(server.url + "/api/v3/query_sql", params=params, timeout=30)


def json_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body


def healthy(server):
    return requests.get(server.url + "/health", timeout=10).status_code == 200


def test_get_and_post(server, cpu_db):
    sql = "SELECT host, usage FROM cpu ORDER BY time LIMIT 2"
    expected = [{"host": "h0", "usage": 0.5}, {"host": "h1", "usage": 1.5}]
    r = get(server, db=cpu_db, q=sql, format="json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == expected
    assert get(server, db=cpu_db, q=sql).json() == expected  # json is the default
    r = requests.post(server.url + "/api/v3/query_sql", json={"db": cpu_db, "q": sql, "format": "json"}, timeout=30)
    assert r.status_code == 200 and r.json() == expected, r.text
    r = requests.post(server.url + "/api/v3/query_sql", json={"db": cpu_db, "q": sql}, timeout=30)
    assert r.status_code == 200 and r.json() == expected, r.text


def test_json_is_compact_omits_nulls_and_is_empty_array(server, cpu_db):
    r = query(server, cpu_db, "SELECT * FROM sparse ORDER BY time")
    assert r.status_code == 200, r.text
    assert r.text.strip() == '[{"a":"x","time":"1970-01-01T00:00:01","v":1.0},{"time":"1970-01-01T00:00:02","w":2.0}]'
    r = query(server, cpu_db, "SELECT * FROM cpu WHERE usage > 1000")
    assert r.status_code == 200 and r.text.strip() == "[]", r.text


def test_jsonl(server, cpu_db):
    r = query(server, cpu_db, "SELECT * FROM sparse ORDER BY time", fmt="jsonl")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/jsonl")
    lines = [line for line in r.text.split("\n") if line]
    assert [json.loads(line) for line in lines] == [{"a": "x", "time": "1970-01-01T00:00:01", "v": 1.0},
                                                    {"time": "1970-01-01T00:00:02", "w": 2.0}]
    assert query(server, cpu_db, "SELECT * FROM cpu WHERE usage > 1000", fmt="jsonl").text.strip() == ""


def test_csv(server, cpu_db):
    r = query(server, cpu_db, "SELECT host, time, usage FROM cpu ORDER BY time LIMIT 2", fmt="csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.text.splitlines() == ["host,time,usage", "h0,2023-11-14T22:13:20,0.5", "h1,2023-11-14T22:13:50,1.5"]
    r = query(server, cpu_db, "SELECT a, v, w FROM sparse ORDER BY time", fmt="csv")
    assert r.text.splitlines() == ["a,v,w", "x,1.0,", ",,2.0"]


def test_pretty(server, cpu_db):
    r = query(server, cpu_db, "SELECT host, usage FROM cpu ORDER BY time LIMIT 2", fmt="pretty")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("+-") and lines[-1].startswith("+-"), r.text
    assert all(line[0] in "+|" and line[-1] in "+|" for line in lines), r.text
    assert len({len(line) for line in lines}) == 1, r.text  # a proper box
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("|")]
    assert cells == [["host", "usage"], ["h0", "0.5"], ["h1", "1.5"]]


def test_parquet(server, cpu_db):
    r = query(server, cpu_db, "SELECT host, usage FROM cpu ORDER BY time", fmt="parquet")
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"].startswith("application/vnd.apache.parquet")
    assert r.content[:4] == b"PAR1" and r.content[-4:] == b"PAR1"
    try:
        import io

        import pyarrow.parquet as pq
    except ImportError:
        return
    table = pq.read_table(io.BytesIO(r.content))
    assert table.column("usage").to_pylist() == [i + 0.5 for i in range(ROWS)]


@pytest.mark.parametrize("accept,content_type", [
    ("application/json", "application/json"), ("*/*", "application/json"),
    ("text/html,application/xhtml+xml,*/*;q=0.8", "application/json"),
    ("text/csv", "text/csv"), ("text/plain", "text/plain"),
    ("application/vnd.apache.parquet", "application/vnd.apache.parquet"),
])
def test_format_from_accept_header(server, cpu_db, accept, content_type):
    r = requests.get(server.url + "/api/v3/query_sql", params={"db": cpu_db, "q": "SELECT 1 AS one"},
                     headers={"Accept": accept}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith(content_type)


def test_bad_format_and_accept(server, cpu_db):
    json_error(query(server, cpu_db, "SELECT 1", fmt="xml"), 400)
    r = requests.get(server.url + "/api/v3/query_sql", params={"db": cpu_db, "q": "SELECT 1"},
                     headers={"Accept": "application/xml"}, timeout=30)
    json_error(r, 400)


def test_select_star_sorts_columns_by_name(server, cpu_db):
    expected = ["count", "host", "note", "ok", "region", "time", "u", "usage"]
    r = query(server, cpu_db, "SELECT * FROM cpu ORDER BY time LIMIT 1")
    assert r.status_code == 200, r.text
    row = json.loads(r.text)[0]  # dicts keep the server's key order
    assert list(row.keys()) == expected
    assert row == {"count": 0, "host": "h0", "note": "n0", "ok": False, "region": "r",
                   "time": "2023-11-14T22:13:20", "u": 0, "usage": 0.5}
    r = query(server, cpu_db, "SELECT * FROM cpu ORDER BY time LIMIT 1", fmt="csv")
    assert r.text.splitlines()[0] == ",".join(expected)


def test_now(server, cpu_db):
    before = dt.datetime.now(dt.timezone.utc)
    [row] = query_rows(server, cpu_db, "SELECT now() AS n")
    after = dt.datetime.now(dt.timezone.utc)
    head = row["n"].partition(".")[0]
    n = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    slack = dt.timedelta(seconds=30)
    assert before - slack <= n <= after + slack, (row, before, after)


def test_time_window_relative_to_now(server):
    db = unique_db("window")
    assert write_lp(server, db, "recent,when=old v=1 1", precision="s").status_code == 204
    assert write_lp(server, db, "recent,when=now v=2").status_code == 204
    rows = query_rows(server, db, "SELECT \"when\" FROM recent WHERE time > now() - INTERVAL '1 hour'")
    assert rows == [{"when": "now"}]
    rows = query_rows(server, db, "SELECT \"when\" FROM recent WHERE time < now() - INTERVAL '1 day'")
    assert rows == [{"when": "old"}]


def test_date_bin_grouping(server, cpu_db):
    rows = query_rows(server, cpu_db, "SELECT date_bin(INTERVAL '1 minute', time) AS minute, count(*) AS n, "
                                      "avg(usage) AS u FROM cpu GROUP BY 1 ORDER BY 1")
    assert rows == [{"minute": "2023-11-14T22:13:00", "n": 2, "u": 1.0},
                    {"minute": "2023-11-14T22:14:00", "n": 2, "u": 3.0},
                    {"minute": "2023-11-14T22:15:00", "n": 2, "u": 5.0}]


def test_time_literals_and_aggregates(server, cpu_db):
    rows = query_rows(server, cpu_db, "SELECT host, count(*) AS n, sum(count) AS c, max(usage) AS m FROM cpu "
                                      "WHERE time >= '2023-11-14T22:14:00Z' GROUP BY host ORDER BY host")
    assert rows == [{"host": "h0", "n": 2, "c": 6, "m": 4.5}, {"host": "h1", "n": 2, "c": 8, "m": 5.5}]


def test_show_tables(server, cpu_db):
    rows = query_rows(server, cpu_db, "SHOW TABLES")
    names = {row["table_name"] for row in rows if row.get("table_schema") == "iox"}
    assert names == {"cpu", "sparse"}, rows


def test_information_schema_types(server, cpu_db):
    rows = query_rows(server, cpu_db, "SELECT column_name, data_type FROM information_schema.columns "
                                      "WHERE table_name = 'cpu'")
    assert {row["column_name"]: row["data_type"] for row in rows} == {
        "count": "Int64", "host": "Dictionary(Int32, Utf8)", "note": "Utf8", "ok": "Boolean",
        "region": "Dictionary(Int32, Utf8)", "time": "Timestamp(Nanosecond, None)", "u": "UInt64",
        "usage": "Float64"}


def test_params_over_get_and_post(server, cpu_db):
    sql = "SELECT count(*) AS n FROM cpu WHERE host = $host AND count >= $min"
    r = get(server, db=cpu_db, q=sql, params=json.dumps({"host": "h1", "min": 3}))
    assert r.status_code == 200 and r.json() == [{"n": 2}], r.text
    assert query_rows(server, cpu_db, sql, params={"host": "h0", "min": 0}) == [{"n": 3}]
    rows = query_rows(server, cpu_db, "SELECT $s AS s, $i AS i, $f AS f, $b AS b",
                      params={"s": "text", "i": 42, "f": 2.5, "b": True})
    assert rows == [{"s": "text", "i": 42, "f": 2.5, "b": True}]


def test_params_are_values_never_sql(server, cpu_db):
    evil = "h0' OR 1=1 --"
    sql = "SELECT count(*) AS n FROM cpu WHERE host = $host"
    assert query_rows(server, cpu_db, sql, params={"host": evil}) == [{"n": 0}]
    r = get(server, db=cpu_db, q=sql, params=json.dumps({"host": evil}))
    assert r.status_code == 200 and r.json() == [{"n": 0}], r.text
    assert query_rows(server, cpu_db, "SELECT $p AS p", params={"p": evil}) == [{"p": evil}]
    drop = "x'); DROP TABLE cpu; --"
    assert query_rows(server, cpu_db, "SELECT $p AS p", params={"p": drop}) == [{"p": drop}]
    assert query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu") == [{"n": ROWS}]


def test_bad_params(server, cpu_db):
    json_error(get(server, db=cpu_db, q="SELECT $a AS a", params="{not json"), 400)


def test_syntax_error(server, cpu_db):
    json_error(query(server, cpu_db, "SELEC 1"), 400)
    json_error(get(server, db=cpu_db, q="SELECT FROM WHERE"), 400)


def test_unknown_database(server):
    body = json_error(query(server, "no_such_db_anywhere", "SELECT 1"), 404)
    assert "no_such_db_anywhere" in body["error"] or "not found" in body["error"]
    json_error(get(server, db="no_such_db_anywhere", q="SELECT 1"), 404)


def test_unknown_table(server, cpu_db):
    body = json_error(query(server, cpu_db, "SELECT * FROM no_such_table"), 400)
    assert "no_such_table" in body["error"]


def test_missing_parameters(server, cpu_db):
    json_error(get(server, q="SELECT 1"), 400)
    json_error(get(server, db=cpu_db), 400)
    json_error(query(server, cpu_db, ""), 400)


def test_databases_are_isolated(server, cpu_db):
    other = unique_db("iso")
    assert write_lp(server, other, "only_here v=1").status_code == 204
    json_error(query(server, cpu_db, "SELECT * FROM only_here"), 400)
    json_error(query(server, other, "SELECT * FROM cpu"), 400)
    tables = {row["table_name"] for row in query_rows(server, other, "SHOW TABLES") if row.get("table_schema") == "iox"}
    assert tables == {"only_here"}
    rows = query_rows(server, other, "SELECT DISTINCT table_name FROM information_schema.columns")
    assert "cpu" not in {row["table_name"] for row in rows}


LOCKDOWN = [
    "INSTALL httpfs",
    "LOAD httpfs",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_parquet('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "COPY (SELECT 1) TO '{tmp}/copied.csv'",
    "COPY cpu TO '{tmp}/copied2.csv'",
    "EXPORT DATABASE '{tmp}/exported'",
    "ATTACH '{tmp}/attached.db'",
    "ATTACH '{tmp}/attached2.db' AS a2 (READ_ONLY)",
    "DETACH memory",
    "CREATE TABLE x(a int)",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO m(a) AS a",
    "INSERT INTO cpu (time) VALUES (now())",
    "UPDATE cpu SET usage = 0",
    "DELETE FROM cpu",
    "DROP TABLE cpu",
    "DROP VIEW cpu",
    "ALTER TABLE cpu ADD COLUMN z INT",
    "SET threads=1",
    "SET enable_external_access=true",
    "RESET threads",
    "PRAGMA threads=1",
    "USE memory",
    "CHECKPOINT",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE cpu",
]


@pytest.mark.parametrize("template", LOCKDOWN)
def test_lockdown(server, cpu_db, tmp_path, template):
    sql = template.format(tmp=tmp_path)
    r = query(server, cpu_db, sql)
    assert 400 <= r.status_code < 500, (sql, r.status_code, r.text[:300])
    assert "error" in r.json()
    assert "root:" not in r.text
    assert list(tmp_path.iterdir()) == [], "a rejected statement touched the file system"
    assert healthy(server)
    assert query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu") == [{"n": ROWS}]
    assert query_rows(server, cpu_db, "SELECT count(*) AS n FROM information_schema.columns "
                                      "WHERE table_name = 'cpu'") == [{"n": 8}]


def test_lockdown_keeps_server_files_private(server, cpu_db):
    wal = server.data_dir / "node0" / "wal"
    for sql in (f"SELECT * FROM read_blob('{wal}/*')", f"SELECT * FROM glob('{server.data_dir}/**')",
                f"SELECT * FROM read_text('{server.log_path}')"):
        r = query(server, cpu_db, sql)
        assert 400 <= r.status_code < 500, (sql, r.status_code, r.text[:300])
    assert healthy(server)


def test_parquet_output_cannot_be_redirected(server, cpu_db, tmp_path):
    target = tmp_path / "pwned.csv"
    for sql in (f"SELECT 1) TO '{target}' (FORMAT csv) --", f"SELECT 1) TO '{target}' (FORMAT csv); SELECT (1"):
        r = query(server, cpu_db, sql, fmt="parquet")
        assert 400 <= r.status_code < 500, (sql, r.status_code, r.content[:200])
    assert not target.exists()
    assert healthy(server)
