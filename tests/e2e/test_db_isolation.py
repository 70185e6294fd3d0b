"""Database isolation: one server holds several databases (each a DuckDB schema db_<id>, its
buffer tables in db_<id>_data, both in the "buffer" catalog, its Parquet files under
node0/dbs/<id>/ and listed in the variables riffle_files_<table id>). A statement run for
database `mine` — SQL over GET/POST /api/v3/query_sql, InfluxQL over /api/v3/query_influxql and
/query, SQL and InfluxQL over Flight DoGet — sees `mine`'s tables and system tables only:
whatever it names (qualified names, DuckDB's catalog functions and views, file readers, nested
queries, EXPLAIN/DESCRIBE/SUMMARIZE, connection leftovers), its answer carries none of database
`other`'s rows (hunter2_leak), table or column names (secret, password), schema names (db_<id>,
db_<id>_data), file variables or file paths. An error (4xx with a JSON "error") or a harmless
result are both fine; an error may repeat names the statement itself typed. `other`'s table has
rows both in Parquet files and in the write buffer, and before every attempt a query of `other`
runs first (so a pooled connection comes to `mine` straight from `other`). Positive controls
show that `mine` still works and that `other`'s data really is there to leak."""
import json
import re
import time

import grpc
import pytest
import requests

from conftest import Server, query, query_rows, wait_for, write_lp

SNAPSHOT_ARGS = ["--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
LEAK = "hunter2_leak"
PRIME = ("SELECT 'other_prime_marker' AS p, (SELECT count(*) FROM secret) AS n, "
         "(SELECT count(*) FROM information_schema.tables) AS t, (SELECT count(*) FROM system.parquet_files) AS f")
PUB_ROW = {"host": "a", "time": "2023-11-14T22:13:20", "v": 1}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The server, `other`'s database id `o`, its table's id `t`, the data dir `d`."""
    s = Server(tmp_path_factory.mktemp("iso"), SNAPSHOT_ARGS, object_store="file").start()
    try:
        for i in range(3):  # three WAL files: a snapshot writes them to Parquet
            line = f'secret,host=h1 password="{LEAK}" 17000000{i:02d}000000000'
            assert write_lp(s, "other", line).status_code == 204
            time.sleep(0.15)
        files = wait_for(lambda: query_rows(s, "other", "SELECT path, row_count FROM system.parquet_files"))
        assert files and sum(f["row_count"] for f in files) == 3, s.log()
        o, t = re.match(r"node0/dbs/(\d+)/(\d+)/", files[0]["path"]).groups()
        # Two more WAL files, below the snapshot threshold: these rows stay in the buffer.
        assert write_lp(s, "other", f'secret,host=h2 password="{LEAK}_buffered" 1700000100000000000').status_code == 204
        time.sleep(0.15)
        assert write_lp(s, "mine", "pub,host=a v=1i 1700000000000000000").status_code == 204
        yield {"s": s, "o": o, "t": t, "d": str(s.data_dir)}
    finally:
        s.kill9()


def markers(env):
    """What would betray `other` in an answer to `mine`."""
    o, t = env["o"], env["t"]
    return {LEAK: LEAK, "secret": r"(?<![A-Za-z_])secret(?![A-Za-z_])",
            "password": r"(?<![A-Za-z_])password(?![A-Za-z_])", f"db_{o}": rf"(?<![A-Za-z0-9_])db_{o}(?![0-9])",
            f"riffle_files_{t}": rf"riffle_files_{t}(?![0-9])", f"dbs/{o}/": rf"dbs/{o}/"}


def leaks_in(env, body, sent):
    """The markers found in the decoded JSON `body` answering the statement `sent`. Strings under
    an "error" key may echo the statement (its text and DuckDB's "LINE n:" context are removed,
    and names the statement typed may be repeated); a column name that is a piece of the
    statement is its echo; everything else is data and must carry no marker at all."""
    found = set()

    def check(text, echo):
        if echo:
            text = re.sub(r"LINE \d+:.*", "", text.replace(sent, ""))
        for name, pattern in markers(env).items():
            if re.search(pattern, text, re.I) and not (echo and re.search(pattern, sent, re.I)):
                found.add(name)

    def walk(x, key=None):
        if isinstance(x, dict):
            for k, v in x.items():
                if k.lower() not in sent.lower():
                    check(k, False)
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif x is not None:
            check(str(x), key == "error")

    walk(body)
    return found


def answer(r):
    """The decoded JSON of a response; a 5xx or a 4xx without a JSON "error" fails the test."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code != 200:
        assert 400 <= r.status_code < 500 and isinstance(body, dict) and "error" in body, (r.status_code, r.text[:500])
    return body if body is not None else {"error": r.text}


def prime(env):
    assert query(env["s"], "other", PRIME).status_code == 200


# Statements sent for `mine`: {o} is other's database id, {t} its table's id, {d} the data dir.
SQL_ATTEMPTS = [f"SELECT * FROM db_{n}.secret" for n in range(7)] + [
    "SELECT * FROM db_{o}_data.t{t}",
    "SELECT * FROM buffer.db_{o}.secret",
    'SELECT * FROM "buffer"."db_{o}"."secret"',
    "SELECT * FROM buffer.db_{o}_data.t{t}",
    "SELECT * FROM DB_{o}.SECRET",
    'SELECT * FROM "db_{o}" /* gap */ . "secret"',
    "FROM db_{o}.secret",
    "SELECT * FROM secret",
    "SELECT database_name, schema_name, table_name FROM duckdb_tables()",
    "SELECT database_name, schema_name FROM duckdb_schemas()",
    "SELECT schema_name, table_name, column_name FROM duckdb_columns()",
    "SELECT database_name, path, type FROM duckdb_databases()",
    "SELECT schema_name, view_name, sql FROM duckdb_views()",
    "SELECT value FROM duckdb_settings()",  # (DuckDB has a setting named password)
    "SELECT name, value::VARCHAR AS value FROM duckdb_variables()",
    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name = 'secret'",
    "SELECT table_name, column_name FROM information_schema.columns WHERE column_name = 'password'",
    "SELECT catalog_name, schema_name FROM information_schema.schemata WHERE schema_name LIKE 'db%'",
    "SELECT table_schema, table_name FROM system.information_schema.tables",
    "SELECT schemaname, tablename FROM pg_catalog.pg_tables",
    "SELECT schemaname, tablename FROM pg_tables",
    "SELECT nspname FROM pg_namespace",
    "SELECT name, sql FROM sqlite_master",
    "SELECT getvariable('riffle_files_{t}')::VARCHAR AS files",
    "SELECT * FROM read_parquet(getvariable('riffle_files_{t}'))",
    "SELECT current_setting('search_path') AS path",
    "SELECT * FROM read_parquet('{d}/**/*.parquet', union_by_name=true)",
    "SELECT * FROM read_parquet('{d}/node0/dbs/**/*.parquet', union_by_name=true)",
    "SELECT * FROM read_parquet('{d}/node0/dbs/{o}/*/*/*/*.parquet')",
    "SELECT * FROM read_csv('{d}/node0/dbs/**/*.parquet', all_varchar=true, header=false, ignore_errors=true)",
    "SELECT * FROM read_text('{d}/node0/dbs/**/*.parquet')",
    "SELECT * FROM read_blob('{d}/node0/dbs/**/*.parquet')",
    "SELECT * FROM glob('{d}/**')",
    "SELECT * FROM glob('{d}/node0/dbs/**')",
    "SELECT path_in_schema, stats_min, stats_max FROM parquet_metadata('{d}/node0/dbs/**/*.parquet')",
    "SELECT * FROM query('SELECT * FROM db_{o}.secret')",
    "SELECT * FROM query_table('db_{o}.secret')",
    "WITH s AS (SELECT * FROM db_{o}.secret) SELECT * FROM s",
    "WITH s AS (SELECT * FROM duckdb_tables()) SELECT schema_name, table_name FROM s",
    "SELECT * FROM (SELECT password FROM db_{o}.secret) AS sub",
    "SELECT host FROM pub UNION ALL SELECT password FROM db_{o}.secret",
    "SELECT host FROM pub UNION ALL SELECT schema_name FROM duckdb_tables()",
    "EXPLAIN SELECT * FROM db_{o}.secret",
    "SUMMARIZE db_{o}.secret",
    "SELECT * FROM (SUMMARIZE db_{o}.secret)",
    "DESCRIBE db_{o}.secret",
    "SHOW db_{o}.secret",
    "SHOW TABLES",
    "SHOW ALL TABLES",
    "SELECT database, schema, name FROM (SHOW ALL TABLES)",
    "SELECT v, p.password FROM pub, LATERAL (SELECT password FROM db_{o}.secret) p",
    "SELECT (SELECT max(password) FROM db_{o}.secret) AS x",
    "SELECT (SELECT string_agg(schema_name || '.' || table_name, ',') FROM duckdb_tables()) AS x",
    "SELECT * FROM temp.main.riffle_information_schema_tables",
    "SELECT * FROM riffle_system_parquet_files",
]


@pytest.mark.parametrize("template", SQL_ATTEMPTS)
def test_sql_for_mine_does_not_see_other(env, template):
    sql = template.format(**env)
    leaks = {}
    for method in ("GET", "POST"):
        prime(env)
        if method == "GET":
            r = requests.get(env["s"].url + "/api/v3/query_sql", params={"db": "mine", "q": sql}, timeout=30)
        else:
            r = query(env["s"], "mine", sql)
        found = leaks_in(env, answer(r), sql)
        if found:
            leaks[method] = (sorted(found), r.text[:300])
    assert not leaks, f"{sql!r} leaked: {leaks}"


INFLUXQL_ATTEMPTS = [
    'SELECT * FROM "db_{o}"."secret"',
    "SELECT * FROM other..secret",
    'SELECT * FROM "other"."autogen"."secret"',
    "SELECT * FROM secret",
    'SELECT * FROM "db_{o}_data"."t{t}"',
    "SHOW MEASUREMENTS ON other",
    "SHOW FIELD KEYS ON other",
    'SHOW TAG VALUES ON other WITH KEY = "host"',
    "SHOW SERIES ON other",
]


@pytest.mark.parametrize("endpoint", ["/api/v3/query_influxql", "/query"])
@pytest.mark.parametrize("template", INFLUXQL_ATTEMPTS)
def test_influxql_for_mine_does_not_see_other(env, template, endpoint):
    q = template.format(**env)
    prime(env)
    r = requests.get(env["s"].url + endpoint, params={"db": "mine", "q": q}, timeout=30)
    found = leaks_in(env, answer(r), q)
    assert not found, f"{q!r} on {endpoint} leaked {sorted(found)}: {r.text[:300]}"


def doget(env, db, text, query_type="sql"):
    """Flight DoGet with a JSON ticket (no protobuf classes): the raw FlightData messages."""
    raw = json.dumps({"database": db, "sql_query": text, "query_type": query_type}).encode()
    ticket, n = b"\x0a", len(raw)
    while n > 0x7F:
        ticket, n = ticket + bytes([n & 0x7F | 0x80]), n >> 7
    ticket += bytes([n]) + raw
    with grpc.insecure_channel(env["s"].url.removeprefix("http://")) as channel:
        call = channel.unary_stream("/arrow.flight.protocol.FlightService/DoGet",
                                    request_serializer=lambda b: b, response_deserializer=lambda b: b)
        return list(call(ticket, timeout=30))


@pytest.mark.parametrize("template, query_type", [
    ("SELECT * FROM db_{o}.secret", "sql"),
    ("SELECT * FROM query_table('db_{o}.secret')", "sql"),
    ("SELECT database_name, schema_name, table_name FROM duckdb_tables()", "sql"),
    ("SELECT * FROM read_parquet(getvariable('riffle_files_{t}'))", "sql"),
    ("SHOW MEASUREMENTS ON other", "influxql"),
])
def test_flight_for_mine_does_not_see_other(env, template, query_type):
    text = template.format(**env)
    prime(env)
    try:
        found = leaks_in(env, b"".join(doget(env, "mine", text, query_type)).decode("latin-1"), text)
    except grpc.RpcError as e:
        assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                            grpc.StatusCode.PERMISSION_DENIED), (e.code(), e.details())
        found = leaks_in(env, {"error": e.details() or ""}, text)
    assert not found, f"{text!r} over Flight leaked {sorted(found)}"


# ------------------------------------------------------------------------------------------------
# Positive controls: these must keep working.

def test_other_really_holds_the_marker_in_buffer_and_parquet(env):
    rows = query_rows(env["s"], "other", "SELECT password FROM secret ORDER BY time")
    assert [r["password"] for r in rows] == [LEAK] * 3 + [LEAK + "_buffered"]
    assert sum(f["row_count"] for f in query_rows(env["s"], "other", "SELECT row_count FROM system.parquet_files")) == 3
    assert LEAK in leaks_in(env, rows, ""), "the marker check would be vacuous"
    assert LEAK.encode() in b"".join(doget(env, "other", "SELECT * FROM secret"))


def test_mine_reads_its_own_table(env):
    s = env["s"]
    prime(env)
    assert query_rows(s, "mine", "SELECT * FROM pub") == [PUB_ROW]
    assert query_rows(s, "mine", "SELECT count(*) AS n FROM pub") == [{"n": 1}]
    assert query_rows(s, "mine", "WITH p AS (SELECT * FROM pub) SELECT host, v FROM p") == [{"host": "a", "v": 1}]
    lateral = "SELECT * FROM (SELECT v FROM pub) sub, LATERAL (SELECT v * 2 AS w) l"
    assert query_rows(s, "mine", lateral) == [{"v": 1, "w": 2}]
    r = requests.get(s.url + "/api/v3/query_sql", params={"db": "mine", "q": "SELECT * FROM pub"}, timeout=30)
    assert r.status_code == 200 and r.json() == [PUB_ROW], r.text


def test_mine_catalog_lists_pub_and_not_secret(env):
    s = env["s"]
    prime(env)
    tables = query_rows(s, "mine", "SELECT table_schema, table_name FROM information_schema.tables")
    assert [t["table_name"] for t in tables if t["table_schema"] == "iox"] == ["pub"]
    assert {"table_schema": "system", "table_name": "queries"} in tables
    assert "secret" not in json.dumps(tables)
    shown = query_rows(s, "mine", "SHOW TABLES")
    assert [t["table_name"] for t in shown if t["table_schema"] == "iox"] == ["pub"]
    cols = query_rows(s, "mine", "SELECT table_name, column_name FROM information_schema.columns")
    assert {c["table_name"] for c in cols} == {"pub"}
    for endpoint in ("/api/v3/query_influxql", "/query"):
        r = requests.get(s.url + endpoint, params={"db": "mine", "q": "SHOW MEASUREMENTS"}, timeout=30)
        assert r.status_code == 200 and "pub" in r.text and "secret" not in r.text, (endpoint, r.text)
    r = requests.get(s.url + "/query", params={"db": "mine", "q": "SELECT v FROM pub"}, timeout=30)
    assert r.json()["results"][0]["series"][0]["values"] == [["2023-11-14T22:13:20Z", 1]], r.text


def test_mine_system_tables_and_table_functions_work(env):
    s = env["s"]
    prime(env)
    logged = query_rows(s, "mine", "SELECT query_text FROM system.queries")
    assert logged and "other_prime_marker" not in json.dumps(logged)  # other's queries are not listed
    assert query_rows(s, "mine", "SELECT table_name FROM system.parquet_files") == []
    assert query_rows(s, "mine", "SELECT * FROM generate_series(1, 3) AS g(x)") == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert query_rows(s, "mine", "SELECT range AS x FROM range(2)") == [{"x": 0}, {"x": 1}]
    assert query_rows(s, "mine", "SELECT unnest([1, 2]) AS x") == [{"x": 1}, {"x": 2}]
    assert query_rows(s, "mine", "SELECT (SELECT max(v) FROM pub) AS m") == [{"m": 1}]
    assert LEAK.encode() not in b"".join(doget(env, "mine", "SELECT * FROM pub"))
