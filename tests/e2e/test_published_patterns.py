"""Issue 5: plugins of our own written against exactly the API surface and SQL that the published
influxdata/influxdb3_plugins use (downsampler, threshold/deadman alerting, state change,
forecast error, valuecounter, notifier, schema validator, ...). No published code is copied;
each plugin below re-creates one pattern and the test checks rows, logs and HTTP responses."""
import json
import subprocess
import sys
import textwrap
import time

import requests

from conftest import Server, query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin, create_trigger as create, trigger_logs as logs

S = 10**9
BASE = 1_735_732_800  # 2025-01-01T12:00:00Z


def seed_cpu(server, db):
    lines = []
    for i in range(6):  # two hosts, three minutes, two points a minute
        for host, base in (("a", 10.0), ("b", 50.0)):
            lines.append(f"cpu,host={host},region=west usage={base + i},count={i}i {BASE + i * 30}")
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204


def test_downsampler_style_sql_and_writes(server):
    """information_schema for the field list, DATE_BIN with a string origin and GROUP BY alias,
    single-quoted table names, time literals in several formats, write_to_db with LineBuilder,
    time columns returned to the plugin as integer nanoseconds."""
    db, target = unique_db("ds"), unique_db("ds_out")
    server.cli("create", "database", db)
    server.cli("create", "database", target)
    seed_cpu(server, db)
    put_plugin(server, "downsample.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    table = args["source_measurement"]
    cols = influxdb3_local.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = 'iox' AND table_name = '{table}'")
    tags = [c["column_name"] for c in cols if c["data_type"] == "Dictionary(Int32, Utf8)"]
    fields = [c["column_name"] for c in cols if c["data_type"] in ("Float64", "Int64", "UInt64")]
    aggs = ", ".join(f'avg("{f}") AS "{f}"' for f in fields)
    sql = (f"SELECT DATE_BIN(INTERVAL '1 minute', time, '1970-01-01T00:00:00Z') AS _time, {', '.join(tags)}, {aggs} "
           f"FROM '{table}' WHERE time >= '2025-01-01 12:00:00+00:00' AND time < '2025-01-01T12:03:00.000000Z' "
           f"GROUP BY _time, {', '.join(tags)} ORDER BY _time, host")
    rows = influxdb3_local.query(sql)
    for r in rows:
        assert isinstance(r["_time"], int), type(r["_time"])
        line = LineBuilder(args["target_measurement"]).time_ns(r["_time"])
        for t in tags:
            line.tag(t, r[t])
        for f in fields:
            line.float64_field(f, float(r[f]))
        influxdb3_local.write_to_db(args["target_database"], line)
    influxdb3_local.info("downsampled", {"rows": len(rows), "fields": sorted(fields)})
    return {"rows": len(rows), "tags": sorted(tags), "fields": sorted(fields)}
''')
    create(server, db, "down", f"request:down_{db}", "downsample.py", "--trigger-arguments",
           f"source_measurement=cpu,target_measurement=cpu_1m,target_database={target}")
    r = requests.get(f"{server.url}/api/v3/engine/down_{db}", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 6, "tags": ["host", "region"], "fields": ["count", "usage"]}
    got = query_rows(server, target, "SELECT host, usage, count, time FROM cpu_1m ORDER BY time, host")
    assert [(g["host"], g["usage"], g["count"]) for g in got[:2]] == [("a", 10.5, 0.5), ("b", 50.5, 0.5)]
    assert got[0]["time"] == "2025-01-01T12:00:00"
    assert ("INFO", "downsampled {'rows': 6, 'fields': ['count', 'usage']}") in logs(server, db, "down")


def test_aggregate_functions_plugins_use(server):
    """first_value/last_value(x ORDER BY time), median/approx_median/stddev/var, count(*) as a
    key, to_timestamp_nanos(arrow_cast($p, 'Int64')), time = $ts, now() - INTERVAL, SHOW TABLES,
    query(sql, params, database=)."""
    db, caller = unique_db("agg"), unique_db("agg_caller")
    server.cli("create", "database", db)
    server.cli("create", "database", caller)
    seed_cpu(server, db)
    put_plugin(server, "aggregates.py", '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    db = query_parameters["db"]
    q = influxdb3_local.query
    out = {}
    out["first_last"] = q("SELECT host, first_value(usage ORDER BY time) AS first, last_value(usage ORDER BY time) AS last "
                          "FROM cpu GROUP BY host ORDER BY host", database=db)
    out["stats"] = q("SELECT median(usage) AS med, approx_median(usage) AS amed, stddev(usage) AS sd, "
                     "var(usage) AS v, count(*) FROM cpu WHERE host = $h", {"h": "a"}, database=db)
    out["since"] = q("SELECT count(*) AS n FROM cpu WHERE time >= to_timestamp_nanos(arrow_cast($p, 'Int64'))",
                     {"p": str(1735732800 * 10**9 + 90 * 10**9)}, database=db)
    out["at"] = q("SELECT host FROM cpu WHERE time = $ts ORDER BY host", {"ts": "2025-01-01T12:01:00.000000000Z"},
                  database=db)
    out["recent"] = q("SELECT count(*) AS n FROM cpu WHERE time > now() - INTERVAL '1 hour'", database=db)
    out["tables"] = [t["table_name"] for t in q("SHOW TABLES", database=db) if t["table_type"] == "BASE TABLE"
                     and t["table_schema"] == "iox"]
    out["window"] = q("SELECT host, first_value(usage) OVER (PARTITION BY host ORDER BY time) AS w FROM cpu "
                      "ORDER BY time, host LIMIT 2", database=db)
    # Timestamps cast to integers are nanoseconds, whichever way the cast is spelled.
    out["ns"] = q("SELECT CAST(time AS BIGINT) AS a, arrow_cast(time, 'Int64') AS b, time::bigint AS c, "
                  "CAST(NULL::TIMESTAMP AS BIGINT) AS d, CAST(TIMESTAMP '2025-01-01 12:00:00' AS BIGINT) AS e "
                  "FROM cpu ORDER BY time, host LIMIT 3", database=db)
    return out
''')
    create(server, caller, "aggs", f"request:aggs_{db}", "aggregates.py")
    r = requests.get(f"{server.url}/api/v3/engine/aggs_{db}", params={"db": db}, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["first_last"] == [{"host": "a", "first": 10.0, "last": 15.0}, {"host": "b", "first": 50.0, "last": 55.0}]
    stats = out["stats"][0]
    assert stats["med"] == 12.5 and stats["count(*)"] == 6 and abs(stats["v"] - 3.5) < 1e-9
    assert abs(stats["sd"] - 3.5 ** 0.5) < 1e-9 and 10 <= stats["amed"] <= 15
    assert out["since"] == [{"n": 6}]
    assert out["at"] == [{"host": "a"}, {"host": "b"}]
    assert out["recent"] == [{"n": 0}]  # the data is from 2025
    assert out["tables"] == ["cpu"]
    assert out["window"] == [{"host": "a", "w": 10.0}, {"host": "b", "w": 50.0}]
    t0 = 1735732800 * 10**9
    assert [(r["a"], r["b"], r["c"], r["e"]) for r in out["ns"]] == [(t0, t0, t0, t0), (t0, t0, t0, t0),
                                                                  (t0 + 30 * 10**9, t0 + 30 * 10**9, t0 + 30 * 10**9, t0)]
    assert all(r.get("d") is None for r in out["ns"])


def test_wal_plugin_state_in_the_cache_and_batch_attributes(server):
    """State-change/deadman style: table_batches read as dicts and as attributes, live Python
    objects kept in the cache across runs (a deque mutated in place), info(msg, dict), logging
    from a worker thread, write() of an object whose build() returns several lines."""
    db = unique_db("wal")
    server.cli("create", "database", db)
    put_plugin(server, "state_change.py", '''
import threading
from collections import deque

class Batch:
    def __init__(self, lines):
        self.lines = lines
    def build(self):
        return "\\n".join(l.build() for l in self.lines)

def process_writes(influxdb3_local, table_batches, args=None):
    history = influxdb3_local.cache.get("history", default=None)
    if history is None:
        history = deque(maxlen=int(args["window"]))
        influxdb3_local.cache.put("history", history, 3600)
    changes = []
    for batch in table_batches:
        assert batch["table_name"] == batch.table_name
        for row in batch.rows:
            if history and history[-1] != row["status"]:
                changes.append(LineBuilder("status_changes").tag("host", row["host"])
                               .string_field("from", history[-1]).string_field("to", row["status"])
                               .time_ns(row["time"]))
            history.append(row["status"])
    if changes:
        influxdb3_local.write(Batch(changes))
    t = threading.Thread(target=lambda: influxdb3_local.warn("checked", {"seen": len(history)}))
    t.start(); t.join()
''')
    create(server, db, "changes", "table:status", "state_change.py", "--trigger-arguments", "window=3")
    for i, status in enumerate(["ok", "ok", "fail", "fail", "ok"]):
        assert write_lp(server, db, f"status,host=h1 status=\"{status}\" {BASE + i}", precision="s").status_code == 204
    got = wait_for(lambda: query_rows(server, db, "SELECT \"from\", \"to\", time FROM status_changes ORDER BY time")
                   if any(r["table_name"] == "status_changes" for r in query_rows(server, db, "SHOW TABLES")) else [])
    got = wait_for(lambda: len(query_rows(server, db, "SELECT * FROM status_changes")) == 2 and
                   query_rows(server, db, "SELECT \"from\", \"to\", time FROM status_changes ORDER BY time"))
    assert got == [{"from": "ok", "to": "fail", "time": "2025-01-01T12:00:02"},
                   {"from": "fail", "to": "ok", "time": "2025-01-01T12:00:04"}], logs(server, db, "changes")
    assert ("WARN", "checked {'seen': 3}") in logs(server, db, "changes")


def test_alert_plugin_calls_the_notifier_over_http_without_deadlock(server):
    """Threshold/deadman plugins POST their alerts to the notifier plugin's request trigger on
    the same server (with a Bearer token), while their own trigger runs; asyncio.run inside."""
    db = unique_db("alert")
    server.cli("create", "database", db)
    put_plugin(server, "notifier.py", '''
import json
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    payload = json.loads(request_body)
    influxdb3_local.write(LineBuilder("notifications").tag("sender", payload["sender"])
                          .string_field("message", payload["message"]))
    return {"status": "sent", "auth": request_headers.get("authorization", "absent")}, 200
''')
    put_plugin(server, "threshold.py", f'''
import asyncio, json, os, urllib.request
PORT = {server.port}

async def notify(message):
    loop = asyncio.get_running_loop()
    def post():
        req = urllib.request.Request(f"http://localhost:{{PORT}}/api/v3/engine/notify_{db}",
                                     data=json.dumps({{"sender": "threshold", "message": message}}).encode(),
                                     headers={{"Content-Type": "application/json",
                                              "Authorization": "Bearer " + os.environ.get("INFLUXDB3_AUTH_TOKEN", "t")}})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    return await loop.run_in_executor(None, post)

def process_writes(influxdb3_local, table_batches, args=None):
    for batch in table_batches:
        for row in batch["rows"]:
            if row["usage"] > float(args["limit"]):
                answer = asyncio.run(notify(f"{{row['host']}} usage {{row['usage']}}"))
                influxdb3_local.info("notifier answered", answer["status"])
''')
    create(server, db, "notify", f"request:notify_{db}", "notifier.py")
    create(server, db, "threshold", "table:cpu", "threshold.py", "--trigger-arguments", "limit=90")
    assert write_lp(server, db, "cpu,host=h1 usage=95.5\ncpu,host=h2 usage=20.0").status_code == 204
    rows = wait_for(lambda: query_rows(server, db, "SELECT sender, message FROM notifications")
                    if any(r["table_name"] == "notifications" for r in query_rows(server, db, "SHOW TABLES")) else [],
                    timeout=15)
    assert rows == [{"sender": "threshold", "message": "h1 usage 95.5"}], logs(server, db, "threshold")
    # The notifier's row can become visible (next WAL flush) before the threshold plugin,
    # which logs once the HTTP answer is back, has logged.
    answered = wait_for(lambda: ("INFO", "notifier answered sent") in logs(server, db, "threshold"), timeout=15)
    assert answered, logs(server, db, "threshold")
    assert write_lp(server, db, "cpu,host=h3 usage=1.0").status_code == 204  # writes still flow


def test_call_time_is_utc_whatever_the_server_time_zone(tmp_path):
    s = Server(tmp_path, env={"TZ": "America/New_York"}).start()
    try:
        db = unique_db("tz")
        s.cli("create", "database", db)
        put_plugin(s, "tick.py", '''
from datetime import timezone
def process_scheduled_call(influxdb3_local, call_time, args=None):
    assert call_time.tzinfo is None
    ts = int(call_time.replace(tzinfo=timezone.utc).timestamp()) * 10**9
    influxdb3_local.write(LineBuilder("ticks").int64_field("sec", ts // 10**9).time_ns(ts))
''')
        before = time.time()
        create(s, db, "tick", "every:1s", "tick.py")
        rows = wait_for(lambda: query_rows(s, db, "SELECT sec FROM ticks LIMIT 1")
                        if any(r["table_name"] == "ticks" for r in query_rows(s, db, "SHOW TABLES")) else [], timeout=15)
        assert rows and abs(rows[0]["sec"] - before) < 5, (rows, before)
    finally:
        s.kill9()


def test_local_plugin_utils_package_installs_offline(server, tmp_path):
    """A shared utils package in src layout whose build backend is not available offline
    (a hatchling newer than Debian's) still installs from its local path."""
    project = tmp_path / "plugin-utils-demo"
    pkg = project / "src" / "riffle_demo_utils"
    pkg.mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["hatchling>=99.0"]
        build-backend = "hatchling.build"
        [project]
        name = "riffle-demo-utils"
        version = "0.1.0"
    '''))
    (pkg / "__init__.py").write_text("from .parsing import parse_list\n")
    (pkg / "parsing.py").write_text("def parse_list(text):\n    return [p.strip() for p in text.split('.') if p.strip()]\n")
    r = server.cli("install", "package", str(project), env={"PIP_NO_INDEX": "1"}, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    db = unique_db("utils")
    server.cli("create", "database", db)
    put_plugin(server, "uses_utils.py", '''
from riffle_demo_utils import parse_list
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"parsed": parse_list(query_parameters["fields"])}
''')
    create(server, db, "utils", f"request:utils_{db}", "uses_utils.py")
    r = requests.get(f"{server.url}/api/v3/engine/utils_{db}", params={"fields": "a.b. c"}, timeout=30)
    assert r.status_code == 200 and r.json() == {"parsed": ["a", "b", "c"]}, r.text


def test_missing_third_party_module_is_named_in_the_logs(server):
    db = unique_db("missing")
    server.cli("create", "database", db)
    put_plugin(server, "needs_jsonpath.py", '''
from jsonpath_ng import parse
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return "unreachable"
''')
    create(server, db, "needs", f"request:needs_{db}", "needs_jsonpath.py")
    r = requests.get(f"{server.url}/api/v3/engine/needs_{db}", timeout=30)
    assert r.status_code == 500 and "jsonpath_ng" in r.json()["error"], r.text
    assert wait_for(lambda: any("No module named 'jsonpath_ng'" in text for _, text in logs(server, db, "needs")))
