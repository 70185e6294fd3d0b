"""The web console (served by `influxdb3 serve` at / from files embedded in the binary): its files
and headers over HTTP, then the real thing in Debian's headless Chromium driven by npm
puppeteer-core: a SQL and an InfluxQL query drawn as a chart and a table, the Processing-engine
page showing a trigger's run and log and disabling it, and logging in with a token when
authentication is on."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import Server, query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "build" / "node" / "node_modules"
DRIVER = Path(__file__).parent / "console" / "drive.cjs"
CHROMIUM = shutil.which("chromium")


def drive(job, expected_errors=()):
    """Runs drive.cjs; page errors other than those containing one of `expected_errors` fail."""
    if not CHROMIUM:
        pytest.fail("chromium is not installed: run scripts/setup.sh", pytrace=False)
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), "CHROMIUM": CHROMIUM}
    p = subprocess.run(["node", str(DRIVER), json.dumps(job)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "failure" not in out, out
    assert out["loading_left"] is False, "the page's placeholder stayed after the app rendered"
    unexpected = [e for e in out["errors"] if not any(x in e for x in expected_errors)]
    assert unexpected == [], out["errors"]
    return out


def test_the_console_is_served_with_a_strict_policy(server):
    page = requests.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="/ui/app.js">' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    raw = requests.get(server.url + "/ui/app.js", headers={"Accept-Encoding": "identity"}, timeout=10)
    packed = requests.get(server.url + "/ui/app.js", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    assert raw.status_code == 200 and raw.headers["Content-Type"].startswith("text/javascript")
    assert packed.headers["Content-Encoding"] == "gzip"
    compressed = len(packed.raw.read(decode_content=False))
    assert compressed < len(raw.content) and compressed < 250_000, (compressed, len(raw.content))
    for css in ("/ui/app.css", "/ui/uplot.css"):
        assert requests.get(server.url + css, timeout=10).headers["Content-Type"].startswith("text/css")
    missing = requests.get(server.url + "/ui/nothing.js", timeout=10)
    assert missing.status_code == 404 and "no file /ui/nothing.js" in missing.json()["error"]


def test_disable_ui_turns_it_off(tmp_path):
    s = Server(tmp_path, extra_args=["--disable-ui"]).start()
    try:
        assert requests.get(s.url + "/", timeout=10).status_code == 404
        assert requests.get(s.url + "/ui/app.js", timeout=10).status_code == 404
        assert requests.get(s.url + "/health", timeout=10).status_code == 200
    finally:
        s.kill9()


def test_query_page_draws_a_chart_and_a_table(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    lines = [f"cpu,host=h{h} usage={10 * h + i / 10},idle={i}i {1_700_000_000 + 60 * i}"
             for h in (1, 2) for i in range(30)]
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    out = drive({"scenario": "query", "url": server.url, "db": db,
                 "sql": "SELECT host, usage, time FROM cpu ORDER BY time",
                 "influxql": "SELECT max(usage) FROM cpu WHERE time >= 1700000000s GROUP BY time(5m), host"})
    sql = out["sql"]
    assert sql["error"] == "" and sql["summary"].startswith("60 rows"), sql
    assert sql["table_rows"] == 60 and sql["headers"] == ["host", "usage", "time"]
    assert sql["inked"] > 500, sql  # the chart's canvas has lines on it
    assert {"usage {host=h1}", "usage {host=h2}"} <= set(sql["legend"]), sql["legend"]
    iql = out["influxql"]
    assert iql["error"] == "" and iql["table_rows"] > 0 and iql["inked"] > 0, iql


def test_data_page_lists_tables_and_their_columns(server):
    db = unique_db("ui")
    server.cli("create", "database", db, "--retention-period", "30d")
    now = int(__import__("time").time())
    assert write_lp(server, db, f"cpu,host=a usage=1,n=2i {now}\ncpu,host=b usage=2,n=3i {now}\n"
                                f"cpu,host=b usage=4,n=5i {now - 1}\nmem,host=a free=3 {now}",
                    precision="s").status_code == 204
    out = drive({"scenario": "data", "url": server.url, "db": db,
                 "create_table": {"name": "disk", "tags": "host,dev", "fields": "free:int64,ok:bool"}})
    assert sorted(out["tables"]) == ["cpu", "mem"], out
    assert "3 rows, 2 series" in out["first_card"] and "kept 30 days" in out["first_card"], out
    kinds = {row[0]: row[1] for row in out["created"]}
    assert kinds == {"host": "tag", "dev": "tag", "free": "field", "ok": "field", "time": "time"}, out["created"]
    assert write_lp(server, db, "disk,host=a,dev=sda free=10i,ok=true").status_code == 204


def test_engine_page_shows_runs_and_logs_and_disables(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    put_plugin(server, "ui_hello.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    influxdb3_local.info("hello from the console test")
    return {"ok": True}
''')
    out = drive({"scenario": "engine", "url": server.url, "db": db, "trigger": "uihook",
                 "log": "hello from the console test",
                 "create": {"plugin": "ui_hello.py", "spec": f"request:uihook_{db}", "path": f"uihook_{db}"}})
    assert out["called"] == 200, out
    assert "success" in out["page"]["runs"], out["page"]
    assert "hello from the console test" in out["page"]["logs"]
    assert query_rows(server, db, "SELECT disabled FROM system.processing_engine_triggers") == [{"disabled": True}]


def test_login_with_a_token(fresh_server):
    s = fresh_server.start()
    db = unique_db("ui")
    s.cli("create", "database", db)
    assert write_lp(s, db, "cpu,host=a usage=1 1700000000", precision="s").status_code == 204
    token = next(l.split("Token: ", 1)[1] for l in s.cli("create", "token", "--admin").stdout.splitlines()
                 if l.startswith("Token: "))
    assert requests.get(s.url + "/", timeout=10).status_code == 200  # the shell needs no token
    assert requests.get(s.url + "/api/v3/configure/database?format=json", timeout=10).status_code == 401
    out = drive({"scenario": "login", "url": s.url, "db": db, "token": token, "sql": "SELECT * FROM cpu"},
                expected_errors=["status of 401"])  # the probes before logging in
    assert "not accepted" in out["rejected"]
    assert out["stored"] == {"session": token, "local": None}
    assert out["sql"]["table_rows"] == 1 and out["sql"]["error"] == "", out["sql"]


def test_time_range_is_sent_as_start_and_stop(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    import time as _time
    now = int(_time.time())
    lines = [f"cpu,host=a usage={i} {now - 60 * i}" for i in range(30)]  # the last 30 minutes
    lines.append(f"cpu,host=a usage=99 {now - 3 * 86400}")  # three days ago
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    sql = "SELECT usage, time FROM cpu WHERE time >= $start AND time < $stop ORDER BY time"
    hour = drive({"scenario": "range", "url": server.url, "db": db, "range": "1h", "sql": sql})["sql"]
    assert hour["error"] == "" and hour["table_rows"] == 30, hour
    week = drive({"scenario": "range", "url": server.url, "db": db, "range": "7d", "sql": sql})["sql"]
    assert week["table_rows"] == 31, week


def test_server_page_charts_the_metrics(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    out = drive({"scenario": "server", "url": server.url, "db": db, "lines": "cpu,host=a usage=1\ncpu,host=b usage=2"})
    panels = {p["id"]: p for p in out["panels"]}
    assert {"panel-lines", "panel-queries", "panel-latency", "panel-flushes", "panel-buffer", "panel-rss",
            "panel-runs"} == set(panels), panels
    assert all(p["canvas"] for p in panels.values())
    assert float(panels["panel-rss"]["value"]) > 1  # MB


def test_a_dry_run_from_the_engine_page(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    put_plugin(server, "ui_double.py", '''
def process_writes(influxdb3_local, table_batches, args=None):
    for batch in table_batches:
        for row in batch["rows"]:
            influxdb3_local.info("saw", row["usage"])
            influxdb3_local.write(LineBuilder("doubled").float64_field("usage", row["usage"] * 2))
''')
    out = drive({"scenario": "dryrun", "url": server.url, "db": db, "plugin": "ui_double.py",
                 "input": "cpu,host=a usage=1.5"})
    result = out["result"]
    assert result["errors"] == [] and result["database_writes"][db] == ["doubled usage=3.0"], result
    assert any("saw 1.5" in line for line in result["log_lines"]), result
    # A dry run writes nothing.
    assert not any(t["table_name"] == "doubled" for t in query_rows(server, db, "SHOW TABLES"))


def test_a_plugin_edited_in_the_page_runs_at_once(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    put_plugin(server, "ui_edit.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"version": 1}
''')
    server.cli("create", "trigger", "--trigger-spec", f"request:edit_{db}", "--plugin-filename", "ui_edit.py",
               "--database", db, "uiedit")
    assert requests.get(f"{server.url}/api/v3/engine/edit_{db}", timeout=30).json() == {"version": 1}
    new_code = ("def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):\n"
                "    return {'version': 2}\n")
    out = drive({"scenario": "edit", "url": server.url, "db": db, "trigger": "uiedit", "code": new_code})
    assert '"version": 1' in out["before"], out
    assert (server.plugin_dir / "ui_edit.py").read_text() == new_code
    assert requests.get(f"{server.url}/api/v3/engine/edit_{db}", timeout=30).json() == {"version": 2}
    # The API the editor reads: 400 without a name, 404 for a trigger that does not exist.
    assert requests.get(f"{server.url}/api/v3/plugins/files", timeout=10).status_code == 400
    assert requests.get(f"{server.url}/api/v3/plugins/files", params={"plugin_name": "nope"}, timeout=10).status_code == 404


def test_a_big_result_is_read_as_it_streams_and_stopped(server):
    db = unique_db("ui")
    server.cli("create", "database", db)
    assert write_lp(server, db, "cpu,host=a usage=1 1700000000", precision="s").status_code == 204
    sql = "SELECT range AS n FROM range(1000000000)"  # far more than the page reads
    out = drive({"scenario": "query", "url": server.url, "db": db, "maxRows": 50, "sql": sql,
                 "influxql": "SELECT usage FROM cpu"})
    got = out["sql"]
    assert got["summary"].startswith("50 rows") and "stopped reading at 50 rows" in got["summary"], got
    assert got["table_rows"] == 50
    # The page stopped reading, so the server stopped the query (a billion rows would take minutes):
    # it ended without completing.
    ended = wait_for(lambda: query_rows(server, db, "SELECT running, success FROM system.queries "
                                                    "WHERE query_text = $q", params={"q": sql})
                     == [{"running": False, "success": False}], timeout=15)
    assert ended, query_rows(server, db, "SELECT * FROM system.queries WHERE query_text = $q", params={"q": sql})
