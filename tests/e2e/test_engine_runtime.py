"""Runtime behaviour published plugins rely on: print(), threads, asyncio, calling the server's
own API, PLUGIN_DIR, missing modules."""
import textwrap
import time

import requests

from conftest import query_rows, unique_db, wait_for
from conftest import put_plugin, create_trigger as create, trigger_logs as logs


def test_print_goes_to_the_trigger_log(server):
    db = unique_db("rt")
    server.cli("create", "database", db)
    put_plugin(server, "printer.py", '''
import sys
def process_request(influxdb3_local, q, h, b, args=None):
    print("hello from print")
    print("no newline", end="")
    print("to stderr", file=sys.stderr)
    return "ok"
''')
    create(server, db, "printer", f"request:printer_{db}", "printer.py")
    assert requests.get(f"{server.url}/api/v3/engine/printer_{db}").text == "ok"
    entries = logs(server, db, "printer")
    assert ("INFO", "hello from print") in entries
    assert ("INFO", "no newline") in entries
    assert ("WARN", "to stderr") in entries


def test_threads_asyncio_and_a_kept_api_object(server):
    db = unique_db("rt")
    server.cli("create", "database", db)
    put_plugin(server, "threads.py", '''
import asyncio
import threading
import time

def late(api):
    time.sleep(0.3)
    api.info("logged after the run")           # must not crash the server
    try:
        api.write(LineBuilder("late").int64_field("v", 1))
    except Exception as e:
        print("late write refused:", type(e).__name__)

async def compute():
    await asyncio.sleep(0.01)
    return 41 + 1

def process_request(influxdb3_local, q, h, b, args=None):
    worker = threading.Thread(target=lambda: influxdb3_local.info("from a worker thread"))
    worker.start()
    worker.join()
    threading.Thread(target=late, args=(influxdb3_local,)).start()
    return {"async": asyncio.run(compute())}
''')
    create(server, db, "threads", f"request:threads_{db}", "threads.py")
    assert requests.get(f"{server.url}/api/v3/engine/threads_{db}").json() == {"async": 42}
    assert ("INFO", "from a worker thread") in logs(server, db, "threads")
    time.sleep(0.6)
    assert requests.get(server.url + "/health").status_code == 200
    assert requests.get(f"{server.url}/api/v3/engine/threads_{db}").json() == {"async": 42}


def test_plugin_calls_the_servers_own_api_while_running(server):
    db = unique_db("rt")
    server.cli("create", "database", db)
    put_plugin(server, "notify.py", f'''
def process_request(influxdb3_local, q, h, b, args=None):
    return {{"notified": True, "body": b.decode()}}
''')
    put_plugin(server, "caller.py", f'''
import json
import urllib.request

def process_writes(influxdb3_local, table_batches, args=None):
    for batch in table_batches:
        req = urllib.request.Request("{server.url}/api/v3/engine/notify_{db}", method="POST",
                                     data=json.dumps({{"rows": len(batch["rows"])}}).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            influxdb3_local.info("notify answered", resp.status, resp.read().decode())
        with urllib.request.urlopen("{server.url}/health", timeout=10) as resp:
            influxdb3_local.info("health", resp.status)
''')
    create(server, db, "notify", f"request:notify_{db}", "notify.py")
    create(server, db, "caller", "table:alerts", "caller.py")
    r = requests.post(f"{server.url}/api/v3/write_lp", params={"db": db}, data=b"alerts v=1\nalerts v=2")
    assert r.status_code == 204
    texts = wait_for(lambda: [t for _, t in logs(server, db, "caller") if t.startswith("notify answered")])
    assert texts == ['notify answered 200 {"notified": true, "body": "{\\"rows\\": 2}"}']


def test_plugin_dir_variable_and_missing_modules(server):
    db = unique_db("rt")
    server.cli("create", "database", db)
    (server.plugin_dir / "settings.txt").write_text("from the plugin dir")
    put_plugin(server, "envy.py", '''
import os
def process_request(influxdb3_local, q, h, b, args=None):
    assert os.environ["INFLUXDB3_PLUGIN_DIR"] == os.environ["PLUGIN_DIR"]
    assert os.environ["VIRTUAL_ENV"].endswith(".venv")
    assert __name__ == "envy"
    with open(os.path.join(os.path.dirname(__file__), "settings.txt")) as f:
        assert f.read() == "from the plugin dir"
    with open(os.path.join(os.environ["PLUGIN_DIR"], "settings.txt")) as f:
        return f.read()

if __name__ == "__main__":
    raise SystemExit("test code of the plugin must not run inside the server")
''')
    put_plugin(server, "needs_pkg.py", '''
import definitely_missing_module_xyz
def process_scheduled_call(influxdb3_local, call_time, args=None):
    pass
''')
    create(server, db, "envy", f"request:envy_{db}", "envy.py")
    assert requests.get(f"{server.url}/api/v3/engine/envy_{db}").text == "from the plugin dir"
    create(server, db, "needs_pkg", "every:1s", "needs_pkg.py")
    assert wait_for(lambda: any("No module named 'definitely_missing_module_xyz'" in t
                                for _, t in logs(server, db, "needs_pkg")))
