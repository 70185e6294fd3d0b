"""Issue 19, item 5: InfluxDB 3.6–3.11's switches and tables, as scripts and Explorer use them.

`serve --restrict-plugin-triggers-to`, `--disable-package-management` (and InfluxDB's own
`--package-manager disabled`), `create token --admin --offline --output-file` with `serve
--admin-token-file`, the `cluster-uuid` header on every answer, `system.influxdb_schema`,
`influxdb3` alone as a quick start, and a trigger that its error behaviour disabled staying
disabled after a restart. Each against the real server."""
import json
import os
import stat
import subprocess
import time

import requests

from conftest import BINARY, Server, free_port, query_rows, wait_for, write_lp

SCHEDULED = "def process_scheduled_call(influxdb3_local, call_time, args=None):\n    pass\n"
FAILING = "def process_scheduled_call(influxdb3_local, call_time, args=None):\n    raise ValueError('boom')\n"
WAL = "def process_writes(influxdb3_local, table_batches, args=None):\n    pass\n"
REQUEST = "def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):\n" \
          "    return {'ok': True}\n"


def create_trigger(s, spec, name, plugin, **headers):
    return requests.post(s.url + "/api/v3/configure/processing_engine_trigger",
                         json={"db": "sw", "plugin_filename": plugin, "trigger_name": name,
                               "trigger_specification": spec, "trigger_settings": {}}, headers=headers, timeout=10)


def test_restrict_plugin_triggers_to_refuses_the_other_kinds(tmp_path):
    s = Server(tmp_path, ["--restrict-plugin-triggers-to", "wal_flush,request"]).start()
    try:
        for name, code in (("s.py", SCHEDULED), ("w.py", WAL), ("r.py", REQUEST)):
            (s.plugin_dir / name).write_text(code)
        assert write_lp(s, "sw", "m v=1").status_code == 204
        for spec in ("every:10s", "cron:0 * * * * *"):
            r = create_trigger(s, spec, "sched", "s.py")
            assert r.status_code == 400, r.text
            assert r.json()["error"].startswith(
                "invalid request: server is configured to reject Schedule plugin triggers"), r.text
        assert create_trigger(s, "table:m", "wal_t", "w.py").status_code == 200
        assert create_trigger(s, "all_tables", "wal_all", "w.py").status_code == 200
        assert create_trigger(s, "request:hook", "req", "r.py").status_code == 200
        cli = s.cli("create", "trigger", "-d", "sw", "--trigger-spec", "every:5s", "--plugin-filename", "s.py",
                    "sched2", check=False)
        assert cli.returncode != 0 and "reject Schedule plugin triggers" in cli.stderr, cli
    finally:
        s.kill9()
    # The environment variable works as the flag does; a kind it does not know is refused at start.
    s2 = Server(tmp_path / "env", env={"INFLUXDB3_RESTRICT_PLUGIN_TRIGGERS_TO": "schedule"}).start()
    try:
        (s2.plugin_dir / "w.py").write_text(WAL)
        assert write_lp(s2, "sw", "m v=1").status_code == 204
        r = create_trigger(s2, "table:m", "wal_t", "w.py")
        assert r.status_code == 400 and "reject WalRows plugin triggers" in r.json()["error"], r.text
    finally:
        s2.kill9()
    bad = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory",
                          "--restrict-plugin-triggers-to", "sometimes"], capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "--restrict-plugin-triggers-to" in bad.stderr, bad.stderr


def test_package_management_can_be_turned_off(tmp_path):
    for flags in (["--disable-package-management"], ["--package-manager", "disabled"]):
        s = Server(tmp_path / flags[0].strip("-"), flags).start()
        try:
            for path, body in (("install_packages", {"packages": ["requests"]}),
                               ("install_requirements", {"requirements_location": "/tmp/r.txt"})):
                r = requests.post(s.url + "/api/v3/configure/plugin_environment/" + path, json=body, timeout=10)
                assert r.status_code == 403, r.text
                assert r.json()["error"] == ("Package installation has been disabled. Contact your administrator "
                                             "for more information."), r.text
            cli = s.cli("install", "package", "requests", check=False)
            assert cli.returncode != 0 and "Package installation has been disabled" in cli.stderr, cli
        finally:
            s.kill9()


def token_file(tmp_path, name="tok.json", *extra):
    path = tmp_path / name
    out = subprocess.run([BINARY, "create", "token", "--admin", "--offline", "--output-file", str(path), *extra],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"Token saved to: {path}", out.stdout
    return path


def test_an_offline_admin_token_file_provisions_the_server(tmp_path):
    path = token_file(tmp_path)
    content = json.loads(path.read_text())
    assert set(content) == {"token", "name"} and content["name"] == "_admin", content
    assert content["token"].startswith("apiv3_") and len(content["token"]) > 80, content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = content["token"]
    s = Server(tmp_path / "srv", ["--admin-token-file", str(path)]).start()
    try:
        # Authentication is on from the first start: the file's token works, no token does not.
        ok = requests.post(s.url + "/api/v3/write_lp", params={"db": "sw"}, data="m v=1",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 204, ok.text
        assert write_lp(s, "sw", "m v=2").status_code == 401
        assert "initialized from" in s.log_path.read_text()
        # A second file for the same name does not replace the token that exists.
        other = token_file(tmp_path, "other.json")
        s.stop()
        s.start(["--admin-token-file", str(other)])
        assert "Admin token '_admin' already exists, skipping initialization" in s.log_path.read_text()
        def status_with(t):
            return requests.get(s.url + "/api/v3/query_sql", params={"db": "sw", "q": "SELECT 1"},
                                headers={"Authorization": f"Bearer {t}"}, timeout=10).status_code
        assert status_with(token) == 200
        assert status_with(json.loads(other.read_text())["token"]) == 401
    finally:
        s.kill9()
    # A named token file with an expiry, and a file that is not a token file.
    named = token_file(tmp_path, "named.json", "--name", "ops", "--expiry", "1d")
    named_content = json.loads(named.read_text())
    assert named_content["name"] == "ops" and named_content["expiry_millis"] > time.time() * 1000
    (tmp_path / "bad.json").write_text('{"token": "nope"}')
    bad = Server(tmp_path / "bad", ["--admin-token-file", str(tmp_path / "bad.json")])
    proc = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "file", "--data-dir",
                           str(tmp_path / "bad" / "data"), "--http-bind", f"127.0.0.1:{bad.port}",
                           "--admin-token-file", str(tmp_path / "bad.json")], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0 and "admin token" in proc.stderr.lower() and "apiv3_" in proc.stderr, proc.stderr
    offline_only = subprocess.run([BINARY, "create", "token", "--admin", "--offline"], capture_output=True,
                                  text=True, timeout=30)
    assert offline_only.returncode != 0 and "--output-file" in offline_only.stderr


def test_every_answer_names_the_cluster_uuid_and_system_influxdb_schema_lists_columns(tmp_path):
    s = Server(tmp_path).start()
    try:
        assert write_lp(s, "sw", 'cpu,host=a usage=1.5,n=2i,u=3u,ok=true,msg="x" 1').status_code == 204
        answers = [requests.get(s.url + "/health", timeout=10),
                   requests.get(s.url + "/nope", timeout=10),
                   requests.options(s.url + "/api/v3/query_sql", timeout=10),
                   requests.post(s.url + "/api/v3/write_lp", params={"db": "sw"}, data="bad line", timeout=10)]
        uuids = {r.headers.get("cluster-uuid") for r in answers}
        assert len(uuids) == 1 and None not in uuids, [dict(r.headers) for r in answers]
        uuid = uuids.pop()
        assert len(uuid) == 36 and uuid.count("-") == 4, uuid
        rows = query_rows(s, "sw", "SELECT * FROM system.influxdb_schema ORDER BY key")
        assert rows == [{"measurement": "cpu", "key": k, "data_type": t} for k, t in
                        [("host", "tag"), ("msg", "string"), ("n", "integer"), ("ok", "boolean"),
                         ("time", "time"), ("u", "uinteger"), ("usage", "float")]], rows
        s.restart()
        assert requests.get(s.url + "/health", timeout=10).headers["cluster-uuid"] == uuid
    finally:
        s.kill9()


def test_influxdb3_alone_starts_a_quick_start_server(tmp_path):
    port = free_port()
    env = {**os.environ, "HOME": str(tmp_path), "INFLUXDB3_HTTP_BIND_ADDR": f"127.0.0.1:{port}"}
    env.pop("INFLUXDB3_NODE_IDENTIFIER_PREFIX", None)
    proc = subprocess.Popen([BINARY], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def healthy():
            try:
                return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        assert wait_for(healthy, timeout=30), "the quick-start server never answered /health"
        assert requests.post(f"http://127.0.0.1:{port}/api/v3/write_lp", params={"db": "quick"}, data="m v=1",
                             timeout=10).status_code == 204
        assert wait_for(lambda: (tmp_path / ".influxdb3").is_dir(), timeout=10)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "Using auto-generated node id: " in err and "-node" in err, err[-2000:]


def test_a_trigger_its_error_behaviour_disabled_stays_disabled_after_a_restart(tmp_path):
    s = Server(tmp_path).start()
    try:
        (s.plugin_dir / "fail.py").write_text(FAILING)
        assert write_lp(s, "sw", "m v=1").status_code == 204
        s.cli("create", "trigger", "-d", "sw", "--trigger-spec", "every:1s", "--plugin-filename", "fail.py",
              "--error-behavior", "disable", "failing")
        disabled = "SELECT disabled FROM system.processing_engine_triggers WHERE trigger_name = 'failing'"
        assert wait_for(lambda: query_rows(s, "sw", disabled) == [{"disabled": True}], timeout=20)
        s.restart()
        assert query_rows(s, "sw", disabled) == [{"disabled": True}]
        runs = "SELECT count(*) AS n FROM system.processing_engine_runs WHERE trigger_name = 'failing'"
        before = query_rows(s, "sw", runs)[0]["n"]
        time.sleep(2.5)  # every:1s would have run twice by now, were it enabled
        assert query_rows(s, "sw", runs)[0]["n"] == before
    finally:
        s.kill9()


CONCURRENCY = '''
import builtins, threading, time
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    state = builtins.__dict__.setdefault("_riffle_concurrency", {"lock": threading.Lock(), "now": 0, "max": 0})
    with state["lock"]:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
    time.sleep(0.4)
    with state["lock"]:
        state["now"] -= 1
    return {"max": state["max"]}
'''


def test_async_trigger_concurrency_limit_bounds_the_runs_of_one_trigger(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    s = Server(tmp_path, ["--async-trigger-concurrency-limit", "2"]).start()
    try:
        (s.plugin_dir / "conc.py").write_text(CONCURRENCY)
        assert write_lp(s, "sw", "m v=1").status_code == 204
        s.cli("create", "trigger", "-d", "sw", "--trigger-spec", "request:conc", "--plugin-filename", "conc.py",
              "--run-asynchronous", "conc")
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: requests.get(s.url + "/api/v3/engine/conc", timeout=30), range(8)))
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        # Eight requests at once, two at a time: never more than two ran together, and two did.
        assert max(r.json()["max"] for r in answers) == 2, [r.text for r in answers]
    finally:
        s.kill9()


def test_tag_values_lists_a_tags_distinct_values(tmp_path):
    s = Server(tmp_path).start()
    try:
        lines = "cpu,host=b,region=eu v=1 1\ncpu,host=a v=2 2\ncpu,host=b v=3 3\ncpu v=4 4"
        assert write_lp(s, "sw", lines).status_code == 204
        assert query_rows(s, "sw", "SELECT * FROM tag_values('cpu', 'host')") == [
            {"key": "host", "value": "a"}, {"key": "host", "value": "b"}]
        assert query_rows(s, "sw", "SELECT count(*) AS n FROM tag_values('cpu', 'region')") == [{"n": 1}]
        r = requests.get(s.url + "/api/v3/query_sql", params={"db": "sw", "q": "SELECT * FROM tag_values(cpu)"},
                         timeout=10)
        assert r.status_code == 400 and "tag_values('cpu', 'host')" in r.json()["error"], r.text
    finally:
        s.kill9()
