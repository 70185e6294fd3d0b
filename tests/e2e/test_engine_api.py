"""The influxdb3_local API and LineBuilder, compared with InfluxDB 3's golden outputs."""
import textwrap

import requests

from conftest import query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin, create_trigger as create

GOLDEN = [
    "metrics,host=server01,region=us-west cpu=42i,memory_bytes=8589934592u,load=86.5,status=\"online\",healthy=t 1609459200000000000",
    "system_metrics,server=app\\ server\\ 1,datacenter=us\\ west count=1i",
    "network,servers=web\\,app\\,db,location=floor1\\,rack3 connections=256i",
    "formulas,equation=y\\=mx+b,result=a\\=b\\=c value=3.14159",
    "paths,windows_path=C:\\\\Program\\ Files\\\\App,regex=\\\\d+\\\\w+ description=\"Windows\\\\Unix paths\",count=42i",
    "messages,type=notification content=\"User said \\\"Hello World\\\"\",json=\"{\\\"key\\\": \\\"value\\\"}\",priority=1i",
    "sensor_data,device=thermostat,room=living\\ room,floor=1 temperature=72.5,humidity=45i,mode=\"auto\"",
    "some_table,tag1=tag1_value,tag2=tag2_value field1=1i,field2=2.0,field3=\"number three\"",
    "other_table other_field=1i,other_field2=3.14 1302",
]

BUILDERS = r'''
def lines():
    yield (LineBuilder("metrics").tag("host", "server01").tag("region", "us-west").int64_field("cpu", 42)
           .uint64_field("memory_bytes", 8589934592).float64_field("load", 86.5).string_field("status", "online")
           .bool_field("healthy", True).time_ns(1609459200000000000))
    yield LineBuilder("system_metrics").tag("server", "app server 1").tag("datacenter", "us west").int64_field("count", 1)
    yield LineBuilder("network").tag("servers", "web,app,db").tag("location", "floor1,rack3").int64_field("connections", 256)
    yield LineBuilder("formulas").tag("equation", "y=mx+b").tag("result", "a=b=c").float64_field("value", 3.14159)
    yield (LineBuilder("paths").tag("windows_path", "C:\\Program Files\\App").tag("regex", "\\d+\\w+")
           .string_field("description", "Windows\\Unix paths").int64_field("count", 42))
    yield (LineBuilder("messages").tag("type", "notification").string_field("content", 'User said "Hello World"')
           .string_field("json", '{"key": "value"}').int64_field("priority", 1))
    yield (LineBuilder("sensor_data").tag("device", "thermostat").tag("room", "living room").tag("floor", "1")
           .float64_field("temperature", 72.5).int64_field("humidity", 45).string_field("mode", "auto"))
    yield (LineBuilder("some_table").tag("tag1", "tag1_value").tag("tag2", "tag2_value").int64_field("field1", 1)
           .float64_field("field2", 2).string_field("field3", "number three"))
    yield LineBuilder("other_table").int64_field("other_field", 1).float64_field("other_field2", 3.14).time_ns(1302)

def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    out = [l.build() for l in lines()]
    errors = []
    for bad in (lambda: LineBuilder("has space"), lambda: LineBuilder("m").tag("", "v"),
                lambda: LineBuilder("m").tag("a,b", "v"), lambda: LineBuilder("m").uint64_field("u", -1),
                lambda: LineBuilder("m").tag("t", "v").build()):
        try:
            bad()
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")
    return {"lines": out, "errors": errors}
'''


def test_linebuilder_matches_influxdb_golden_output(server):
    db = unique_db("lb")
    server.cli("create", "database", db)
    put_plugin(server, "builders.py", BUILDERS)
    create(server, db, "builders", f"request:lb_{db}", "builders.py")
    body = requests.get(f"{server.url}/api/v3/engine/lb_{db}").json()
    assert body["lines"] == GOLDEN
    assert body["errors"] == [
        "InvalidMeasurementError: Measurement name cannot contain spaces",
        "InvalidKeyError: tag key cannot be empty",
        "InvalidKeyError: tag key 'a,b' cannot contain commas",
        "ValueError: uint64 field 'u' cannot be negative",
        "InvalidLineError: At least one field is required: m,t=v",
    ]
    # Every golden line is valid line protocol for the server too.
    assert write_lp(server, db, "\n".join(GOLDEN)).status_code == 204
    assert query_rows(server, db, "SELECT windows_path, description FROM paths") == [
        {"windows_path": "C:\\Program Files\\App", "description": "Windows\\Unix paths"}]


def test_request_return_values_become_http_responses(server):
    db = unique_db("flask")
    server.cli("create", "database", db)
    cases = {
        "string": ("'Hello, World!'", 200, "text/html", "Hello, World!"),
        "dict": ("{'a': 1}", 200, "application/json", '{"a": 1}'),
        "list": ("[1, 2]", 200, "application/json", "[1, 2]"),
        "tuple_status": ("('Created', 201)", 201, "text/html", "Created"),
        "tuple_headers": ("('plain', {'Content-Type': 'text/plain', 'x-custom-header': 'v'})", 200, "text/plain", "plain"),
        "tuple_all": ("('gone', 404, {'Content-Type': 'text/plain'})", 404, "text/plain", "gone"),
        "json_status": ("({'e': 'x'}, 404)", 404, "application/json", '{"e": "x"}'),
        "iterator": ("(x for x in ['Line 1\\n', 'Line 2\\n', 'Line 3\\n'])", 200, "text/html", "Line 1\nLine 2\nLine 3\n"),
    }
    for name, (expr, status, ctype, body) in cases.items():
        put_plugin(server, f"ret_{name}.py", f"def process_request(influxdb3_local, q, h, b, args=None):\n"
                                             f"    return {expr}\n")
        create(server, db, f"ret_{name}", f"request:ret_{name}_{db}", f"ret_{name}.py")
        r = requests.get(f"{server.url}/api/v3/engine/ret_{name}_{db}")
        assert (r.status_code, r.headers["Content-Type"], r.text) == (status, ctype, body), name
    put_plugin(server, "ret_obj.py", '''
class Resp:
    status_code = 202
    headers = {"Content-Type": "text/custom"}
    def __flask_response__(self):
        return True
    def get_data(self):
        return "custom body"

def process_request(influxdb3_local, q, h, b, args=None):
    return Resp()
''')
    create(server, db, "ret_obj", f"request:ret_obj_{db}", "ret_obj.py")
    r = requests.get(f"{server.url}/api/v3/engine/ret_obj_{db}")
    assert (r.status_code, r.headers["Content-Type"], r.text) == (202, "text/custom", "custom body")


def test_request_arguments_shapes(server):
    db = unique_db("req")
    server.cli("create", "database", db)
    put_plugin(server, "shapes.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"q": query_parameters, "auth": "authorization" in request_headers,
            "custom": request_headers.get("x-custom"), "body_type": type(request_body).__name__,
            "body": request_body.decode(), "args": args}
''')
    create(server, db, "shapes", f"request:shapes_{db}", "shapes.py")
    r = requests.post(f"{server.url}/api/v3/engine/shapes_{db}?a=1&b=two%20words&a=3", data=b"raw body",
                      headers={"X-Custom": "yes", "Authorization": "Bearer secret"})
    assert r.json() == {"q": {"a": "3", "b": "two words"}, "auth": False, "custom": "yes", "body_type": "bytes",
                        "body": "raw body", "args": None}


def test_query_params_sync_writes_and_write_errors(server):
    db = unique_db("api")
    server.cli("create", "database", db)
    assert write_lp(server, db, "cpu,host=s1,region=us-west usage=0.5\ncpu,host=s2,region=us-east usage=0.89").status_code == 204
    put_plugin(server, "sync.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    rows = influxdb3_local.query("SELECT host, region, usage FROM cpu WHERE host = $host", {"host": "s2"})
    influxdb3_local.write_sync(LineBuilder("sync_table").int64_field("v", 1), no_sync=False)
    visible = influxdb3_local.query("SELECT v FROM sync_table")
    other = influxdb3_local.query("SELECT 1 AS one", database=args["other"])
    problems = []
    try:
        influxdb3_local.write_sync(LineBuilder("cpu").string_field("usage", "not a float"), False)
    except Exception as e:
        problems.append(str(e))
    try:
        influxdb3_local.query("SELECT * FROM not_here")
    except Exception as e:
        problems.append(type(e).__name__)
    try:
        influxdb3_local.query("SELECT 1", database="bad db")
    except Exception as e:
        problems.append(str(e))
    return {"rows": rows, "visible": visible, "other": other, "problems": problems}
''')
    other = unique_db("other")
    server.cli("create", "database", other)
    create(server, db, "sync", f"request:sync_{db}", "sync.py", "--trigger-arguments", f"other={other}")
    body = requests.get(f"{server.url}/api/v3/engine/sync_{db}").json()
    assert body["rows"] == [{"host": "s2", "region": "us-east", "usage": 0.89}]
    assert body["visible"] == [{"v": 1}]
    assert body["other"] == [{"one": 1}]
    assert body["problems"][0].startswith("error writing line protocol to " + db)
    assert "usage" in body["problems"][0]
    assert body["problems"][1] == "QueryError"
    assert "invalid database name" in body["problems"][2] and "bad db" in body["problems"][2]


def test_cache_ttl_and_namespaces(server):
    db = unique_db("cache")
    server.cli("create", "database", db)
    put_plugin(server, "cache_a.py", '''
import time
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    c = influxdb3_local.cache
    if query_parameters.get("step") == "1":
        c.put("short", "v", ttl=0.3)
        c.put("local", "a-only")
        c.put("shared", "everyone", use_global=True)
        return {"short": c.get("short")}
    time.sleep(0.5)
    return {"short": c.get("short", default="expired"), "local": c.get("local"),
            "deleted": c.delete("local"), "deleted_again": c.delete("local")}
''')
    put_plugin(server, "cache_b.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"local": influxdb3_local.cache.get("local"),
            "shared": influxdb3_local.cache.get("shared", use_global=True)}
''')
    create(server, db, "cache_a", f"request:cache_a_{db}", "cache_a.py")
    create(server, db, "cache_b", f"request:cache_b_{db}", "cache_b.py")
    assert requests.get(f"{server.url}/api/v3/engine/cache_a_{db}?step=1").json() == {"short": "v"}
    assert requests.get(f"{server.url}/api/v3/engine/cache_b_{db}").json() == {"local": None, "shared": "everyone"}
    assert requests.get(f"{server.url}/api/v3/engine/cache_a_{db}?step=2").json() == {
        "short": "expired", "local": "a-only", "deleted": True, "deleted_again": False}


def test_wal_rows_have_only_the_columns_of_their_line(server):
    db = unique_db("rows")
    server.cli("create", "database", db)
    put_plugin(server, "rows.py", '''
def process_writes(influxdb3_local, table_batches, args=None):
    for b in table_batches:
        for row in b["rows"]:
            influxdb3_local.info(b["table_name"], sorted(row.items()))
''')
    create(server, db, "rows", "all_tables", "rows.py")
    assert write_lp(server, db, 'cpu,host=a i=1i,u=2u,f=1.5,b=t,s="x" 1700000000000000000\ncpu,host=b f=2',
                    precision="ns").status_code == 204
    texts = wait_for(lambda: [r["log_text"] for r in query_rows(
        server, db, "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'rows' "
                    "AND log_text LIKE 'cpu%'")] or None)
    assert texts[0] == ("cpu [('b', True), ('f', 1.5), ('host', 'a'), ('i', 1), ('s', 'x'), "
                        "('time', 1700000000000000000), ('u', 2)]")
    assert texts[1].startswith("cpu [('f', 2.0), ('host', 'b'), ('time', ")
