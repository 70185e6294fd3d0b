"""Issue 6 (part): run history (system.processing_engine_runs), /metrics, per-trigger run
timeouts and retry counts, and a slow plugin that must not hold up acknowledged writes."""
import json
import re
import textwrap
import time

import requests

from conftest import query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin, create_trigger as create, trigger_logs


def runs(server, db, trigger):
    return query_rows(server, db, "SELECT kind, outcome, error, rows_in, lines_written, attempt, duration_ns "
                                  "FROM system.processing_engine_runs WHERE trigger_name = $t ORDER BY start_time",
                      params={"t": trigger})


def test_run_history_records_success_and_failure_with_traceback(server):
    db = unique_db("runs")
    server.cli("create", "database", db)
    put_plugin(server, "counting.py", '''
def process_writes(influxdb3_local, table_batches, args=None):
    n = sum(len(b["rows"]) for b in table_batches)
    if any(r.get("boom") for b in table_batches for r in b["rows"]):
        raise ValueError("boom requested")
    influxdb3_local.write(LineBuilder("seen").int64_field("n", n))
    influxdb3_local.write_sync(LineBuilder("seen_sync").int64_field("n", n), no_sync=True)
''')
    create(server, db, "counting", "table:m", "counting.py")
    assert write_lp(server, db, "m v=1\nm v=2\nm v=3").status_code == 204
    assert wait_for(lambda: runs(server, db, "counting"))
    assert write_lp(server, db, "m boom=true").status_code == 204
    history = wait_for(lambda: len(runs(server, db, "counting")) == 2 and runs(server, db, "counting"))
    assert len(history) == 2, history
    ok, failed = history
    assert ok["kind"] == "wal" and ok["outcome"] == "success" and ok["rows_in"] == 3 and ok["lines_written"] == 2
    assert ok.get("error") is None and ok["duration_ns"] > 0 and ok["attempt"] == 1
    assert failed["outcome"] == "error" and failed["rows_in"] == 1
    assert "ValueError: boom requested" in failed["error"] and "Traceback" in failed["error"]
    assert 'line 4, in process_writes' in failed["error"] or "process_writes" in failed["error"]


def test_metrics_exposes_per_trigger_counters_and_histograms(server):
    db = unique_db("metrics")
    server.cli("create", "database", db)
    put_plugin(server, "hello.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    if query_parameters.get("fail"):
        raise RuntimeError("asked to fail")
    return {"hello": "world"}
''')
    create(server, db, "hello", f"request:hello_{db}", "hello.py")
    for _ in range(3):
        assert requests.get(f"{server.url}/api/v3/engine/hello_{db}", timeout=30).status_code == 200
    assert requests.get(f"{server.url}/api/v3/engine/hello_{db}", params={"fail": "1"}, timeout=30).status_code == 500
    r = requests.get(server.url + "/metrics", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    labels = f'database="{db}",trigger="hello"'
    assert f'riffle_plugin_runs_total{{{labels},outcome="success"}} 3' in text
    assert f'riffle_plugin_runs_total{{{labels},outcome="error"}} 1' in text
    assert f'riffle_plugin_run_duration_seconds_count{{{labels}}} 4' in text
    assert f'riffle_plugin_run_duration_seconds_bucket{{{labels},le="+Inf"}} 4' in text
    buckets = [int(m) for m in re.findall(rf'riffle_plugin_run_duration_seconds_bucket\{{{re.escape(labels)},le="[^"]+"\}} (\d+)', text)]
    assert buckets == sorted(buckets)  # cumulative
    assert "# TYPE riffle_plugin_run_duration_seconds histogram" in text


def test_run_timeout_interrupts_a_runaway_plugin_and_retries_are_bounded(server):
    db = unique_db("timeout")
    server.cli("create", "database", db)
    put_plugin(server, "runaway.py", '''
import time
def process_writes(influxdb3_local, table_batches, args=None):
    while True:          # a busy loop and short sleeps: both are interrupted
        time.sleep(0.01)
''')
    create(server, db, "runaway", "table:m", "runaway.py", "--run-timeout", "300ms", "--error-behavior", "retry",
           "--max-retries", "1")
    shown = query_rows(server, db, "SELECT run_timeout, max_retries, error_behavior FROM system.processing_engine_triggers "
                                   "WHERE trigger_name = 'runaway'")
    assert shown == [{"run_timeout": "300ms", "max_retries": 1, "error_behavior": "retry"}]
    started = time.time()
    assert write_lp(server, db, "m v=1").status_code == 204
    history = wait_for(lambda: len(runs(server, db, "runaway")) >= 2 and runs(server, db, "runaway"), timeout=15)
    assert [h["outcome"] for h in history] == ["timeout", "timeout"], history
    assert [h["attempt"] for h in history] == [1, 2]
    assert "run timed out after 300ms" in history[0]["error"]
    assert all(250_000_000 <= h["duration_ns"] < 5_000_000_000 for h in history)
    time.sleep(1)
    assert len(runs(server, db, "runaway")) == 2  # max-retries 1: two attempts, then it gives up
    assert time.time() - started < 15
    # The server and other writes are fine.
    assert write_lp(server, db, "other v=1").status_code == 204


def test_a_sleeping_plugin_does_not_delay_acknowledged_writes(server):
    db = unique_db("slow")
    server.cli("create", "database", db)
    put_plugin(server, "sleepy.py", '''
import time
def process_writes(influxdb3_local, table_batches, args=None):
    time.sleep(5)
''')
    create(server, db, "sleepy", "all_tables", "sleepy.py")
    assert write_lp(server, db, "m v=0").status_code == 204  # the plugin is now asleep
    worst = 0.0
    for i in range(1, 6):
        t0 = time.time()
        assert write_lp(server, db, f"m v={i}").status_code == 204
        worst = max(worst, time.time() - t0)
    # The server's flush interval is 100 ms; a write waits for one flush, never for the plugin.
    assert worst < 1.0, worst
    assert len(query_rows(server, db, "SELECT v FROM m")) == 6


def test_invalid_limits_are_rejected_with_clear_errors(server):
    db = unique_db("badlimits")
    server.cli("create", "database", db)
    put_plugin(server, "noop.py", "def process_writes(influxdb3_local, table_batches, args=None):\n    pass\n")
    body = {"db": db, "plugin_filename": "noop.py", "trigger_name": "t", "trigger_specification": "all_tables",
            "trigger_settings": {"run_async": False, "error_behavior": "log", "run_timeout": "soon"}}
    r = requests.post(server.url + "/api/v3/configure/processing_engine_trigger", json=body, timeout=30)
    assert r.status_code == 400 and "invalid run_timeout" in r.json()["error"]
    body["trigger_settings"] = {"run_async": False, "error_behavior": "retry", "max_retries": -2}
    r = requests.post(server.url + "/api/v3/configure/processing_engine_trigger", json=body, timeout=30)
    assert r.status_code == 400 and "max_retries" in r.json()["error"]
    bad = server.cli("create", "trigger", "-d", db, "--trigger-spec", "all_tables", "--plugin-filename", "noop.py",
                     "--max-retries", "1000", "t2", check=False)
    assert bad.returncode != 0


def test_test_request_plugin_dry_run(server, tmp_path):
    db = unique_db("dryreq")
    server.cli("create", "database", db)
    put_plugin(server, "echo_req.py", '''
import json
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    influxdb3_local.info("got", query_parameters.get("name"), request_headers.get("x-mode"))
    influxdb3_local.write(LineBuilder("requests").tag("name", query_parameters["name"]).int64_field("n", 1))
    payload = json.loads(request_body) if request_body else {}
    return {"name": query_parameters["name"], "mode": request_headers.get("x-mode"), "payload": payload,
            "arg": args["greeting"]}, 201, {"X-Reply": "yes"}
''')
    body_file = tmp_path / "body.json"
    body_file.write_text('{"k": [1, 2]}')
    r = server.cli("test", "request_plugin", "-d", db, "--query-parameters", "name=alice", "--header", "X-Mode=dry",
                   "--body-file", str(body_file), "--input-arguments", "greeting=hi", "echo_req.py")
    out = json.loads(r.stdout)
    assert out["response"]["status"] == 201 and out["response"]["headers"]["X-Reply"] == "yes"
    assert json.loads(out["response"]["body"]) == {"name": "alice", "mode": "dry", "payload": {"k": [1, 2]},
                                                   "arg": "hi"}
    assert "INFO: got alice dry" in out["log_lines"]
    assert out["database_writes"][db] == ["requests,name=alice n=1i"]
    # Nothing was written for real.
    tables = [t["table_name"] for t in query_rows(server, db, "SHOW TABLES") if t["table_schema"] == "iox"]
    assert "requests" not in tables
    put_plugin(server, "broken_req.py", "def process_request(influxdb3_local, q, h, b, args=None):\n    1/0\n")
    out = json.loads(server.cli("test", "request_plugin", "-d", db, "broken_req.py").stdout)
    assert out["response"]["status"] == 500 and "ZeroDivisionError" in out["response"]["body"]
    missing = server.cli("test", "request_plugin", "-d", "no_such_db_x", "broken_req.py", check=False)
    assert missing.returncode != 0 and "database not found" in missing.stderr


def test_a_trigger_that_falls_behind_drops_events_past_its_queue_size(server):
    db = unique_db("behind")
    server.cli("create", "database", db)
    put_plugin(server, "slowpoke.py", '''
import time
def process_writes(influxdb3_local, table_batches, args=None):
    time.sleep(1)
''')
    create(server, db, "slowpoke", "table:m", "slowpoke.py", "--queue-size", "2")
    assert query_rows(server, db, "SELECT queue_size FROM system.processing_engine_triggers") == [{"queue_size": 2}]
    for i in range(6):  # one flush each (100 ms interval): 1 running, 2 queued, the rest dropped
        assert write_lp(server, db, f"m v={i}").status_code == 204
        time.sleep(0.15)
    dropped = [t for level, t in trigger_logs(server, db, "slowpoke") if "WAL event dropped" in t]
    assert dropped and all(level_ok for level_ok in dropped) and "queue is full (2 pending runs)" in dropped[0]
    assert len(query_rows(server, db, "SELECT v FROM m")) == 6  # the writes themselves were all kept


def test_internal_database_serves_the_engine_logs_as_plugin_readmes_query_them(server):
    db = unique_db("internal")
    server.cli("create", "database", db)
    put_plugin(server, "say.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    influxdb3_local.info("said from " + query_parameters["who"])
    return "ok"
''')
    create(server, db, "say", f"request:say_{db}", "say.py")
    assert requests.get(f"{server.url}/api/v3/engine/say_{db}", params={"who": db}, timeout=30).text == "ok"
    out = server.cli("query", "--database", "_internal", "--format", "json",
                     "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'say'").stdout
    assert {"log_text": f"said from {db}"} in json.loads(out)
    assert "_internal" in server.cli("show", "databases").stdout
    assert write_lp(server, "_internal", "m v=1").status_code == 400
    assert requests.delete(server.url + "/api/v3/configure/database", params={"db": "_internal"},
                           timeout=10).status_code >= 400


def test_show_plugins_lists_the_trigger_plugin_files(server):
    db = unique_db("plugins")
    server.cli("create", "database", db)
    put_plugin(server, "listed.py", "def process_writes(influxdb3_local, table_batches, args=None):\n    pass\n")
    put_plugin(server, "pkg_listed/__init__.py", "def process_writes(influxdb3_local, table_batches, args=None):\n    pass\n")
    put_plugin(server, "pkg_listed/helper.py", "X = 1\n")
    create(server, db, "single_file", "table:a", "listed.py")
    create(server, db, "package", "table:b", "pkg_listed")
    out = json.loads(server.cli("show", "plugins", "--format", "json").stdout)
    mine = sorted((r["plugin_name"], r["file_name"]) for r in out if r["plugin_name"] in ("single_file", "package"))
    assert mine == [("package", "pkg_listed/__init__.py"), ("package", "pkg_listed/helper.py"),
                    ("single_file", "listed.py")], out
    row = next(r for r in out if r["plugin_name"] == "single_file")
    assert row["file_path"].endswith("/listed.py") and row["size_bytes"] > 0 and row["last_modified"] > 1.7e12
