"""Plugins that raise, exit, loop or misbehave must not take the server (or other triggers) down."""
import textwrap
import time

import requests

from conftest import query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin, create_trigger as create


def test_request_plugin_failures_answer_500_with_the_error(server):
    db = unique_db("iso")
    server.cli("create", "database", db)
    put_plugin(server, "raises.py", "def process_request(influxdb3_local, q, h, b, args=None):\n"
                                    "    raise Exception('boom')\n")
    put_plugin(server, "exits.py", "import sys\ndef process_request(influxdb3_local, q, h, b, args=None):\n"
                                   "    sys.exit(3)\n")
    put_plugin(server, "none.py", "def process_request(influxdb3_local, q, h, b, args=None):\n    return None\n")
    put_plugin(server, "nofunc.py", "x = 1\n")
    put_plugin(server, "syntax.py", "def process_request(:\n")
    for name in ["raises", "exits", "none", "nofunc", "syntax"]:
        create(server, db, name, f"request:{name}_{db}", f"{name}.py")
    r = requests.get(f"{server.url}/api/v3/engine/raises_{db}")
    assert r.status_code == 500 and r.json() == {"error": "Python function call failed: Exception: boom"}
    r = requests.get(f"{server.url}/api/v3/engine/exits_{db}")
    assert r.status_code == 500 and "SystemExit" in r.json()["error"]
    r = requests.get(f"{server.url}/api/v3/engine/none_{db}")
    assert r.status_code == 500 and "Unsupported return type from Python function" in r.json()["error"]
    r = requests.get(f"{server.url}/api/v3/engine/nofunc_{db}")
    assert r.status_code == 500 and "the process_request function is not present in the plugin" in r.json()["error"]
    r = requests.get(f"{server.url}/api/v3/engine/syntax_{db}")
    assert r.status_code == 500 and "SyntaxError" in r.json()["error"]
    assert requests.get(server.url + "/health").status_code == 200
    errors = query_rows(server, db, "SELECT log_text FROM system.processing_engine_logs "
                                    "WHERE trigger_name = 'raises' AND log_level = 'ERROR'")
    assert any("Traceback" in e["log_text"] and "boom" in e["log_text"] for e in errors)


def test_an_endless_plugin_blocks_neither_writes_nor_other_triggers(server):
    db = unique_db("iso")
    server.cli("create", "database", db)
    put_plugin(server, "spin.py", "def process_writes(influxdb3_local, table_batches, args=None):\n"
                                  "    while True:\n        pass\n")
    put_plugin(server, "ok.py", "def process_request(influxdb3_local, q, h, b, args=None):\n    return 'ok'\n")
    create(server, db, "spin", "table:spin", "spin.py")
    create(server, db, "ok", f"request:ok_{db}", "ok.py")
    assert write_lp(server, db, "spin v=1").status_code == 204
    time.sleep(0.3)  # the plugin is now spinning
    for i in range(5):
        assert write_lp(server, db, f"other v={i}").status_code == 204
    assert query_rows(server, db, "SELECT count(*) AS n FROM other") == [{"n": 5}]
    r = requests.get(f"{server.url}/api/v3/engine/ok_{db}", timeout=10)
    assert r.status_code == 200 and r.text == "ok"
    # Disabling interrupts the endless run.
    server.cli("disable", "trigger", "--database", db, "spin")
    assert wait_for(lambda: any("KeyboardInterrupt" in r["log_text"] for r in query_rows(
        server, db, "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'spin'")))


def test_plugins_cannot_see_each_others_globals(server):
    db = unique_db("iso")
    server.cli("create", "database", db)
    put_plugin(server, "setter.py", "SECRET = 'mine'\n"
                                    "def process_request(influxdb3_local, q, h, b, args=None):\n    return SECRET\n")
    put_plugin(server, "getter.py", "def process_request(influxdb3_local, q, h, b, args=None):\n"
                                    "    return str(globals().get('SECRET'))\n")
    create(server, db, "setter", f"request:setter_{db}", "setter.py")
    create(server, db, "getter", f"request:getter_{db}", "getter.py")
    assert requests.get(f"{server.url}/api/v3/engine/setter_{db}").text == "mine"
    assert requests.get(f"{server.url}/api/v3/engine/getter_{db}").text == "None"


def test_wal_plugin_failure_is_logged_and_the_trigger_keeps_going(server):
    db = unique_db("iso")
    server.cli("create", "database", db)
    put_plugin(server, "picky.py", '''
def process_writes(influxdb3_local, table_batches, args=None):
    for b in table_batches:
        for row in b["rows"]:
            if row.get("bad"):
                raise ValueError("bad row")
            influxdb3_local.info("good", row["v"])
''')
    create(server, db, "picky", "table:m", "picky.py")
    assert write_lp(server, db, "m bad=true,v=1").status_code == 204
    assert wait_for(lambda: query_rows(server, db, "SELECT log_text FROM system.processing_engine_logs "
                                                   "WHERE trigger_name = 'picky' AND log_level = 'ERROR'"))
    assert write_lp(server, db, "m v=2").status_code == 204
    assert wait_for(lambda: {"log_text": "good 2.0"} in query_rows(
        server, db, "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'picky'"))
