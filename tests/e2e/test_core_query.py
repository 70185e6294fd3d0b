"""Queries: formats, InfluxDB SQL names, parameters, errors and the read-only lock-down."""
import json

import pytest
import requests

from conftest import query, query_rows, unique_db, write_lp


@pytest.fixture(scope="module")
def cpu_db(server):
    db = unique_db("q")
    lines = "\n".join(f"cpu,host=h{i % 2},region=r usage={i}.5,count={i}i {1700000000 + i * 30}" for i in range(6))
    assert write_lp(server, db, lines, precision="s").status_code == 204
    return db


def test_json_is_compact_sorted_and_omits_nulls(server, cpu_db):
    assert write_lp(server, cpu_db, "sparse,a=x v=1 1\nsparse w=2 2", precision="s").status_code == 204
    r = query(server, cpu_db, "SELECT * FROM sparse ORDER BY time")
    assert r.headers["Content-Type"] == "application/json"
    assert r.text == '[{"a":"x","time":"1970-01-01T00:00:01","v":1.0},{"time":"1970-01-01T00:00:02","w":2.0}]'
    assert query(server, cpu_db, "SELECT * FROM sparse WHERE v > 100").text == "[]"


def test_other_formats(server, cpu_db):
    sql = "SELECT host, usage FROM cpu ORDER BY time LIMIT 2"
    r = query(server, cpu_db, sql, fmt="jsonl")
    assert r.headers["Content-Type"] == "application/jsonl"
    assert [json.loads(l) for l in r.text.splitlines()] == [{"host": "h0", "usage": 0.5}, {"host": "h1", "usage": 1.5}]
    r = query(server, cpu_db, sql, fmt="csv")
    assert r.headers["Content-Type"] == "text/csv" and r.text == "host,usage\nh0,0.5\nh1,1.5\n"
    r = query(server, cpu_db, sql, fmt="pretty")
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "| host | usage |" in r.text and "| h0   | 0.5   |" in r.text
    r = query(server, cpu_db, sql, fmt="parquet")
    assert r.status_code == 200 and r.content[:4] == b"PAR1" and r.content[-4:] == b"PAR1"
    assert query(server, cpu_db, sql, fmt="xml").status_code == 400


def test_get_with_accept_header_and_params(server, cpu_db):
    r = requests.get(server.url + "/api/v3/query_sql", headers={"Accept": "text/csv"},
                     params={"db": cpu_db, "q": "SELECT count(*) AS n FROM cpu WHERE host = $h",
                             "params": json.dumps({"h": "h1"})})
    assert r.status_code == 200 and r.text == "n\n3\n"


def test_parameters_are_values_not_sql(server, cpu_db):
    rows = query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu WHERE host = $h", params={"h": "h0' OR 1=1 --"})
    assert rows == [{"n": 0}]
    rows = query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu WHERE count >= $min", params={"min": 4})
    assert rows == [{"n": 2}]


def test_influxdb_sql_surface(server, cpu_db):
    assert query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu WHERE time > now() - INTERVAL '1 hour'") == [{"n": 0}]
    rows = query_rows(server, cpu_db, "SELECT date_bin(INTERVAL '1 minute', time) AS minute, avg(usage) AS u "
                                      "FROM cpu GROUP BY 1 ORDER BY 1")
    assert rows == [{"minute": "2023-11-14T22:13:00", "u": 1.0}, {"minute": "2023-11-14T22:14:00", "u": 3.0},
                    {"minute": "2023-11-14T22:15:00", "u": 5.0}]
    rows = query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu WHERE time >= '2023-11-14T22:14:00Z'")
    assert rows == [{"n": 4}]
    tables = query_rows(server, cpu_db, "SHOW TABLES")
    assert {"table_catalog": "public", "table_schema": "iox", "table_name": "cpu", "table_type": "BASE TABLE"} in tables
    assert query_rows(server, cpu_db, "SELECT count(*) AS n FROM public.iox.cpu") == [{"n": 6}]
    cols = query_rows(server, cpu_db, "SHOW COLUMNS FROM cpu")
    assert [c["column_name"] for c in cols] == ["count", "host", "region", "time", "usage"]


def test_errors(server, cpu_db):
    r = query(server, cpu_db, "SELEC 1")
    assert r.status_code == 400 and "syntax error" in r.json()["error"]
    r = query(server, cpu_db, "SELECT * FROM not_here")
    assert r.status_code == 400 and "not_here" in r.json()["error"]
    r = query(server, "no_such_db", "SELECT 1")
    assert r.status_code == 404 and "database not found" in r.json()["error"]
    assert query(server, cpu_db, "").status_code == 400


@pytest.mark.parametrize("sql", [
    "INSTALL httpfs", "LOAD httpfs", "SELECT * FROM read_csv('/etc/passwd')", "COPY (SELECT 1) TO '/tmp/riffle_x.csv'",
    "ATTACH '/tmp/riffle_x.db'", "CREATE TABLE x(a int)", "SET threads=1", "SELECT 1; DROP TABLE cpu",
    "PRAGMA threads=1", "PRAGMA enable_external_access=true", "SELECT * FROM read_parquet('/etc/*')", "DROP VIEW cpu", "DELETE FROM cpu",
])
def test_only_read_only_queries_are_allowed(server, cpu_db, sql):
    r = query(server, cpu_db, sql)
    assert 400 <= r.status_code < 500 and "error" in r.json()
    assert query_rows(server, cpu_db, "SELECT count(*) AS n FROM cpu") == [{"n": 6}]


def test_databases_are_isolated(server, cpu_db):
    other = unique_db("iso")
    assert write_lp(server, other, "only_here v=1").status_code == 204
    assert query(server, cpu_db, "SELECT * FROM only_here").status_code == 400
    assert query(server, other, "SELECT * FROM cpu").status_code == 400
