"""Issue 6: bad input, tried and survived — one test each. After every attack the server must
still answer and still hold what it acknowledged."""
import random
import textwrap

import requests

from conftest import query, query_rows, unique_db, wait_for, write_lp


def alive_with(server, db, expected):
    assert requests.get(server.url + "/health", timeout=10).status_code == 200
    assert query_rows(server, db, "SELECT count(*) AS n FROM keep") == [{"n": expected}]


def keep_db(server):
    db = unique_db("bad")
    assert write_lp(server, db, "keep v=1i 1", precision="s").status_code == 204
    return db


def test_fuzzed_line_protocol_gets_line_errors_never_a_crash(server):
    db = keep_db(server)
    rnd = random.Random(1234)
    alphabet = 'abc=, "\\\n\t\'iu0.-+eE#tTfF\x00\xff\u00e9\U0001F600'
    for _ in range(200):
        body = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 200)))
        r = requests.post(server.url + "/api/v3/write_lp", params={"db": db, "accept_partial": "true"},
                          data=body.encode("utf-8", "surrogatepass"), timeout=10)
        assert r.status_code in (204, 400, 422), (body, r.status_code, r.text)
        if r.status_code != 204:
            assert "error" in r.json()
    raw = bytes(rnd.randrange(256) for _ in range(5000))
    r = requests.post(server.url + "/api/v3/write_lp", params={"db": db}, data=raw, timeout=10)
    assert r.status_code == 400 and "error" in r.json()
    alive_with(server, db, 1)


def test_huge_lines_and_bodies(server):
    db = keep_db(server)
    near_limit = "x" * 1_000_000
    r = write_lp(server, db, f'big s="{near_limit}" 2')  # a 1 MB string: accepted
    assert r.status_code == 204, r.text[:200]
    assert query_rows(server, db, "SELECT length(s) AS n FROM big") == [{"n": 1_000_000}]
    r = write_lp(server, db, f'big s="{"x" * (2 << 20)}" 3')  # past the 1 MiB string limit: a line error
    assert r.status_code == 400 and "longer than 1 MiB" in r.json()["data"][0]["error_message"]
    r = write_lp(server, db, "m " + ",".join(f"f{i}=1" for i in range(10000)))  # more columns than allowed
    assert r.status_code in (400, 422) and "error" in r.json()
    r = write_lp(server, db, "m v=1 " + "9" * 5000)  # absurd timestamp
    assert r.status_code == 400 and "error" in r.json()
    r = requests.post(server.url + "/api/v3/write_lp", params={"db": db}, data=b"m v=1\n" * (3 << 20), timeout=60)
    assert r.status_code == 413 and "error" in r.json()  # past --max-http-request-size
    alive_with(server, db, 1)


def test_deep_and_broken_json(server):
    db = keep_db(server)
    deep = "[" * 100000 + "]" * 100000
    for body in (deep, '{"db": ' + deep + "}", '{"db": "x", "q": ', "\xff\xfe", '{"q": 1}', "[]"):
        r = requests.post(server.url + "/api/v3/query_sql", data=body.encode("utf-8", "surrogatepass"),
                          headers={"Content-Type": "application/json"}, timeout=10)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (body[:30], r.status_code, r.text[:200])
    r = requests.post(server.url + "/api/v3/configure/database", data='{"db": ' + deep + "}",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert 400 <= r.status_code < 500
    alive_with(server, db, 1)


def test_sql_cannot_escape_the_sandbox(server):
    db = keep_db(server)
    for sql in ("INSTALL httpfs", "LOAD httpfs", "COPY keep TO '/tmp/riffle_stolen.csv'",
                "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')",
                "ATTACH '/tmp/riffle_x.db' AS x", "SELECT 1; DROP TABLE keep", "DROP TABLE keep",
                "SET enable_external_access = true", "PRAGMA enable_profiling",
                "SELECT * FROM glob('/*')", "CREATE TABLE x AS SELECT 1",
                "SELECT * FROM read_parquet('/etc/passwd')", "CALL duckdb_secrets()"):
        r = query(server, db, sql)
        assert r.status_code == 400 and "error" in r.json(), (sql, r.status_code, r.text[:300])
    alive_with(server, db, 1)


def test_plugin_paths_trigger_names_and_paths_with_odd_characters(server):
    db = keep_db(server)
    (server.plugin_dir / "fine.py").write_text(
        "def process_request(influxdb3_local, q, h, b, args=None):\n    return {'ok': True}\n")
    for plugin in ("../etc/passwd", "../../fine.py", "/etc/passwd", "sub/../../fine.py", "fine.py\x00.txt"):
        r = requests.post(server.url + "/api/v3/configure/processing_engine_trigger", json={
            "db": db, "plugin_filename": plugin, "trigger_name": "t1", "trigger_specification": "request:t1",
            "trigger_settings": {"run_async": False, "error_behavior": "log"}}, timeout=10)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (plugin, r.status_code, r.text)
    for name in ("", "a b", "x/y", "../up", "é" * 300, "semi;colon", "quote'\""):
        r = requests.post(server.url + "/api/v3/configure/processing_engine_trigger", json={
            "db": db, "plugin_filename": "fine.py", "trigger_name": name, "trigger_specification": "request:ok_path",
            "trigger_settings": {"run_async": False, "error_behavior": "log"}}, timeout=10)
        if r.status_code == 200:  # accepted names must then work and be deletable
            assert query_rows(server, db, "SELECT count(*) AS n FROM system.processing_engine_triggers "
                                          "WHERE trigger_name = $n", params={"n": name}) == [{"n": 1}]
            r = requests.delete(server.url + "/api/v3/configure/processing_engine_trigger",
                                json={"db": db, "trigger_name": name, "force": True}, timeout=10)
            assert r.status_code == 200, (name, r.text)
        else:
            assert 400 <= r.status_code < 500 and "error" in r.json(), (name, r.status_code, r.text)
    for path in ("../x", "a b", "x?y", "", "/leading", "%2e%2e"):
        r = requests.post(server.url + "/api/v3/configure/processing_engine_trigger", json={
            "db": db, "plugin_filename": "fine.py", "trigger_name": "odd_path", "trigger_specification": f"request:{path}",
            "trigger_settings": {"run_async": False, "error_behavior": "log"}}, timeout=10)
        if r.status_code == 200:
            requests.delete(server.url + "/api/v3/configure/processing_engine_trigger",
                            json={"db": db, "trigger_name": "odd_path", "force": True}, timeout=10)
        else:
            assert 400 <= r.status_code < 500 and "error" in r.json(), (path, r.status_code, r.text)
    alive_with(server, db, 1)


def test_plugin_writing_to_a_database_that_does_not_exist(server):
    db = keep_db(server)
    (server.plugin_dir / "stray.py").write_text(textwrap.dedent('''
        def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
            try:
                influxdb3_local.write_sync_to_db("", LineBuilder("m").int64_field("v", 1), no_sync=False)
                sync = "accepted"
            except Exception as e:
                sync = type(e).__name__ + ": " + str(e)
            influxdb3_local.write_to_db("bad name with spaces!", LineBuilder("m").int64_field("v", 1))
            return {"sync": sync}
    '''))
    server.cli("create", "trigger", "-d", db, "--trigger-spec", f"request:stray_{db}", "--plugin-filename", "stray.py",
               "stray")
    r = requests.get(f"{server.url}/api/v3/engine/stray_{db}", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["sync"] != "accepted"
    logs = lambda: [t for (t,) in (tuple(x.values()) for x in query_rows(
        server, db, "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'stray'"))]
    assert wait_for(lambda: any("error writing back lines to bad name with spaces!" in t for t in logs())), logs()
    alive_with(server, db, 1)


def test_names_differing_only_in_case_are_line_errors_and_other_tables_go_on(server):
    db = keep_db(server)
    assert write_lp(server, db, "weather,City=Oslo Temperature=1.5 1", precision="s").status_code == 204
    for line, what in (("weather,City=Oslo temperature=2.5 2", "column 'temperature'"),
                       ("weather,city=Oslo Temperature=2.5 2", "column 'city'"),
                       ("Weather,City=Oslo Temperature=2.5 2", "table 'Weather'")):
        r = write_lp(server, db, line, precision="s")
        assert r.status_code == 400, (line, r.text)
        message = r.json()["data"][0]["error_message"]
        assert what in message and "differs only in letter case" in message, message
    # Within one request too, and the good lines of a partial write are kept.
    r = write_lp(server, db, "fresh a=1 3\nfresh A=2 4\nfresh a=3 5", precision="s", accept_partial="true")
    assert r.status_code == 400 and [e["line_number"] for e in r.json()["data"]] == [2]
    assert query_rows(server, db, "SELECT a FROM fresh ORDER BY time") == [{"a": 1.0}, {"a": 3.0}]
    r = requests.post(server.url + "/api/v3/configure/table", json={
        "db": db, "table": "WEATHER", "tags": [], "fields": [{"name": "x", "type": "float64"}]}, timeout=10)
    assert r.status_code == 400 and "differs only in letter case" in r.json()["error"]
    assert write_lp(server, db, "keep v=2i 2", precision="s").status_code == 204
    assert query_rows(server, db, "SELECT \"Temperature\" FROM weather") == [{"Temperature": 1.5}]
    alive_with(server, db, 2)


def test_unknown_table_errors_do_not_suggest_internal_or_other_databases_tables(server):
    a, b = unique_db("sugg_a"), unique_db("sugg_b")
    assert write_lp(server, a, "mem u=1 1").status_code == 204
    assert write_lp(server, b, "mam u=1 1").status_code == 204
    for q in ("SELECT * FROM nope", "SELECT * FROM mam"):
        r = query(server, a, q)
        assert r.status_code == 400 and "does not exist" in r.json()["error"], r.text
        assert "Did you mean" not in r.json()["error"], r.text
    # A helpful hint about a function stays.
    assert 'Did you mean "avg"' in query(server, a, "SELECT avgg(u) FROM mem").json()["error"]


def test_integer_sums_past_int64_stay_exact(server):
    db = unique_db("bigsum")
    big = 9223372036854775000
    assert write_lp(server, db, f"m u={big}u,i={big}i 1\nm u={big}u,i={big}i 2").status_code == 204
    assert query_rows(server, db, "SELECT sum(u) AS su, sum(i) AS si FROM m") == [{"su": 2 * big, "si": 2 * big}]


def test_a_rejected_write_changes_no_schema(server):
    """accept_partial=false (and /api/v2/write): one bad line means nothing is written and no
    table, column or database appears; with partial writes, only the good lines add columns."""
    db = unique_db("ghost")
    assert write_lp(server, db, "existing,host=a f=1.5 1").status_code == 204
    tables = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'iox' ORDER BY 1, 2"
    before = query_rows(server, db, tables)
    for body in ('existing,host=a f="str" 2\nnewtable,host=b v=1i,w=2.0 3',
                 'existing,host=a newcol=5i 4\nexisting,host=a f="str" 5'):
        r = write_lp(server, db, body, accept_partial="false")
        assert r.status_code == 400 and "invalid column type for column 'f'" in r.text, r.text
        r = requests.post(server.url + "/api/v2/write", params={"bucket": db}, data=body, timeout=30)
        assert r.status_code == 400, r.text
    assert query_rows(server, db, tables) == before
    # No database either.
    never = unique_db("never")
    assert write_lp(server, never, 'm f=1 1\nm f="x" 2', accept_partial="false").status_code == 400
    assert never not in server.cli("show", "databases").stdout
    # A partial write keeps the good lines' columns only: `bad` is on the rejected line.
    r = write_lp(server, db, 'existing,host=a good=1i 6\nexisting,host=a bad=2i,f="str" 7')
    assert r.status_code == 400 and "partial write" in r.text
    cols = [c["column_name"] for c in query_rows(server, db, tables) if c["table_name"] == "existing"]
    assert "good" in cols and "bad" not in cols
