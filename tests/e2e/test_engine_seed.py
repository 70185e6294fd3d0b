"""Every example of the Processing-engine documentation (the seed), run verbatim."""
import json
import textwrap

import requests

from conftest import query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin

WAL_PLUGIN = '''
def process_writes(influxdb3_local, table_batches, args=None):
    # Process data as it's written to the database
    for table_batch in table_batches:
        table_name = table_batch["table_name"]
        rows = table_batch["rows"]
        
        # Log information about the write
        influxdb3_local.info(f"Processing {len(rows)} rows from {table_name}")
        
        # Write derived data back to the database
        line = LineBuilder("processed_data")
        line.tag("source_table", table_name)
        line.int64_field("row_count", len(rows))
        influxdb3_local.write(line)
'''

SCHEDULE_PLUGIN = '''
def process_scheduled_call(influxdb3_local, call_time, args=None):
    # Run code on a schedule
    
    # Query recent data
    results = influxdb3_local.query("SELECT * FROM metrics WHERE time > now() - INTERVAL '1 hour'")
    
    # Process the results
    if results:
        influxdb3_local.info(f"Found {len(results)} recent metrics")
    else:
        influxdb3_local.warn("No recent metrics found")
'''

REQUEST_PLUGIN = '''
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    # Handle HTTP requests to a custom endpoint
    
    # Log the request parameters
    influxdb3_local.info(f"Received request with parameters: {query_parameters}")
    
    # Process the request body
    if request_body:
        import json
        data = json.loads(request_body)
        influxdb3_local.info(f"Request data: {data}")
    
    # Return a response (automatically converted to JSON)
    return {"status": "success", "message": "Request processed"}
'''

ARGS_PLUGIN = '''
def process_scheduled_call(influxdb3_local, call_time, args=None):
    if args and "threshold" in args:
        threshold = float(args["threshold"])
        email = args.get("notify_email", "default@example.com")
        
        # Use the arguments in your logic
        influxdb3_local.info(f"Checking threshold {threshold}, will notify {email}")
'''

API_PLUGIN = '''
import time

def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    # Create a line protocol entry
    line = LineBuilder("weather")
    line.tag("location", "us-midwest")
    line.float64_field("temperature", 82.5)
    line.time_ns(1627680000000000000)

    # Write the data to the database
    influxdb3_local.write(line)

    # Simple query
    results = influxdb3_local.query("SELECT * FROM metrics WHERE time > now() - INTERVAL '1 hour'")

    # Parameterized query for safer execution
    params = {"table": "metrics", "threshold": "90"}
    results = influxdb3_local.query("SELECT * FROM $table WHERE value > $threshold", params)

    influxdb3_local.info("Starting data processing")
    influxdb3_local.warn("Could not process some records")
    influxdb3_local.error("Failed to connect to external API")

    # Log structured data
    obj_to_log = {"records": 157, "errors": 3}
    influxdb3_local.info("Processing complete", obj_to_log)

    # Store a value
    influxdb3_local.cache.put("last_run_time", time.time())
    last_time = influxdb3_local.cache.get("last_run_time", default=0)
    influxdb3_local.cache.delete("temporary_data")
    influxdb3_local.cache.put("api_response", {"x": 1}, ttl=300)
    influxdb3_local.cache.put("config", {"version": "1.0"}, use_global=True)
    config = influxdb3_local.cache.get("config", use_global=True)

    counter = influxdb3_local.cache.get("execution_count", default=0)
    counter += 1
    influxdb3_local.cache.put("execution_count", counter)
    influxdb3_local.info(f"This plugin has run {counter} times")
    return {"rows": results, "config": config, "counter": counter, "last_time_set": last_time > 0}
'''


def logs(server, db, trigger):
    return query_rows(server, db, "SELECT log_level, log_text FROM system.processing_engine_logs "
                                  "WHERE trigger_name = $t", params={"t": trigger})


def test_wal_trigger_on_a_table_writes_derived_data(server):
    db = unique_db("my_database")
    put_plugin(server, "process_sensors.py", WAL_PLUGIN)
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "table:sensor_data", "--plugin-filename",
               "process_sensors.py", "--database", db, "sensor_processor")
    assert write_lp(server, db, "sensor_data,room=a temp=21.5\nsensor_data,room=b temp=22.5\nother v=1").status_code == 204
    rows = wait_for(lambda: query_rows(server, db, "SELECT source_table, row_count FROM processed_data")
                    if any(r["table_name"] == "processed_data" for r in query_rows(server, db, "SHOW TABLES")) else [])
    assert rows == [{"source_table": "sensor_data", "row_count": 2}]
    assert {"log_level": "INFO", "log_text": "Processing 2 rows from sensor_data"} in logs(server, db, "sensor_processor")


def test_all_tables_trigger_sees_every_table(server):
    db = unique_db("my_database")
    put_plugin(server, "process_all_data.py", WAL_PLUGIN)
    server.cli("create", "database", db)
    out = server.cli("create", "trigger", "--trigger-spec", "all_tables", "--plugin-filename",
                     "process_all_data.py", "--database", db, "all_data_processor")
    assert "Trigger all_data_processor created successfully" in out.stdout
    assert write_lp(server, db, "a v=1\nb v=2\nb v=3").status_code == 204
    texts = wait_for(lambda: {r["log_text"] for r in logs(server, db, "all_data_processor")}
                     >= {"Processing 1 rows from a", "Processing 2 rows from b"})
    assert texts


def test_schedule_trigger_every_interval_queries_and_warns(server):
    db = unique_db("my_database")
    put_plugin(server, "hourly_check.py", SCHEDULE_PLUGIN)
    server.cli("create", "database", db)
    assert write_lp(server, db, "metrics,host=a value=95").status_code == 204
    server.cli("create", "trigger", "--trigger-spec", "every:1s", "--plugin-filename", "hourly_check.py",
               "--database", db, "regular_check")
    found = wait_for(lambda: [r for r in logs(server, db, "regular_check") if r["log_text"] == "Found 1 recent metrics"])
    assert found


def test_cron_trigger_with_the_docs_five_field_expression_is_accepted(server):
    db = unique_db("my_database")
    put_plugin(server, "daily_report.py", SCHEDULE_PLUGIN)
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "cron:0 8 * * *", "--plugin-filename", "daily_report.py",
               "--database", db, "daily_report")
    rows = query_rows(server, db, "SELECT trigger_specification FROM system.processing_engine_triggers")
    assert rows == [{"trigger_specification": '{"schedule":{"schedule":"0 8 * * *"}}'}]


def test_six_field_cron_runs_every_second(server):
    db = unique_db("cron")
    put_plugin(server, "cron_tick.py", ARGS_PLUGIN)
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "cron:* * * * * *", "--plugin-filename", "cron_tick.py",
               "--trigger-arguments", "threshold=1", "--database", db, "cron_tick")
    assert wait_for(lambda: any("Checking threshold 1.0" in r["log_text"] for r in logs(server, db, "cron_tick")))


def test_request_trigger_with_path_spec(server):
    db = unique_db("my_database")
    put_plugin(server, "webhook_handler.py", REQUEST_PLUGIN)
    server.cli("create", "database", db)
    path = f"webhook_{db}"
    server.cli("create", "trigger", "--trigger-spec", f"path:{path}", "--plugin-filename", "webhook_handler.py",
               "--database", db, "webhook_processor")
    r = requests.get(f"{server.url}/api/v3/engine/{path}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"status": "success", "message": "Request processed"}
    r = requests.post(f"{server.url}/api/v3/engine/{path}?a=1&b=x+y", data=json.dumps({"k": "v"}))
    assert r.status_code == 200
    texts = [x["log_text"] for x in logs(server, db, "webhook_processor")]
    assert "Received request with parameters: {'a': '1', 'b': 'x y'}" in texts
    assert "Request data: {'k': 'v'}" in texts


def test_request_trigger_with_request_spec_and_unknown_path(server):
    db = unique_db("req")
    put_plugin(server, "webhook_handler.py", REQUEST_PLUGIN)
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", f"request:hook_{db}", "--plugin-filename",
               "webhook_handler.py", "--database", db, "hook")
    assert requests.post(f"{server.url}/api/v3/engine/hook_{db}").status_code == 200
    assert requests.get(f"{server.url}/api/v3/engine/nothing_here_{db}").status_code == 404


def test_trigger_arguments_reach_the_plugin(server):
    db = unique_db("my_database")
    put_plugin(server, "threshold_check.py", ARGS_PLUGIN)
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "every:1s", "--plugin-filename", "threshold_check.py",
               "--trigger-arguments", "threshold=90,notify_email=admin@example.com", "--database", db,
               "threshold_monitor")
    assert wait_for(lambda: [r for r in logs(server, db, "threshold_monitor")
                             if r["log_text"] == "Checking threshold 90.0, will notify admin@example.com"])
    rows = query_rows(server, db, "SELECT argument_key, argument_value FROM system.processing_engine_trigger_arguments "
                                  "ORDER BY argument_key")
    assert rows == [{"argument_key": "notify_email", "argument_value": "admin@example.com"},
                    {"argument_key": "threshold", "argument_value": "90"}]


def test_asynchronous_trigger(server):
    db = unique_db("my_database")
    put_plugin(server, "heavy_process.py", WAL_PLUGIN)
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "table:metrics", "--plugin-filename", "heavy_process.py",
               "--run-asynchronous", "--database", db, "async_processor")
    assert write_lp(server, db, "metrics v=1").status_code == 204
    assert wait_for(lambda: any(r["log_text"] == "Processing 1 rows from metrics"
                                for r in logs(server, db, "async_processor")))
    rows = query_rows(server, db, "SELECT run_async FROM system.processing_engine_triggers")
    assert rows == [{"run_async": True}]


def test_shared_api_logging_writes_queries_and_cache(server):
    db = unique_db("api")
    put_plugin(server, "api_tour.py", API_PLUGIN)
    server.cli("create", "database", db)
    assert write_lp(server, db, "metrics,host=a value=95\nmetrics,host=b value=50").status_code == 204
    server.cli("create", "trigger", "--trigger-spec", f"request:tour_{db}", "--plugin-filename", "api_tour.py",
               "--database", db, "tour")
    first = requests.post(f"{server.url}/api/v3/engine/tour_{db}")
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["host"] for r in body["rows"]] == ["a"]
    assert isinstance(body["rows"][0]["time"], int)
    assert body["config"] == {"version": "1.0"}
    assert body["counter"] == 1 and body["last_time_set"] is True
    assert requests.post(f"{server.url}/api/v3/engine/tour_{db}").json()["counter"] == 2
    rows = query_rows(server, db, "SELECT DISTINCT location, temperature, time FROM weather")
    assert rows == [{"location": "us-midwest", "temperature": 82.5, "time": "2021-07-30T21:20:00"}]
    levels = {(r["log_level"], r["log_text"]) for r in logs(server, db, "tour")}
    assert ("INFO", "Starting data processing") in levels
    assert ("WARN", "Could not process some records") in levels
    assert ("ERROR", "Failed to connect to external API") in levels
    assert ("INFO", "Processing complete {'records': 157, 'errors': 3}") in levels
    assert ("INFO", "This plugin has run 2 times") in levels


def test_error_behavior_disable_is_persisted(server):
    db = unique_db("errs")
    put_plugin(server, "critical_process.py", "def process_writes(influxdb3_local, table_batches, args=None):\n"
                                              "    raise ValueError('boom')\n")
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "table:important_data", "--plugin-filename",
               "critical_process.py", "--error-behavior", "disable", "--database", db, "auto_disable_processor")
    assert write_lp(server, db, "important_data v=1").status_code == 204
    disabled = wait_for(lambda: query_rows(server, db, "SELECT disabled FROM system.processing_engine_triggers")
                        == [{"disabled": True}])
    assert disabled
    errors = [r["log_text"] for r in logs(server, db, "auto_disable_processor") if r["log_level"] == "ERROR"]
    assert any("ValueError: boom" in e and "Traceback" in e for e in errors)


def test_error_behavior_retry_is_bounded(server):
    db = unique_db("errs")
    put_plugin(server, "flaky.py", "def process_writes(influxdb3_local, table_batches, args=None):\n"
                                   "    raise RuntimeError('always')\n")
    server.cli("create", "database", db)
    server.cli("create", "trigger", "--trigger-spec", "table:important_data", "--plugin-filename", "flaky.py",
               "--error-behavior", "retry", "--database", db, "critical_processor")
    assert write_lp(server, db, "important_data v=1").status_code == 204
    assert wait_for(lambda: any("giving up after 4 attempts" in r["log_text"]
                                for r in logs(server, db, "critical_processor")))
    failures = [r for r in logs(server, db, "critical_processor") if "RuntimeError: always" in r["log_text"]]
    assert len(failures) == 4
