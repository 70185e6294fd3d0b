"""Issue 15 (bugs 2 and 3): details that real 1.x clients and scripts trip over. An empty
`precision=` (the influx CLI's `-precision rfc3339`), `Content-Encoding: gzip` on a bodiless
GET (python-influxdb with gzip=True), a malformed InfluxQL statement (400 with the InfluxQL
parse error, no generated SQL), and JSON bodies on unknown routes."""
import subprocess

import pytest
import requests

from conftest import query_rows, unique_db, write_lp


def test_an_empty_precision_is_the_endpoints_default(server):
    db = unique_db("prec")
    r = requests.post(server.url + "/write", params={"db": db, "precision": ""}, data="m v=1 1700000000000000000",
                      timeout=10)
    assert r.status_code == 204, r.text
    r = requests.post(server.url + "/api/v2/write", params={"bucket": db, "precision": ""},
                      data="m v=2 1700000000000000001", timeout=10)
    assert r.status_code == 204, r.text
    rows = query_rows(server, db, "SELECT CAST(time AS BIGINT) AS t FROM m ORDER BY t")
    assert rows == [{"t": 1700000000000000000}, {"t": 1700000000000000001}]


def test_gzip_marked_requests_without_a_body_are_accepted(server):
    db = unique_db("gz")
    assert write_lp(server, db, "m v=1").status_code == 204
    r = requests.get(server.url + "/query", params={"db": db, "q": "SELECT v FROM m"},
                     headers={"Content-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["series"][0]["values"][0][1] == 1.0
    assert requests.get(server.url + "/ping", headers={"Content-Encoding": "gzip"}, timeout=10).status_code == 200


@pytest.mark.parametrize("statement, found", [
    ("SELECT v FROM m WHERE", "found EOF"),
    ("SELECT v FROM m WHERE v >", "found EOF"),
    ("SELECT v FROM m WHERE time > now() - 1h AND", "found EOF"),
    ("SELECT v FROM m WHERE (v > 1", "expected )"),
    ("SELECT v FROM m WHERE v > 1 v", "found v"),
    ("SHOW TAG VALUES FROM m WITH KEY = host WHERE", "found EOF"),
])
def test_a_malformed_influxql_statement_is_a_400_with_the_parse_error(server, statement, found):
    db = unique_db("iql")
    assert write_lp(server, db, "m,host=a v=1").status_code == 204
    v3 = requests.get(server.url + "/api/v3/query_influxql", params={"db": db, "q": statement}, timeout=10)
    assert v3.status_code == 400 and found in v3.json()["error"], v3.text
    v1 = requests.get(server.url + "/query", params={"db": db, "q": statement}, timeout=10)
    text = v1.text
    assert found in text and "error parsing query" in text, text
    for leaked in ("riffle_", "ORDER BY", "LINE 1", "Parser Error"):
        assert leaked not in v3.text and leaked not in text, (leaked, v3.text, text)


def test_valid_conditions_still_run(server):
    db = unique_db("iql")
    assert write_lp(server, db, "m,host=a v=1,s=\"x\" 1\nm,host=b v=5,s=\"y\" 2", precision="s").status_code == 204
    for condition, n in [("v > 1", 1), ("(v > 1 OR host = 'a') AND NOT v = 3", 2), ("host =~ /^a/", 1),
                         ("v::float * 2 >= 10", 1), ("time >= 0 AND time < now()", 2), ("s != 'x'", 1),
                         ("-v < -2", 1)]:
        r = requests.get(server.url + "/query", params={"db": db, "q": f"SELECT v FROM m WHERE {condition}"},
                         timeout=10)
        series = r.json()["results"][0].get("series", [])
        assert series and len(series[0]["values"]) == n, (condition, r.text)


def test_an_error_from_the_translated_statement_does_not_show_its_sql(server):
    db = unique_db("iql")
    assert write_lp(server, db, "m v=1").status_code == 204
    r = requests.get(server.url + "/api/v3/query_influxql", params={"db": db, "q": "SELECT v FROM m WHERE nosuchfn(v) > 1"},
                     timeout=10)
    assert r.status_code == 400 and "nosuchfn" in r.json()["error"], r.text
    assert "LINE" not in r.text and "SELECT" not in r.text and "ORDER BY" not in r.text, r.text


def test_unknown_routes_answer_json(server):
    for method, path, hint in [("GET", "/nope", "no route for GET /nope"),
                               ("GET", "/api/v3/write_lp", "takes POST"),
                               ("DELETE", "/api/v3/query_sql", "takes GET or POST"),
                               ("GET", "/api/v3/configure/table", "does not take GET")]:
        r = requests.request(method, server.url + path, timeout=10)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json"), (path, r.text)
        assert hint in r.json()["error"], (path, r.text)


def test_the_influx_cli_with_rfc3339_precision_writes(server):
    """Debian's influx 1.x CLI, as a user runs it: -precision rfc3339 sends precision=."""
    db = unique_db("influxcli")
    assert write_lp(server, db, "m v=0").status_code == 204
    host, port = server.url.removeprefix("http://").split(":")
    r = subprocess.run(["influx", "-host", host, "-port", port, "-database", db, "-precision", "rfc3339",
                        "-execute", "INSERT m v=7 1700000000000000000"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert {"v": 7.0} in query_rows(server, db, "SELECT v FROM m")


def test_python_influxdb_with_gzip(server):
    """Debian's python3-influxdb with gzip=True marks every request gzip, its GETs too."""
    from influxdb import InfluxDBClient
    db = unique_db("pyinflux")
    host, port = server.url.removeprefix("http://").split(":")
    client = InfluxDBClient(host=host, port=int(port), database=db, gzip=True)
    assert client.write_points([{"measurement": "m", "tags": {"host": "a"}, "fields": {"v": 3.5}}])
    points = list(client.query("SELECT v FROM m WHERE host = 'a'").get_points())
    assert [p["v"] for p in points] == [3.5]


def test_influxql_bound_parameters(server):
    """InfluxDB 1.x `params`: $name in a statement takes the JSON value, as a literal (never as
    InfluxQL text: a quote in a string stays inside the string)."""
    import json
    db = unique_db("params")
    body = "m,host=a v=1 1\nm,host=a v=5 2\nm,host=it's v=7 3\nm,host=b v=9 4"
    assert write_lp(server, db, body, precision="s").status_code == 204

    def values(q, params):
        r = requests.get(server.url + "/query", params={"db": db, "q": q, "params": json.dumps(params)}, timeout=10)
        assert r.status_code == 200, r.text
        series = r.json()["results"][0].get("series", [])
        return [row[1] for row in series[0]["values"]] if series else []

    assert values("SELECT v FROM m WHERE host = $h AND v > $n", {"h": "a", "n": 2}) == [5.0]
    assert values("SELECT v FROM m WHERE host = $h", {"h": "it's"}) == [7.0]
    assert values("SELECT v FROM m WHERE v > $n", {"n": -1.5}) == [1.0, 5.0, 7.0, 9.0]
    assert values("SELECT v FROM m WHERE host = $h", {"h": "x' OR host = 'b"}) == []
    r = requests.get(server.url + "/query", params={"db": db, "q": "SELECT v FROM m WHERE host = $nope",
                                                    "params": "{}"}, timeout=10)
    assert r.status_code == 400 and "missing parameter: nope" in r.text
    r = requests.get(server.url + "/query", params={"db": db, "q": "SELECT v FROM m", "params": "[1]"}, timeout=10)
    assert r.status_code == 400 and "JSON object" in r.text
    # python-influxdb's bind_params sends exactly this.
    from influxdb import InfluxDBClient
    host, port = server.url.removeprefix("http://").split(":")
    client = InfluxDBClient(host=host, port=int(port), database=db)
    points = client.query("SELECT v FROM m WHERE host = $h", bind_params={"h": "b"}).get_points()
    assert [p["v"] for p in points] == [9.0]


def test_influxql_management_statements(server):
    """CREATE|DROP DATABASE, DROP MEASUREMENT and the retention-policy statements act on the
    catalog (a database has one retention period); SHOW USERS lists none; others say what is
    not supported. Run as the influx 1.x CLI runs them."""
    db = unique_db("manage")

    def q(statement, **extra):
        return requests.post(server.url + "/query", data={"q": statement, **extra}, timeout=10)

    def databases():
        return [r["iox::database"] for r in
                requests.get(server.url + "/api/v3/configure/database", params={"format": "json"}, timeout=10).json()]

    def retention():
        series = q(f"SHOW RETENTION POLICIES ON {db}").json()["results"][0]["series"][0]
        assert series["columns"][:2] == ["name", "duration"]
        return series["values"][0][1]

    r = q(f'CREATE DATABASE "{db}" WITH DURATION 30d')
    assert r.status_code == 200 and r.json() == {"results": [{"statement_id": 0}]}, r.text
    assert db in databases() and retention() == "720h0m0s"
    assert q(f"CREATE DATABASE {db}").json() == {"results": [{"statement_id": 0}]}  # exists: not an error
    assert write_lp(server, db, "gone v=1\nkept v=2").status_code == 204
    assert q("DROP MEASUREMENT gone", db=db).json() == {"results": [{"statement_id": 0}]}
    tables = [t["table_name"] for t in query_rows(server, db, "SHOW TABLES") if t["table_schema"] == "iox"]
    assert tables == ["kept"]
    q(f"ALTER RETENTION POLICY autogen ON {db} DURATION 7d DEFAULT")
    week = retention()
    q(f"CREATE RETENTION POLICY two ON {db} DURATION 2d REPLICATION 1 SHARD DURATION 1h DEFAULT")
    two_days = retention()
    q(f"DROP RETENTION POLICY two ON {db}")
    assert (week, two_days, retention()) == ("168h0m0s", "48h0m0s", "0s")
    users = q("SHOW USERS").json()["results"][0]
    assert users["series"][0]["columns"] == ["user", "admin"] and "values" not in users["series"][0] or \
        users["series"][0]["values"] == []
    err = q("DROP SERIES FROM kept", db=db).json()["results"][0]["error"]
    assert "DROP SERIES is not supported" in err
    assert q("CREATE DATABASE").status_code == 400  # does not parse
    assert q(f"DROP DATABASE {db}").json() == {"results": [{"statement_id": 0}]}
    assert db not in databases()
    # The influx 1.x CLI, verbatim.
    other = unique_db("manage")
    host, port = server.url.removeprefix("http://").split(":")
    out = subprocess.run(["influx", "-host", host, "-port", port, "-execute", f"CREATE DATABASE {other}"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert other in databases()
