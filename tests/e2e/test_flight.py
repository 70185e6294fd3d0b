"""Issue 11: Arrow Flight and Flight SQL over gRPC, on the HTTP port. The official InfluxDB 3
JavaScript client (@influxdata/influxdb3-client 2.1.0, Flight DoGet with a JSON ticket) queries
through tests/e2e/flight/client.cjs; a Flight SQL session (Handshake, GetSqlInfo, catalogs,
schemas, tables, statements, prepared statements) runs through tests/e2e/flight/flightsql.cjs,
a generic grpc-js client of Riffle's own .proto files; python3-grpcio sends hand-made calls (a
malformed ticket, a deadline). The npm packages are installed into build/node by scripts/setup.sh."""
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest
import requests

from conftest import REPO, query_rows, unique_db, wait_for, write_lp

FLIGHT_DIR = Path(__file__).resolve().parent / "flight"
NODE_MODULES = REPO / "build" / "node" / "node_modules"
CLIENT_PKG = NODE_MODULES / "@influxdata" / "influxdb3-client" / "package.json"
DOGET = "/arrow.flight.protocol.FlightService/DoGet"

# Line protocol written with tags and fields in sorted order and the client's formatting (booleans
# as T/F), so that queryPoints() gives back the same text.
LINES = [
    'cpu,host=a,region=us\\ west b=T,i=-3i,s="hi \\"there\\"",u=7u,usage=1.5 1700000000123456789',
    'cpu,host=b b=F,i=4i,s="x",u=8u,usage=2.25 1700000001000000000',
]


def node(script, job, timeout=300):
    if not CLIENT_PKG.exists() or json.loads(CLIENT_PKG.read_text()).get("version") != "2.1.0":
        pytest.fail(f"{CLIENT_PKG} missing: run scripts/setup.sh (it installs the pinned npm packages of "
                    "tests/e2e/flight/package.json into build/node)", pytrace=False)
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    p = subprocess.run(["node", str(FLIGHT_DIR / script)], input=json.dumps(job), capture_output=True, text=True,
                       timeout=timeout, env=env)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"{script} printed no JSON (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return json.loads(lines[-1])


def run_client(server, db, *queries, token=None, timeout=None):
    job = {"host": server.url, "database": db, "queries": list(queries)}
    if token is not None:
        job["token"] = token
    if timeout is not None:
        job["timeout"] = timeout
    return node("client.cjs", job)


def flight(server, db, sql, **q):
    """One query through the official client; its result entry (rows/points/count...)."""
    out = run_client(server, db, {"sql": sql, **q})
    assert "error" not in out, out
    return out["results"][0]


def flight_error(server, db, sql, **kw):
    token = kw.pop("token", None)
    out = run_client(server, db, {"sql": sql, **kw}, token=token)
    assert "error" in out, f"expected an error, got {out}"
    return out["error"]


def flightsql(server, db, steps, **job):
    out = node("flightsql.cjs", {"host": server.url, "database": db, "steps": steps, **job})
    assert "fatal" not in out, out
    return out["steps"]


def step_ok(step):
    assert step["ok"], json.dumps(step, indent=1)[:3000]
    return step


def names(schema):
    return [f["name"] for f in schema] if isinstance(schema, list) else [f["name"] for f in schema["fields"]]


def column_types(schema):
    fields = schema if isinstance(schema, list) else schema["fields"]
    return {f["name"]: (f["type"], f["metadata"].get("iox::column::type")) for f in fields}


def load_cpu(server):
    db = unique_db("flight")
    assert write_lp(server, db, "\n".join(LINES)).status_code == 204
    return db


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def ticket(raw):
    """A Flight Ticket protobuf (field 1, bytes) around `raw`."""
    return b"\x0a" + varint(len(raw)) + raw


def grpc_doget(server, raw_ticket, timeout=30, metadata=None):
    """DoGet with python3-grpcio and no protobuf classes: returns the raw FlightData messages."""
    with grpc.insecure_channel(server.url.removeprefix("http://")) as channel:
        call = channel.unary_stream(DOGET, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        return list(call(ticket(raw_ticket), timeout=timeout, metadata=metadata))


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def finished_queries(server, db, marker):
    return [r for r in query_rows(server, db, "SELECT query_text, success, phase FROM system.queries WHERE NOT running")
            if marker in r["query_text"]]


# ---------------------------------------------------------------------------------------------
# The official client: SQL, InfluxQL, parameters, queryPoints, large and empty results


EXPECTED_TYPES = {
    "b": ("Bool", "iox::column_type::field::boolean"),
    "host": ("Utf8", "iox::column_type::tag"),
    "i": ("Int64", "iox::column_type::field::integer"),
    "region": ("Utf8", "iox::column_type::tag"),
    "s": ("Utf8", "iox::column_type::field::string"),
    "time": ("Timestamp<NANOSECOND>", "iox::column_type::timestamp"),
    "u": ("Uint64", "iox::column_type::field::uinteger"),
    "usage": ("Float64", "iox::column_type::field::float"),
}


def test_sql_query_returns_typed_columns_and_exact_values(server):
    db = load_cpu(server)
    raw = flight(server, db, "SELECT * FROM cpu ORDER BY time", mode="raw")
    # The column order of SELECT * over HTTP; tags plain Utf8 (not dictionaries) with the IOx metadata.
    assert names(raw["schema"]) == ["b", "host", "i", "region", "s", "time", "u", "usage"]
    assert column_types(raw["schema"]) == EXPECTED_TYPES
    assert raw["rows"] == [
        {"b": True, "host": "a", "i": "-3", "region": "us west", "s": 'hi "there"', "time": "1700000000123456789",
         "u": "7", "usage": 1.5},
        {"b": False, "host": "b", "i": "4", "region": None, "s": "x", "time": "1700000001000000000",
         "u": "8", "usage": 2.25},
    ]
    # What client.query() yields: numbers for integer fields (from the metadata), the time as
    # apache-arrow's float milliseconds; uinteger values stay BigInt (the client's unsigned check
    # accepts only numbers and strings), printed as strings by client.cjs.
    rows = flight(server, db, "SELECT * FROM cpu ORDER BY time")["rows"]
    assert [r["time"] for r in rows] == [pytest.approx(1700000000123.456789, abs=1e-3), 1700000001000]
    for r in rows:
        del r["time"]
    assert rows == [{"b": True, "host": "a", "i": -3, "region": "us west", "s": 'hi "there"', "u": "7", "usage": 1.5},
                    {"b": False, "host": "b", "i": 4, "region": None, "s": "x", "u": "8", "usage": 2.25}]
    # Expressions keep their computed type, without IOx metadata.
    expr = flight(server, db, "SELECT count(*) AS n, max(usage) * 2 AS m, 'k' AS k FROM cpu", mode="raw")
    assert expr["rows"] == [{"n": "2", "m": 4.5, "k": "k"}]
    assert {f["name"]: f["typeId"] for f in expr["schema"]} == {"n": "Int", "m": "Float", "k": "Utf8"}


def test_influxql_query_leads_with_measurement_and_time(server):
    db = load_cpu(server)
    raw = flight(server, db, "SELECT usage, host, i FROM cpu", type="influxql", mode="raw")
    assert names(raw["schema"])[:2] == ["iox::measurement", "time"]
    assert sorted(names(raw["schema"])[2:]) == ["host", "i", "usage"]
    assert [(r["iox::measurement"], r["time"], r["host"], r["usage"], r["i"]) for r in raw["rows"]] == [
        ("cpu", "1700000000123456789", "a", 1.5, "-3"), ("cpu", "1700000001000000000", "b", 2.25, "4")]
    types = column_types(raw["schema"])
    assert types["host"] == EXPECTED_TYPES["host"] and types["usage"] == EXPECTED_TYPES["usage"]
    assert types["time"][0] == "Timestamp<NANOSECOND>"
    # The same rows as /api/v3/query_influxql.
    http = requests.get(server.url + "/api/v3/query_influxql",
                        params={"db": db, "q": "SELECT usage, host, i FROM cpu"}, timeout=10).json()
    assert [[r[k] for k in ("iox::measurement", "host", "usage", "i")] for r in http] == \
        [[r[k] if k != "i" else int(r[k]) for k in ("iox::measurement", "host", "usage", "i")] for r in raw["rows"]]
    # A GROUP BY tag, SHOW statements and InfluxQL errors.
    grouped = flight(server, db, "SELECT max(usage) FROM cpu GROUP BY host", type="influxql")["rows"]
    assert [(r["iox::measurement"], r["host"], r["max"]) for r in grouped] == [("cpu", "a", 1.5), ("cpu", "b", 2.25)]
    shown = flight(server, db, "SHOW MEASUREMENTS", type="influxql")["rows"]
    assert [r["name"] for r in shown] == ["cpu"]


def test_bad_influxql_is_invalid_argument(server):
    db = load_cpu(server)
    # As InfluxDB 3 answers a statement its parser rejects (a planning error, INVALID_ARGUMENT).
    for q in ("SELECT FROM cpu", "SELECT usage FROM", "SELEKT usage FROM cpu"):
        err = flight_error(server, db, q, type="influxql")
        assert err["code"] == 3, (q, err)


def test_query_parameters(server):
    db = load_cpu(server)
    rows = flight(server, db, "SELECT host, usage FROM cpu WHERE host = $host", params={"host": "b"})["rows"]
    assert rows == [{"host": "b", "usage": 2.25}]
    rows = flight(server, db, "SELECT host FROM cpu WHERE usage > $min AND host <> $h ORDER BY host",
                  params={"min": 1, "h": "zzz"})["rows"]
    assert rows == [{"host": "a"}, {"host": "b"}]
    rows = flight(server, db, "SELECT usage FROM cpu WHERE host = $host", type="influxql", params={"host": "a"})["rows"]
    assert [r["usage"] for r in rows] == [1.5]


def expected_points():
    """The written lines as the client prints them: time in ms (apache-arrow 21 hands the client
    Timestamp values as float milliseconds, which toLineProtocol() floors)."""
    out = []
    for line in LINES:
        head, ts = line.rsplit(" ", 1)
        out.append(f"{head} {int(ts) // 1_000_000}")
    return out


def test_query_points_give_back_the_written_line_protocol(server):
    db = load_cpu(server)
    # The client types every value from the field metadata iox::column::type.
    points = flight(server, db, "SELECT * FROM cpu ORDER BY time", mode="points", measurement="cpu")["points"]
    assert points == expected_points()
    # InfluxQL results name the measurement themselves (iox::measurement).
    points = flight(server, db, "SELECT * FROM cpu", type="influxql", mode="points")["points"]
    assert points == expected_points()


def test_a_query_without_rows_is_an_empty_result(server):
    db = load_cpu(server)
    assert flight(server, db, "SELECT * FROM cpu WHERE usage < 0")["rows"] == []
    assert flight(server, db, "SELECT * FROM cpu WHERE usage < 0", type="influxql")["rows"] == []
    assert flight(server, db, "SELECT * FROM cpu WHERE usage < 0", mode="count")["count"] == 0


def test_a_million_rows_stream(server):
    db = unique_db("flight_big")
    rows = 1_000_000
    for start in range(0, rows, 100_000):
        body = "\n".join(f"big,host=h{i % 100} v={i}i,s=\"row-{i:07d}\" {1_600_000_000_000_000_000 + i}"
                         for i in range(start, start + 100_000))
        assert write_lp(server, db, body).status_code == 204
    assert query_rows(server, db, "SELECT count(*) AS n FROM big") == [{"n": rows}]
    pid = server.proc.pid
    before = rss_kb(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_kb(pid))
            except OSError:
                return
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        t = time.time()
        counted = flight(server, db, "SELECT * FROM big", mode="count")
        elapsed = time.time() - t
        batches = flight(server, db, "SELECT * FROM big", mode="batches")
    finally:
        done.set()
        sampler.join()
    assert counted["count"] == rows
    assert batches["count"] == rows and batches["batches"] > 1  # sent as many record batches
    growth_mb = (peak[0] - before) / 1024
    print(f"1M rows via the official client in {elapsed:.1f}s; {batches['batches']} batches; "
          f"server RSS {before / 1024:.0f} MB -> peak {peak[0] / 1024:.0f} MB")
    # Generous: the whole result as Arrow is ~30 MB; a server that buffered it several times over
    # (or leaked per batch) would still stay below this, so it only catches gross regressions.
    assert growth_mb < 512, f"server RSS grew by {growth_mb:.0f} MB during the stream"


# ---------------------------------------------------------------------------------------------
# Errors and authentication


def test_an_unknown_database_is_not_found(server):
    err = flight_error(server, unique_db("missing"), "SELECT 1")
    assert err["code"] == 5 and err["name"] == "NOT_FOUND", err


def test_bad_sql_is_invalid_argument(server):
    db = load_cpu(server)
    for sql in ("SELEC nope", "SELECT nope FROM cpu", "SELECT * FROM no_such_table", "DELETE FROM cpu"):
        err = flight_error(server, db, sql)
        assert err["code"] == 3 and err["name"] == "INVALID_ARGUMENT", (sql, err)
        assert err["message"], err
    # The server goes on answering.
    assert flight(server, db, "SELECT count(*) AS n FROM cpu", mode="raw")["rows"] == [{"n": "2"}]


def make_token(s):
    r = s.cli("create", "token", "--admin")
    return next(line.split("Token: ", 1)[1] for line in r.stdout.splitlines() if line.startswith("Token: "))


def test_tokens_are_required_once_one_exists(fresh_server):
    s = fresh_server.start()
    assert write_lp(s, "db", "\n".join(LINES)).status_code == 204
    assert flight(s, "db", "SELECT count(*) AS n FROM cpu", mode="raw")["rows"] == [{"n": "2"}]  # open
    token = make_token(s)
    for bad in (None, "wrong", "apiv3_" + "x" * 60):
        err = flight_error(s, "db", "SELECT count(*) AS n FROM cpu", token=bad)
        assert err["code"] == 16 and err["name"] == "UNAUTHENTICATED", (bad, err)
    out = run_client(s, "db", {"sql": "SELECT count(*) AS n FROM cpu", "mode": "raw"}, token=token)
    assert out["results"][0]["rows"] == [{"n": "2"}], out
    # An unknown database with a valid token is NOT_FOUND; without a token UNAUTHENTICATED first.
    assert run_client(s, "nope", {"sql": "SELECT 1"}, token=token)["error"]["code"] == 5
    assert run_client(s, "nope", {"sql": "SELECT 1"})["error"]["code"] == 16
    # Flight SQL: the same rule; Handshake echoes the bearer token.
    steps = flightsql(s, "db", [{"op": "statement", "query": "SELECT count(*) AS n FROM cpu", "token": None},
                                {"op": "statement", "query": "SELECT count(*) AS n FROM cpu", "token": "wrong"},
                                {"op": "statement", "query": "SELECT count(*) AS n FROM cpu"},
                                "handshake"], token=token)
    assert [st["error"]["code"] for st in steps[:2]] == [16, 16], steps[:2]
    assert step_ok(steps[2])["rows"] == [{"n": "2"}]
    assert step_ok(steps[3])["authorization_header"] == f"Bearer {token}"
    # python3-grpcio, raw.
    raw = json.dumps({"database": "db", "sql_query": "SELECT 1 AS x"}).encode()
    with pytest.raises(grpc.RpcError) as e:
        grpc_doget(s, raw)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(grpc_doget(s, raw, metadata=[("authorization", f"Bearer {token}")])) >= 2  # schema + batch


def test_a_malformed_ticket_is_invalid_argument(server):
    db = load_cpu(server)
    for raw in (b"not json", b"\xff\xfe", b"[1, 2]", json.dumps({"database": db}).encode(), b""):
        with pytest.raises(grpc.RpcError) as e:
            grpc_doget(server, raw)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (raw, e.value.code(), e.value.details())
        assert "sql_query" in e.value.details(), (raw, e.value.details())  # names the JSON it expects
    bad_type = json.dumps({"database": db, "sql_query": "SELECT 1", "query_type": "flux"}).encode()
    with pytest.raises(grpc.RpcError) as e:
        grpc_doget(server, bad_type)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    # A well-formed ticket: the Schema message and a RecordBatch, as raw FlightData.
    good = json.dumps({"database": db, "sql_query": "SELECT host FROM cpu", "query_type": "sql"}).encode()
    messages = grpc_doget(server, good)
    assert len(messages) >= 2 and all(m[:1] == b"\x12" for m in messages)  # each starts with data_header


def test_a_deadline_stops_the_query(fresh_server):
    # Its own server: a query the deadline failed to stop would hold both cores for hours.
    server = fresh_server.start()
    db = load_cpu(server)
    marker = f"deadline_marker_{os.getpid()}"
    sql = f"SELECT max(i) AS {marker} FROM range(10000000000000) t(i)"  # hours of work for DuckDB
    t = time.time()
    with pytest.raises(grpc.RpcError) as e:
        grpc_doget(server, json.dumps({"database": db, "sql_query": sql}).encode(), timeout=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.time() - t < 10
    # The server interrupted DuckDB: the query ends (and is recorded) soon after the deadline.
    ended = wait_for(lambda: finished_queries(server, db, marker), timeout=15)
    assert ended and ended[0]["success"] is False, ended
    # The official client's queryTimeout is the same deadline.
    err = run_client(server, db, {"sql": sql.replace(marker, marker + "_js")}, timeout=1000)["error"]
    assert err["code"] == 4 and err["name"] == "DEADLINE_EXCEEDED", err
    assert wait_for(lambda: finished_queries(server, db, marker + "_js"), timeout=15)
    assert flight(server, db, "SELECT count(*) AS n FROM cpu", mode="raw")["rows"] == [{"n": "2"}]


def test_a_client_that_cancels_stops_the_query(fresh_server):
    server = fresh_server.start()
    db = load_cpu(server)
    marker = f"cancel_marker_{os.getpid()}"
    sql = f"SELECT i, '{marker}' AS m FROM range(50000000) t(i)"
    with grpc.insecure_channel(server.url.removeprefix("http://")) as channel:
        call = channel.unary_stream(DOGET, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        stream = call(ticket(json.dumps({"database": db, "sql_query": sql}).encode()), timeout=120)
        next(stream)  # the schema: the query is running
        stream.cancel()
    ended = wait_for(lambda: finished_queries(server, db, marker), timeout=20)
    assert ended, "the query went on after the client cancelled its call"
    assert flight(server, db, "SELECT count(*) AS n FROM cpu", mode="raw")["rows"] == [{"n": "2"}]


def test_flight_queries_are_recorded_in_system_queries(server):
    db = load_cpu(server)
    flight(server, db, "SELECT host, 'flight-log-ok' AS m FROM cpu")
    flight_error(server, db, "SELECT nope, 'flight-log-bad' AS m FROM cpu")
    ok = wait_for(lambda: finished_queries(server, db, "flight-log-ok"))
    bad = wait_for(lambda: finished_queries(server, db, "flight-log-bad"))
    assert ok and ok[0]["success"] is True and ok[0]["phase"] == "success", ok
    assert bad and bad[0]["success"] is False and bad[0]["phase"] == "fail", bad


# ---------------------------------------------------------------------------------------------
# Flight SQL


@pytest.fixture(scope="module")
def walk(server):
    """One Flight SQL session (flightsql.cjs) over a fresh `cpu` table: every step's outcome by name."""
    db = load_cpu(server)
    steps = flightsql(server, db, [
        "handshake", "sql_info", "catalogs", "db_schemas", "tables", "tables_with_schema", "table_types",
        {"op": "statement", "query": "SELECT host, usage FROM cpu ORDER BY time"},
        {"op": "prepared", "query": "SELECT host, usage FROM cpu WHERE host = $host ORDER BY time",
         "params": {"host": "a"}},
        {"op": "prepared", "name": "no params", "query": "SELECT count(*) AS n FROM cpu", "params": {}},
        {"op": "statement", "name": "no database header", "database": None, "query": "SELECT 1"},
        {"op": "statement", "name": "unknown database", "database": "nope_" + db, "query": "SELECT 1"},
        {"op": "statement", "name": "bad sql", "query": "SELEC 1"},
        {"op": "tables", "name": "filtered", "table_name_filter_pattern": "cp%", "table_types": ["BASE TABLE"]},
    ])
    return {st.get("name", st["op"]): st for st in steps}


def test_flight_sql_handshake(walk):
    assert len(step_ok(walk["handshake"])["responses"]) == 1


def test_flight_sql_get_sql_info(walk):
    info = step_ok(walk["sql_info"])
    assert names(info["schema"]) == ["info_name", "value"]
    assert "Union" in info["schema"]["fields"][1]["type"]
    values = {r["info_name"]: r["value"] for r in info["rows"]}
    assert isinstance(values.get(0), str) and values[0]  # FLIGHT_SQL_SERVER_NAME
    assert values.get(3) is True  # FLIGHT_SQL_SERVER_READ_ONLY


def test_flight_sql_catalogs_schemas_and_table_types(walk):
    cat = step_ok(walk["catalogs"])
    assert names(cat["schema"]) == ["catalog_name"] and cat["rows"] == [{"catalog_name": "public"}]
    assert cat["info"]["endpoints"] == 1 and names(cat["info"]["schema"]) == ["catalog_name"]
    sch = step_ok(walk["db_schemas"])
    assert names(sch["schema"]) == ["catalog_name", "db_schema_name"]
    assert {"catalog_name": "public", "db_schema_name": "iox"} in sch["rows"]
    types = step_ok(walk["table_types"])
    assert names(types["schema"]) == ["table_type"]
    assert {"BASE TABLE", "VIEW"} <= {r["table_type"] for r in types["rows"]}


def test_flight_sql_tables(walk):
    tables = step_ok(walk["tables"])
    assert names(tables["schema"]) == ["catalog_name", "db_schema_name", "table_name", "table_type"]
    assert {"catalog_name": "public", "db_schema_name": "iox", "table_name": "cpu", "table_type": "BASE TABLE"} \
        in tables["rows"]
    filtered = step_ok(walk["filtered"])
    assert [(r["db_schema_name"], r["table_name"]) for r in filtered["rows"]] == [("iox", "cpu")]
    # include_schema: table_schema is an IPC-encapsulated schema with the IOx column metadata.
    with_schema = step_ok(walk["tables_with_schema"])
    assert names(with_schema["schema"]) == ["catalog_name", "db_schema_name", "table_name", "table_type",
                                            "table_schema"]
    assert with_schema["schema"]["fields"][4]["typeId"] == "Binary"
    cpu = next(r for r in with_schema["rows"] if r["table_name"] == "cpu" and r["db_schema_name"] == "iox")
    assert column_types(cpu["table_schema"]) == EXPECTED_TYPES


def test_flight_sql_statement(walk):
    st = step_ok(walk["statement"])
    assert st["info"]["endpoints"] == 1 and st["info"]["locations"] == [[]]
    assert names(st["info"]["schema"]) == names(st["schema"]) == ["host", "usage"]
    assert column_types(st["schema"]) == {k: EXPECTED_TYPES[k] for k in ("host", "usage")}
    assert st["rows"] == [{"host": "a", "usage": 1.5}, {"host": "b", "usage": 2.25}]


def test_flight_sql_prepared_statement(walk):
    prep = step_ok(walk["prepared"])
    assert prep["put_messages"] == ["Schema", "RecordBatch"] and len(prep["put_results"]) == 1
    assert prep["query"]["rows"] == [{"host": "a", "usage": 1.5}]
    assert prep["close_results"] in (0, 1)
    plain = step_ok(walk["no params"])
    assert plain["query"]["rows"] == [{"n": "2"}]
    # The result's schema comes with the handle, as InfluxDB 3 answers (ADBC/JDBC read it).
    assert prep["create"]["dataset_schema"] is not None, prep["create"]
    assert names(prep["create"]["dataset_schema"]) == ["host", "usage"]


def test_flight_sql_errors(walk):
    assert walk["no database header"]["error"]["code"] == 3, walk["no database header"]
    assert walk["unknown database"]["error"]["code"] == 5, walk["unknown database"]
    assert walk["bad sql"]["error"]["code"] == 3, walk["bad sql"]


# ---------------------------------------------------------------------------------------------
# One port for HTTP/1.1 and gRPC


def test_http_goes_on_working_on_the_same_port(server):
    db = load_cpu(server)
    # A gRPC stream in progress and HTTP/1.1 requests at the same time.
    big = unique_db("flight_mixed")
    body = "\n".join(f"m,t=x v={i}i {i}" for i in range(100_000))
    assert write_lp(server, big, body).status_code == 204
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    job = {"host": server.url, "database": big, "queries": [{"sql": "SELECT * FROM m", "mode": "count"}] * 3}
    proc = subprocess.Popen(["node", str(FLIGHT_DIR / "client.cjs"), json.dumps(job)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        for _ in range(20):
            assert requests.get(server.url + "/health", timeout=10).status_code == 200
            assert query_rows(server, db, "SELECT count(*) AS n FROM cpu") == [{"n": 2}]
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [r["count"] for r in json.loads(out)["results"]] == [100_000] * 3, err
    # Keep-alive HTTP/1.1 on one connection after gRPC connections came and went.
    with requests.Session() as sess:
        for i in range(5):
            assert sess.post(server.url + "/api/v3/write_lp", params={"db": db}, data=f"cpu,host=c usage={i}.5",
                             timeout=10).status_code == 204
    assert flight(server, db, "SELECT count(*) AS n FROM cpu WHERE host = 'c'", mode="raw")["rows"] == [{"n": "5"}]


def raw_exchange(server, data):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(1 << 16):
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), None)
                    if length is not None and len(rest) >= length:
                        break
        except socket.timeout:
            pass
    return out


def test_http1_requests_starting_with_pri_stay_http(server):
    """Only the exact 24-byte HTTP/2 preface goes to gRPC; an HTTP/1 request with the method PRI
    stays HTTP/1.1: well-formed, it is a 404 naming the methods (as any unknown method is, like
    InfluxDB 3); a broken request line is a 400. Both with a JSON error."""
    answers = {}
    for data in (b"PRI /api/v3/query_sql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 b"PRI * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"):
        head, _, body = raw_exchange(server, data).partition(b"\r\n\r\n")
        answers[data] = (head.split(b"\r\n")[0], body)
    expected = [b"HTTP/1.1 404", b"HTTP/1.1 404", b"HTTP/1.1 400"]
    for (data, (status, body)), want in zip(answers.items(), expected):
        assert status.startswith(want) and "error" in json.loads(body), answers
    # The server still answers both protocols.
    assert requests.get(server.url + "/health", timeout=10).status_code == 200
    db = load_cpu(server)
    assert flight(server, db, "SELECT count(*) AS n FROM cpu", mode="raw")["rows"] == [{"n": "2"}]


def test_flight_and_json_agree_on_nulls_strings_and_uneven_chunks(server):
    """DuckDB's vectors go out unconverted (VARCHAR re-laid, BOOLEAN bit-packed); a filter makes
    chunks of uneven sizes, so bitmaps are joined at odd bit offsets. Every value, NULL, inline
    (<= 12 bytes) and long string must match what /api/v3/query_sql answers."""
    db = unique_db()
    lines = []
    for i in range(6000):
        fields = [f"v={i}i", f's="{"x" * (i % 30)}"']
        if i % 3:
            fields.append(f"b={'true' if i % 2 else 'false'}")
        if i % 7:
            fields.append(f'long="{"L" * (i % 50)}\\"q"')
        lines.append(f"m,t=tag{i % 13}{'y' * (i % 20)} {','.join(fields)} {1700000000000000000 + i}")
    write_lp(server, db, "\n".join(lines))
    sql = "SELECT t, v, s, b, long, time FROM m WHERE v % 3 <> 1 AND v % 5 <> 2 ORDER BY time"
    expected = query_rows(server, db, sql)
    got = flight(server, db, sql, mode="raw")
    assert got["count"] == len(expected) > 3000
    for row, want in zip(got["rows"], expected):
        assert row["t"] == want["t"] and row["s"] == want["s"] and row.get("long") == want.get("long")
        assert row["b"] == want.get("b") and int(row["v"]) == want["v"]


def test_nested_and_other_duckdb_types_keep_their_arrow_types(server):
    db = load_cpu(server)
    sql = ("SELECT list(host ORDER BY host) AS hosts, {'n': 1, 's': 'x'} AS st, 1.5::DECIMAL(10,2) AS d, "
           "DATE '2024-01-02' AS day, sum(i) AS total FROM cpu")
    got = flight(server, db, sql, mode="raw")
    types = {f["name"]: f["type"] for f in got["schema"]}
    assert types["hosts"] == "List<Utf8>" and types["st"].startswith("Struct<") and types["day"] == "Date32<DAY>"
    assert types["total"] == "Int64", types  # DuckDB's HUGEINT sum, narrowed as InfluxDB 3 answers it
    row = got["rows"][0]
    assert row["hosts"] == ["a", "b"] and row["st"] == {"n": 1, "s": "x"} and row["total"] == "1"
    # A type with no IPC form here is refused with the column named.
    err = flight_error(server, db, "SELECT INTERVAL 1 DAY AS span FROM cpu")
    assert err["code"] == 3 and "span" in err["message"], err
