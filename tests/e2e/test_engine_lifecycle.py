"""Trigger lifecycle: enable/disable/delete, restarts, plugin resolution, dry runs, packages."""
import http.server
import json
import subprocess
import sys
import textwrap
import threading
import time
import zipfile

import pytest
import requests

from conftest import query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin, create_trigger as create

COUNTER_PLUGIN = '''
def process_scheduled_call(influxdb3_local, call_time, args=None):
    n = influxdb3_local.cache.get("n", default=0) + 1
    influxdb3_local.cache.put("n", n)
    influxdb3_local.info(f"run {n}")
'''

ECHO_PLUGIN = '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"version": VERSION, "args": args}
'''


def log_texts(server, db, trigger):
    return [r["log_text"] for r in query_rows(server, db, "SELECT log_text FROM system.processing_engine_logs "
                                                          "WHERE trigger_name = $t", params={"t": trigger})]


def test_disable_enable_delete(server):
    db = unique_db("life")
    put_plugin(server, "counter.py", COUNTER_PLUGIN)
    server.cli("create", "database", db)
    create(server, db, "ticker", "every:1s", "counter.py")
    assert wait_for(lambda: "run 1" in log_texts(server, db, "ticker"))
    out = server.cli("disable", "trigger", "--database", db, "ticker")
    assert "Trigger ticker disabled successfully" in out.stdout
    assert query_rows(server, db, "SELECT disabled FROM system.processing_engine_triggers") == [{"disabled": True}]
    # Deleting an enabled trigger needs --force; a disabled one does not.
    server.cli("enable", "trigger", "--database", db, "ticker")
    refused = server.cli("delete", "trigger", "--database", db, "ticker", check=False)
    assert refused.returncode != 0 and "Disable it first or use --force" in refused.stderr
    out = server.cli("delete", "trigger", "--database", db, "--force", "ticker")
    assert "Trigger ticker deleted successfully" in out.stdout
    assert query_rows(server, db, "SELECT * FROM system.processing_engine_triggers") == []
    missing = server.cli("enable", "trigger", "--database", db, "ticker", check=False)
    assert missing.returncode != 0


def test_disabled_on_create_does_not_run_and_cache_is_cleared_on_disable(server):
    db = unique_db("life")
    put_plugin(server, "counter.py", COUNTER_PLUGIN)
    server.cli("create", "database", db)
    create(server, db, "later", "every:1s", "counter.py", "--disabled")
    time.sleep(1.5)
    assert log_texts(server, db, "later") == []
    server.cli("enable", "trigger", "--database", db, "later")
    assert wait_for(lambda: "run 1" in log_texts(server, db, "later"))
    server.cli("disable", "trigger", "--database", db, "later")
    before = len(log_texts(server, db, "later"))
    server.cli("enable", "trigger", "--database", db, "later")
    # The trigger's cache started empty again, so the count restarts at 1.
    assert wait_for(lambda: log_texts(server, db, "later")[before:].count("run 1") == 1)


def test_create_errors(server):
    db = unique_db("life")
    put_plugin(server, "counter.py", COUNTER_PLUGIN)
    server.cli("create", "database", db)
    bad_spec = create(server, db, "t1", "hourly", "counter.py", check=False)
    assert bad_spec.returncode != 0 and "failed to parse trigger from hourly" in bad_spec.stderr
    no_file = create(server, db, "t2", "every:1m", "missing.py", check=False)
    assert no_file.returncode != 0 and "Plugin not found" in no_file.stderr
    traversal = create(server, db, "t3", "every:1m", "../etc/passwd", check=False)
    assert traversal.returncode != 0 and "Path traversal" in traversal.stderr
    no_db = create(server, unique_db("nodb"), "t4", "every:1m", "counter.py", check=False)
    assert no_db.returncode != 0 and "Database not found" in no_db.stderr
    tiny = create(server, db, "t5", "every:500us", "counter.py", check=False)
    assert tiny.returncode != 0
    create(server, db, "dup", "every:1m", "counter.py")
    dup = create(server, db, "dup", "every:1m", "counter.py", check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr


def test_triggers_restart_with_the_server(fresh_server):
    s = fresh_server.start()
    db = unique_db("restart")
    put_plugin(s, "echo.py", "VERSION = 1\n" + ECHO_PLUGIN)
    put_plugin(s, "counter.py", COUNTER_PLUGIN)
    s.cli("create", "database", db)
    create(s, db, "echo", "request:echo", "echo.py", "--trigger-arguments", "a=1")
    create(s, db, "off", "every:1s", "counter.py", "--disabled")
    assert requests.get(s.url + "/api/v3/engine/echo").json() == {"version": 1, "args": {"a": "1"}}
    s.restart()
    assert requests.get(s.url + "/api/v3/engine/echo").json() == {"version": 1, "args": {"a": "1"}}
    time.sleep(1.5)
    assert log_texts(s, db, "off") == []
    s.kill9()
    s.start()
    assert requests.get(s.url + "/api/v3/engine/echo").status_code == 200


def test_single_file_plugins_are_reloaded_when_edited(server):
    db = unique_db("reload")
    put_plugin(server, "echo_reload.py", "VERSION = 1\n" + ECHO_PLUGIN)
    server.cli("create", "database", db)
    create(server, db, "echo", f"request:reload_{db}", "echo_reload.py")
    assert requests.get(f"{server.url}/api/v3/engine/reload_{db}").json()["version"] == 1
    time.sleep(0.02)
    put_plugin(server, "echo_reload.py", "VERSION = 2\n" + ECHO_PLUGIN)
    assert requests.get(f"{server.url}/api/v3/engine/reload_{db}").json()["version"] == 2


def test_directory_plugin_with_relative_imports(server):
    db = unique_db("pkg")
    put_plugin(server, "my_pkg/__init__.py", "from .helpers import answer\n"
                                            "def process_request(influxdb3_local, q, h, b, args=None):\n"
                                            "    return {'answer': answer()}\n")
    put_plugin(server, "my_pkg/helpers.py", "def answer():\n    return 42\n")
    server.cli("create", "database", db)
    create(server, db, "pkg", f"request:pkg_{db}", "my_pkg")
    assert requests.get(f"{server.url}/api/v3/engine/pkg_{db}").json() == {"answer": 42}


def test_gh_plugins_come_from_the_plugin_repo(fresh_server, tmp_path):
    repo = tmp_path / "repo"
    (repo / "examples" / "schedule").mkdir(parents=True)
    (repo / "examples" / "schedule" / "hello.py").write_text(
        "def process_request(influxdb3_local, q, h, b, args=None):\n    return 'hello from gh'\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(repo), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        s = fresh_server.start(["--plugin-repo", f"http://127.0.0.1:{httpd.server_port}"])
        db = unique_db("gh")
        s.cli("create", "database", db)
        create(s, db, "hello", "request:hello", "gh:examples/schedule/hello.py")
        r = requests.get(s.url + "/api/v3/engine/hello")
        assert r.status_code == 200 and r.text == "hello from gh"
        assert r.headers["Content-Type"].startswith("text/html")
        missing = create(s, db, "nope", "request:nope", "gh:examples/none.py", check=False)
        assert missing.returncode != 0 and "404" in missing.stderr
    finally:
        httpd.shutdown()


def test_dry_run_wal_plugin(server):
    db = unique_db("dry")
    put_plugin(server, "dry_wal.py", '''
def process_writes(influxdb3_local, table_batches, args=None):
    influxdb3_local.info("arg1:", args["arg1"])
    for b in table_batches:
        influxdb3_local.info("table:", b["table_name"])
        for row in b["rows"]:
            influxdb3_local.info("row:", row)
    influxdb3_local.write(LineBuilder("some_table").tag("tag1", "v").int64_field("field1", 1))
    influxdb3_local.write_to_db("mytestdb", LineBuilder("other_table").int64_field("other_field", 1).time_ns(1302))
    influxdb3_local.info("done")
''')
    out = server.cli("test", "wal_plugin", "--database", db, "--lp",
                     "cpu,host=A,region=west usage=1i,system=23.2 100\nmem,host=B user=43.1 120",
                     "--input-arguments", "arg1=val1", "dry_wal.py")
    result = json.loads(out.stdout)
    assert result["log_lines"] == [
        "INFO: arg1: val1", "INFO: table: cpu",
        "INFO: row: {'host': 'A', 'region': 'west', 'usage': 1, 'system': 23.2, 'time': 100}",
        "INFO: table: mem", "INFO: row: {'host': 'B', 'user': 43.1, 'time': 120}", "INFO: done"]
    assert result["database_writes"] == {db: ["some_table,tag1=v field1=1i"],
                                         "mytestdb": ["other_table other_field=1i 1302"]}
    assert result["errors"] == []
    # Nothing was written.
    assert query_rows(server, "_internal", "SELECT 1 AS x") if False else True
    r = requests.post(server.url + "/api/v3/query_sql", json={"db": "mytestdb", "q": "SELECT 1"})
    assert r.status_code == 404


def test_dry_run_schedule_plugin(server):
    db = unique_db("dry")
    server.cli("create", "database", db)
    put_plugin(server, "dry_sched.py", '''
def process_scheduled_call(influxdb3_local, call_time, args=None):
    influxdb3_local.info("args", args)
    influxdb3_local.warn("at", call_time.year > 2000)
''')
    out = server.cli("test", "schedule_plugin", "--database", db, "--schedule", "*/5 * * * * *",
                     "--input-arguments", "k=v", "dry_sched.py")
    result = json.loads(out.stdout)
    assert result["log_lines"] == ["INFO: args {'k': 'v'}", "WARN: at True"]
    assert "T" in result["trigger_time"] and result["trigger_time"].endswith("Z")
    assert result["errors"] == []


def make_wheel(tmp_path, module, dist, version, init_py):
    """A pure-Python wheel holding one package `module` (distribution `dist`)."""
    info = f"{module}-{version}.dist-info"
    wheel = tmp_path / f"{module}-{version}-py3-none-any.whl"
    files = {
        f"{module}/__init__.py": init_py,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr(f"{info}/RECORD", "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n")
    return wheel


def test_install_package_from_a_local_wheel(server, tmp_path):
    wheel = make_wheel(tmp_path, "riffle_demo_pkg", "riffle-demo-pkg", "1.0", "VALUE = 'installed ok'\n")
    out = server.cli("install", "package", str(wheel), env={"PIP_NO_INDEX": "1"})
    assert "installed successfully" in out.stdout
    assert (server.plugin_dir / ".venv").is_dir()
    db = unique_db("pkg")
    server.cli("create", "database", db)
    put_plugin(server, "uses_pkg.py", "import riffle_demo_pkg\n"
                                      "def process_request(influxdb3_local, q, h, b, args=None):\n"
                                      "    return riffle_demo_pkg.VALUE\n")
    create(server, db, "uses_pkg", f"request:uses_pkg_{db}", "uses_pkg.py")
    assert requests.get(f"{server.url}/api/v3/engine/uses_pkg_{db}").text == "installed ok"
    bad = server.cli("install", "package", "definitely-not-a-real-package-xyz", env={"PIP_NO_INDEX": "1"},
                     check=False)
    assert bad.returncode != 0 and "package installation failed" in bad.stderr


def test_an_installed_package_comes_before_debians_copy_without_a_restart(fresh_server, tmp_path):
    # Debian ships pint (scripts/setup.sh); a wheel of the same name installed into the plugin
    # environment must win at once, as it does once the environment exists at start-up.
    s = fresh_server.start()
    wheel = make_wheel(tmp_path, "pint", "pint", "99.0", "__version__ = '99.0-local'\n")
    assert "installed successfully" in s.cli("install", "package", str(wheel), env={"PIP_NO_INDEX": "1"}).stdout
    s.cli("create", "database", "db")
    put_plugin(s, "which_pint.py", "import pint\n"
                                   "def process_request(influxdb3_local, q, h, b, args=None):\n"
                                   "    return pint.__version__\n")
    create(s, "db", "which", "request:which_pint", "which_pint.py")
    assert requests.get(f"{s.url}/api/v3/engine/which_pint").text == "99.0-local"
    s.restart()
    assert requests.get(f"{s.url}/api/v3/engine/which_pint").text == "99.0-local"
