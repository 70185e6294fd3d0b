"""Resource tokens (InfluxDB 3 Enterprise's permission model): what each kind of token may do.

Proves, against one server holding an admin token and a resource token of every shape (read a,
write a, read+write b, an expired one, db:*:read, system:metrics:read), that every HTTP route
answers each caller with the expected class: allowed (2xx, or 4xx for a bad body), 401 (no,
unknown or expired token) or 403 with a JSON error naming the missing permission. Writes need
db:<db>:write, queries db:<db>:read (neither implies the other), request triggers write on the
trigger's database, /metrics system:metrics:read, /health and /ping nothing, _internal and every
management route an admin token. Then the same rules over Flight (DoGet ticket database, Flight
SQL 'database' header), through the CLI (create/show/delete token, query), and after a restart.
Also: InfluxQL statements that manage or list every database are refused to resource tokens on
every path (/query, /api/v3/query_influxql, Flight), /write?rp= is checked against the database
it writes ("a/other"), and a token made before the admin token does not lock the admin out."""
import json
import time

import grpc
import pytest
import requests

from conftest import Server, query, write_lp
from test_auth import make_token
from test_flight import grpc_doget, varint

OK, ANY = "2xx", "allowed"  # ANY: any answer but 401/403 (and no 5xx): the handler ran
CALLERS = ["none", "admin", "read_a", "write_a", "rw_b", "expired", "star_read", "metrics"]
PERMISSIONS = {  # caller -> resource token's permissions (HTTP body form)
    "read_a": [("db", ["a"], ["read"])],
    "write_a": [("db", ["a"], ["write"])],
    "rw_b": [("db", ["b"], ["read", "write"])],
    "star_read": [("db", ["*"], ["read"])],
    "metrics": [("system", ["metrics"], ["read"])],
}
HOOK = '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"hook": "ran"}
'''


def denied(needle):
    return ("403", needle)


def by_caller(allowed, needle):
    """`allowed` callers: 2xx; no or expired token: 401; every other token: 403 naming `needle`."""
    return {c: OK if c in allowed else 401 if c in ("none", "expired") else denied(needle) for c in CALLERS}


def needs(db, action, allowed):
    return by_caller(allowed, f"db:{db}:{action}")


READ_A = needs("a", "read", {"admin", "read_a", "star_read"})
WRITE_A = needs("a", "write", {"admin", "write_a"})
READ_B = needs("b", "read", {"admin", "rw_b", "star_read"})
WRITE_B = needs("b", "write", {"admin", "rw_b"})
ADMIN = by_caller({"admin"}, "needs an admin token")
OPEN = {c: OK for c in CALLERS}
METRICS = by_caller({"admin", "metrics"}, "system:metrics:read")
# /query (v1): a resource token that may read a still may not manage, nor list every database.
V1_ADMIN_STATEMENT = READ_A | {"read_a": denied("needs an admin token"), "star_read": denied("needs an admin token")}


def only_admin_runs(expect):  # the admin's call reaches the handler, which may refuse the body
    return expect | {"admin": ANY}


# (id, method, path, request kwargs, expectations, options). Bodies that change state touch
# objects only the admin's call may change (so the order of callers does not matter).
ROUTES = [
    ("write_lp", "POST", "/api/v3/write_lp", dict(params={"db": "a"}, data="m,t=x v=1"), WRITE_A, {}),
    ("write_lp_b", "POST", "/api/v3/write_lp", dict(params={"db": "b"}, data="m,t=x v=1"), WRITE_B, {}),
    ("v2_write", "POST", "/api/v2/write", dict(params={"bucket": "a"}, data="m,t=x v=2"), WRITE_A, {"v2": True}),
    ("v1_write", "POST", "/write", dict(params={"db": "a"}, data="m,t=x v=3"), WRITE_A, {}),
    ("v1_write_p", "POST", "/write", dict(params={"db": "a"}, data="m,t=x v=4"), WRITE_A, {"p": True}),
    # InfluxDB 3 writes db=a&rp=other into the database "a/other": a's token does not cover it.
    ("v1_write_rp", "POST", "/write", dict(params={"db": "a", "rp": "other"}, data="m v=5"),
     needs("a/other", "write", {"admin"}), {}),
    ("query_sql_get", "GET", "/api/v3/query_sql", dict(params={"db": "a", "q": "SELECT count(*) FROM m"}), READ_A, {}),
    ("query_sql_post", "POST", "/api/v3/query_sql", dict(json={"db": "a", "q": "SELECT count(*) FROM m"}), READ_A, {}),
    ("query_sql_b", "POST", "/api/v3/query_sql", dict(json={"db": "b", "q": "SELECT count(*) FROM m"}), READ_B, {}),
    ("query_sql_internal", "GET", "/api/v3/query_sql", dict(params={"db": "_internal", "q": "SELECT 1"}),
     only_admin_runs(needs("_internal", "read", {"admin"})), {}),
    ("query_influxql", "POST", "/api/v3/query_influxql", dict(json={"db": "a", "q": "SELECT * FROM m"}), READ_A, {}),
    ("influxql_show_databases", "POST", "/api/v3/query_influxql", dict(json={"db": "a", "q": "SHOW DATABASES"}),
     V1_ADMIN_STATEMENT, {}),
    ("influxql_create_database", "POST", "/api/v3/query_influxql",
     dict(json={"db": "a", "q": "CREATE DATABASE made_by_influxql"}), V1_ADMIN_STATEMENT, {}),
    ("v1_query_select", "GET", "/query", dict(params={"db": "a", "q": "SELECT * FROM m"}), READ_A, {}),
    ("v1_query_select_p", "GET", "/query", dict(params={"db": "a", "q": "SELECT * FROM m"}), READ_A, {"p": True}),
    ("v1_query_drop", "POST", "/query", dict(params={"db": "a", "q": "DROP MEASUREMENT dropme"}),
     V1_ADMIN_STATEMENT, {}),
    ("v1_query_show_databases", "GET", "/query", dict(params={"db": "a", "q": "SHOW DATABASES"}),
     V1_ADMIN_STATEMENT, {}),
    ("v1_query_no_db", "GET", "/query", dict(params={"q": "SHOW DATABASES"}),
     by_caller({"admin"}, "must name its database"), {}),
    ("database_get", "GET", "/api/v3/configure/database", dict(params={"format": "json"}), ADMIN, {}),
    ("database_post", "POST", "/api/v3/configure/database", dict(json={"db": "made_by_admin"}), ADMIN, {}),
    ("database_delete", "DELETE", "/api/v3/configure/database", dict(params={"db": "scratch"}), ADMIN, {}),
    ("table_post", "POST", "/api/v3/configure/table",
     dict(json={"db": "a", "table": "t2", "tags": ["k"], "fields": [{"name": "f", "type": "int64"}]}), ADMIN, {}),
    ("trigger_post", "POST", "/api/v3/configure/processing_engine_trigger",
     dict(json={"db": "a", "plugin_filename": "hook.py", "trigger_name": "made_by_admin",
                "trigger_specification": "request:made_by_admin"}), only_admin_runs(ADMIN), {}),
    ("last_cache_post", "POST", "/api/v3/configure/last_cache",
     dict(json={"db": "a", "table": "m", "name": "lc_admin"}), only_admin_runs(ADMIN), {}),
    ("plugin_file_post", "POST", "/api/v3/plugins/files",
     dict(json={"plugin_name": "made.py", "content": HOOK}), only_admin_runs(ADMIN), {}),
    ("plugin_test_wal", "POST", "/api/v3/plugin_test/wal",
     dict(json={"filename": "hook.py", "database": "a", "input_lp": "m v=1"}), only_admin_runs(ADMIN), {}),
    ("install_packages", "POST", "/api/v3/configure/plugin_environment/install_packages",
     dict(json={"packages": []}), only_admin_runs(ADMIN), {}),
    ("token_create", "POST", "/api/v3/enterprise/configure/token",
     dict(json={"token_name": "made_by_table", "permissions": [
         {"resource_type": "db", "resource_names": ["a"], "actions": ["read"]}]}), ADMIN, {}),
    ("token_list", "GET", "/api/v3/configure/token", {}, ADMIN, {}),
    ("metrics", "GET", "/metrics", {}, METRICS, {}),
    ("health", "GET", "/health", {}, OPEN, {}),
    ("ping", "GET", "/ping", {}, OPEN, {}),
    ("request_trigger", "GET", "/api/v3/engine/tok_hook", {}, WRITE_A, {}),
]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def create_token(s, admin, name, perms, expiry_secs=None):
    body = {"token_name": name, "expiry_secs": expiry_secs,
            "permissions": [{"resource_type": t, "resource_names": n, "actions": a} for t, n, a in perms]}
    r = requests.post(s.url + "/api/v3/enterprise/configure/token", json=body, headers=bearer(admin), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("scopes")).start()
    try:
        for db in ("a", "b", "scratch"):
            assert write_lp(s, db, "m,t=x v=0\ndropme v=0\nkept v=0").status_code == 204
        admin = make_token(s)
        (s.plugin_dir / "hook.py").write_text(HOOK)
        s.cli("create", "trigger", "-d", "a", "--trigger-spec", "request:tok_hook", "--plugin-filename", "hook.py",
              "tok_hook", "--token", admin)
        tokens = {"admin": admin, **{c: create_token(s, admin, c, p) for c, p in PERMISSIONS.items()}}
        tokens["expired"] = create_token(s, admin, "expired", PERMISSIONS["read_a"] + PERMISSIONS["write_a"], 1)
        time.sleep(2)
        yield s, tokens
    finally:
        s.kill9()


def check(r, expected, v2=False):
    what = f"{r.request.method} {r.url} -> {r.status_code} {r.text[:400]}"
    if expected == OK:
        assert 200 <= r.status_code < 300, what
    elif expected == ANY:
        assert r.status_code < 500 and r.status_code not in (401, 403), what
    elif expected == 401:
        assert r.status_code == 401, what
    else:
        assert r.status_code == 403, what
        body = r.json()
        if v2:
            assert body["code"] == "forbidden", what
        text = body["message"] if v2 else body["error"]
        assert "permission denied" in text and expected[1] in text, what


@pytest.mark.parametrize("route,caller", [(r, c) for r in ROUTES for c in CALLERS],
                         ids=[f"{r[0]}-{c}" for r in ROUTES for c in CALLERS])
def test_route_by_caller(env, route, caller):
    s, tokens = env
    _, method, path, kw, expectations, opts = route
    kw = {**kw, "params": dict(kw.get("params", {}))}
    headers = {}
    if caller in tokens:
        if opts.get("p"):
            kw["params"]["p"] = tokens[caller]
        else:
            headers = bearer(tokens[caller])
    r = requests.request(method, s.url + path, headers=headers, timeout=60, **kw)
    check(r, expectations[caller], v2=opts.get("v2", False))
    if path.startswith("/api/v3/engine/") and expectations[caller] == OK:
        assert r.json() == {"hook": "ran"}, r.text  # the plugin ran, not just the route


# ---------------------------------------------------------------------------------------------
# Flight: the ticket's database (DoGet) and the 'database' header (Flight SQL GetFlightInfo)

FLIGHT = {"none": "UNAUTHENTICATED", "expired": "UNAUTHENTICATED", "admin": "OK", "read_a": "OK",
          "star_read": "OK", "write_a": "PERMISSION_DENIED", "rw_b": "PERMISSION_DENIED",
          "metrics": "PERMISSION_DENIED"}
GET_FLIGHT_INFO = "/arrow.flight.protocol.FlightService/GetFlightInfo"


def field(number, payload):  # a length-delimited protobuf field
    return bytes([number << 3 | 2]) + varint(len(payload)) + payload


def statement_descriptor(sql):
    """FlightDescriptor{type: CMD, cmd: Any(CommandStatementQuery{query: sql})}, hand-encoded."""
    any_ = field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + field(2, field(1, sql.encode()))
    return b"\x08\x02" + field(2, any_)


def flight_outcome(call):
    try:
        call()
        return "OK", ""
    except grpc.RpcError as e:
        return e.code().name, e.details()


@pytest.mark.parametrize("caller", CALLERS)
def test_flight_by_caller(env, caller):
    s, tokens = env
    auth = [("authorization", f"Bearer {tokens[caller]}")] if caller in tokens else []
    raw = json.dumps({"database": "a", "sql_query": "SELECT count(*) AS n FROM m"}).encode()
    code, details = flight_outcome(lambda: grpc_doget(s, raw, metadata=auth))
    assert code == FLIGHT[caller], (caller, code, details)
    if code == "PERMISSION_DENIED":
        assert "db:a:read" in details, details

    def get_flight_info(database):
        with grpc.insecure_channel(s.url.removeprefix("http://")) as ch:
            call = ch.unary_unary(GET_FLIGHT_INFO, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            return call(statement_descriptor("SELECT count(*) FROM m"), timeout=30,
                        metadata=auth + [("database", database)])
    code, details = flight_outcome(lambda: get_flight_info("a"))
    assert code == FLIGHT[caller], ("flight sql", caller, code, details)
    if code == "PERMISSION_DENIED":
        assert "db:a:read" in details, details
    if caller in ("star_read", "rw_b"):  # _internal needs an admin token; b is rw_b's own
        internal = json.dumps({"database": "_internal", "sql_query": "SELECT 1"}).encode()
        assert flight_outcome(lambda: grpc_doget(s, internal, metadata=auth))[0] == "PERMISSION_DENIED"
    if caller == "rw_b":
        assert flight_outcome(lambda: get_flight_info("b")) == ("OK", "")
    # As on /query: a resource token may not list every database (InfluxQL SHOW DATABASES).
    show = json.dumps({"database": "a", "sql_query": "SHOW DATABASES", "query_type": "influxql"}).encode()
    code, details = flight_outcome(lambda: grpc_doget(s, show, metadata=auth))
    expected = FLIGHT[caller] if caller not in ("read_a", "star_read") else "PERMISSION_DENIED"
    assert code == expected, ("influxql SHOW DATABASES", caller, code, details)


# ---------------------------------------------------------------------------------------------
# The CLI and a restart

def cli_token(out):
    return next(line.split("Token: ", 1)[1] for line in out.splitlines() if line.startswith("Token: "))


def test_cli_creates_lists_uses_and_deletes_resource_tokens(env):
    s, tokens = env
    admin = ("--token", tokens["admin"])
    made = s.cli("create", "token", "--permission", "db:a:read", "--name", "cli_read", "--expiry", "1d", *admin)
    reader = cli_token(made.stdout)
    assert reader.startswith("apiv3_") and "will not be shown again" in made.stdout
    as_json = json.loads(s.cli("create", "token", "--permission", "db:a,b:read,write", "--name", "cli_rw",
                               "--format", "json", *admin).stdout)
    assert as_json["permissions"] == "db:a,b:read,write" and as_json["token"].startswith("apiv3_")
    rows = {line.split("\t")[1]: line.split("\t") for line in s.cli("show", "tokens", *admin).stdout.splitlines()}
    assert rows["_admin"][2] == "*:*:*"
    assert rows["cli_read"][2] == "db:a:read" and rows["cli_read"][-1].startswith("expires ")
    assert rows["cli_rw"][2] == "db:a,b:read,write" and rows["metrics"][2] == "system:metrics:read"
    assert reader not in str(rows)
    # query: the read token reads; the write token is refused, naming what it lacks.
    out = s.cli("query", "-d", "a", "SELECT count(*) AS n FROM kept", "--format", "json", "--token", reader).stdout
    assert json.loads(out) == [{"n": 1}]
    refused = s.cli("query", "-d", "a", "SELECT 1", "--token", tokens["write_a"], check=False)
    assert refused.returncode != 0 and "db:a:read" in refused.stderr, refused
    refused = s.cli("write", "-d", "a", "m v=9", "--token", reader, check=False)
    assert refused.returncode != 0 and "db:a:write" in refused.stderr, refused
    s.cli("write", "-d", "b", "m v=9", "--token", as_json["token"])
    # A resource token may not manage tokens, from the CLI either.
    refused = s.cli("show", "tokens", "--token", reader, check=False)
    assert refused.returncode != 0 and "admin token" in refused.stderr, refused
    # Bad permissions are refused before anything is sent, with the form expected.
    for bad, says in (("db:a:drop", "action 'drop'"), ("db:a", "three parts"), ("table:a:read", "resource type"),
                      ("system:disk:read", "system resource 'disk'"), ("db:a,*:read", "mixes *")):
        r = s.cli("create", "token", "--permission", bad, "--name", "bad", *admin, check=False)
        assert r.returncode != 0 and says in r.stderr and "db:NAME" in r.stderr, (bad, r.stderr)
    assert "bad" not in s.cli("show", "tokens", *admin).stdout
    # Deleted: the token is unknown at once (401).
    s.cli("delete", "token", "--token-name", "cli_read", *admin)
    r = requests.get(s.url + "/api/v3/query_sql", params={"db": "a", "q": "SELECT 1"}, headers=bearer(reader), timeout=10)
    assert r.status_code == 401, r.text
    gone = s.cli("query", "-d", "a", "SELECT 1", "--token", reader, check=False)
    assert gone.returncode != 0 and "not authenticated" in gone.stderr


def test_a_token_made_before_the_admin_token_does_not_lock_the_admin_out(fresh_server):
    s = fresh_server.start()
    r = requests.post(s.url + "/api/v3/enterprise/configure/token", timeout=10, json={
        "token_name": "early", "permissions": [{"resource_type": "db", "resource_names": ["a"], "actions": ["read"]}]})
    made = s.cli("create", "token", "--admin", check=False)
    assert r.status_code != 201 or made.returncode == 0, (r.status_code, made.stderr)


def test_permissions_survive_a_restart(fresh_server):
    s = fresh_server.start()
    assert write_lp(s, "a", "m v=1").status_code == 204 and write_lp(s, "b", "m v=1").status_code == 204
    admin = make_token(s)
    reader = json.loads(s.cli("create", "token", "--permission", "db:a:read", "--name", "r", "--format", "json",
                              "--token", admin).stdout)["token"]
    writer = create_token(s, admin, "w", [("db", ["a"], ["write"])])
    s.restart()

    def status(method, path, token, **kw):
        return requests.request(method, s.url + path, headers=bearer(token) if token else {}, timeout=10, **kw)
    assert status("POST", "/api/v3/query_sql", reader, json={"db": "a", "q": "SELECT v FROM m"}).json() == [{"v": 1.0}]
    r = status("POST", "/api/v3/query_sql", reader, json={"db": "b", "q": "SELECT v FROM m"})
    assert r.status_code == 403 and "db:b:read" in r.json()["error"], r.text
    r = status("POST", "/api/v3/write_lp", reader, params={"db": "a"}, data="m v=2")
    assert r.status_code == 403 and "db:a:write" in r.json()["error"], r.text
    assert status("POST", "/api/v3/write_lp", writer, params={"db": "a"}, data="m v=2").status_code == 204
    r = status("POST", "/api/v3/query_sql", writer, json={"db": "a", "q": "SELECT 1"})
    assert r.status_code == 403 and "db:a:read" in r.json()["error"], r.text
    assert status("POST", "/api/v3/write_lp", None, params={"db": "a"}, data="m v=3").status_code == 401
    listed = {t["name"]: t["permissions"] for t in status("GET", "/api/v3/configure/token", admin).json()}
    assert listed == {"_admin": "*:*:*", "r": "db:a:read", "w": "db:a:write"}
    assert query(s, "a", "SELECT 1").status_code == 401


CROSS_DATABASE = [  # read from b with a token for a: every form must fail without leaking b's data
    "SELECT * FROM b.m", "SELECT * FROM db_1.m", "SELECT * FROM db_2.m", "SELECT * FROM buffer.db_2.m",
    "SELECT * FROM duckdb_tables()", "SELECT * FROM information_schema.schemata", "SELECT * FROM pg_tables",
    "SELECT getvariable('riffle_files_1')", "SELECT * FROM query('SELECT * FROM db_2.m')",
    "WITH x AS (SELECT * FROM db_2.m) SELECT * FROM x", "SELECT * FROM m UNION ALL SELECT * FROM db_2.m",
]


@pytest.mark.parametrize("sql", CROSS_DATABASE)
def test_a_token_for_one_database_cannot_reach_another_through_sql(env, sql):
    """The token allows reading a; the statement runs in a's scope (query/statement_scope.h),
    so naming b's schema, DuckDB's catalog or b's files is refused before DuckDB binds it."""
    s, tokens = env
    r = requests.post(s.url + "/api/v3/write_lp", params={"db": "b"}, data="m,t=secret_of_b v=42",
                      headers=bearer(tokens["admin"]), timeout=10)
    assert r.status_code == 204, r.text
    r = requests.get(s.url + "/api/v3/query_sql", params={"db": "a", "q": sql}, headers=bearer(tokens["read_a"]),
                     timeout=10)
    assert r.status_code == 400, r.text
    assert "secret_of_b" not in r.text and "error" in r.json(), r.text


def test_a_read_token_runs_influxql_with_bound_parameters_but_not_select_into(env):
    s, tokens = env
    ok = requests.get(s.url + "/query", params={"db": "a", "q": "SELECT v FROM m WHERE t = $t", "params": '{"t": "x"}'},
                      headers=bearer(tokens["read_a"]), timeout=10)
    assert ok.status_code == 200 and "error" not in ok.json()["results"][0], ok.text
    quoted = requests.get(s.url + "/query", params={"db": "a", "q": 'SELECT "into" FROM m'},
                          headers=bearer(tokens["read_a"]), timeout=10)
    assert quoted.status_code == 200, quoted.text  # a quoted name is not the keyword
    into = requests.get(s.url + "/query", params={"db": "a", "q": "SELECT v INTO copy FROM m"},
                        headers=bearer(tokens["read_a"]), timeout=10)
    assert into.status_code == 403 and "needs an admin token" in into.json()["error"], into.text
