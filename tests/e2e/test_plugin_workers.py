"""Plugins in worker processes (serve --plugin-isolation process, the default): a plugin that
exits, segfaults, allocates without bound, hangs in a C call, leaves threads running or prints
megabytes ends only its own run. Each time the server answers /health, acknowledges writes, runs
its other triggers, and system.processing_engine_runs says what happened; the worker is started
again for the next run. Also: the trigger's cache keeps live objects within a worker, the global
cache lives in the server, --plugin-isolation thread runs plugins in the server's process, and
workers never outlive their server."""
import concurrent.futures
import os
import signal
import time

import pytest
import requests

from conftest import Server, query_rows, unique_db, wait_for, write_lp
from conftest import put_plugin, create_trigger as create

# Under ASan (make sanitize-e2e) a worker's own footprint is far bigger and ASan turns a segfault
# into a report and exit code 1: no memory limit there, and that exit is what the run records.
SANITIZED = os.environ.get("RIFFLE_SANITIZED") == "1"
MEMORY_LIMIT = [] if SANITIZED else ["--plugin-memory-limit", "300mb"]

CRASHER = '''
import ctypes, os, time

def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    how = query_parameters.get("how", "")
    if how == "exit":
        os._exit(3)
    if how == "segv":
        ctypes.string_at(0)
    if how == "hang":
        ctypes.CDLL(None).sleep(3600)   # stuck in C: no bytecode boundary to interrupt at
    if how == "alloc":
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
    if how == "garbage":   # the plugin writes nonsense on the worker's channel to the server
        os.write(3, bytes([0, 0, 0, 0]))   # a frame of no bytes
        time.sleep(5)
    if how == "close":     # or closes it
        os.close(3)
        time.sleep(5)
    if how == "spam":
        for i in range(5000):
            print("x" * 1000)
    if how == "thread":
        import threading
        threading.Thread(target=lambda: time.sleep(3600)).start()   # never ends, not a daemon
    seen = influxdb3_local.cache.get("seen", 0) + 1
    influxdb3_local.cache.put("seen", seen)
    shared = influxdb3_local.cache.get("shared", 0, use_global=True) + 1
    influxdb3_local.cache.put("shared", shared, use_global=True)
    influxdb3_local.write(LineBuilder("visits").tag("how", how or "plain").int64_field("n", 1))
    return {"pid": os.getpid(), "seen": seen, "shared": shared}
'''

COUNTER = '''
def process_writes(influxdb3_local, table_batches, args=None):
    for batch in table_batches:
        influxdb3_local.write(LineBuilder("copied").int64_field("rows", len(batch["rows"])))
'''


def runs(server, db, trigger):
    return query_rows(server, db, "SELECT outcome, error FROM system.processing_engine_runs WHERE trigger_name = $t "
                                  "ORDER BY start_time", params={"t": trigger})


def workers_of(pid):
    """pids of the plugin workers whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"__plugin-worker" in cmdline:
            out.append(int(entry))
    return out


def still_fine(server, db, counter_rows_before):
    """The server is up, acknowledges a write, and the WAL trigger on it still runs."""
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    assert write_lp(server, db, "cpu v=1").status_code == 204
    assert wait_for(lambda: len(query_rows(server, db, "SELECT * FROM copied")) > counter_rows_before, timeout=15)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("workers"), extra_args=MEMORY_LIMIT).start()
    db = unique_db("w")
    server.cli("create", "database", db)
    put_plugin(server, "crasher.py", CRASHER)
    put_plugin(server, "counter.py", COUNTER)
    create(server, db, "crasher", f"request:crash_{db}", "crasher.py")
    create(server, db, "counter", "table:cpu", "counter.py")
    assert write_lp(server, db, "cpu v=0").status_code == 204
    assert wait_for(lambda: any(t["table_name"] == "copied" for t in query_rows(server, db, "SHOW TABLES")), timeout=15)
    yield server, db
    server.kill9()


def call(server, db, how="", timeout=60):
    return requests.get(f"{server.url}/api/v3/engine/crash_{db}", params={"how": how}, timeout=timeout)


@pytest.mark.parametrize("how,expected", [
    ("exit", "exited with code 3"),
    ("segv", "exited with code 1" if SANITIZED else "killed by signal 11 (SIGSEGV)"),
    ("alloc", "over --plugin-memory-limit (300 MiB)"),
    ("garbage", "sent a message the server could not read"),
    ("close", "exited with code 1"),
])
def test_a_worker_that_dies_ends_only_its_run(env, how, expected):
    if how == "alloc" and SANITIZED:
        pytest.skip("no memory limit under ASan")
    server, db = env
    first = call(server, db)
    assert first.status_code == 200, first.text
    copied = len(query_rows(server, db, "SELECT * FROM copied"))
    r = call(server, db, how)
    assert r.status_code == 500, r.text
    assert expected in r.json()["error"], r.text
    history = runs(server, db, "crasher")
    assert history[-1]["outcome"] == "crashed" and expected in history[-1]["error"], history[-1]
    still_fine(server, db, copied)
    # A new worker serves the next run: the trigger's cache started afresh with it, the global
    # cache (the server's) kept its count.
    after = call(server, db)
    assert after.status_code == 200, after.text
    assert after.json()["pid"] != first.json()["pid"]
    assert after.json()["pid"] != server.proc.pid
    assert after.json()["seen"] == 1
    assert after.json()["shared"] == first.json()["shared"] + 1


def test_a_run_stuck_in_a_c_call_is_killed_at_its_timeout(env):
    server, db = env
    put_plugin(server, "stuck.py", '''
import ctypes
def process_writes(influxdb3_local, table_batches, args=None):
    for batch in table_batches:
        for row in batch["rows"]:
            if row.get("stuck"):
                ctypes.CDLL(None).sleep(3600)
    influxdb3_local.write(LineBuilder("unstuck").int64_field("n", 1))
''')
    create(server, db, "stuck", "table:jam", "stuck.py", "--run-timeout", "500ms")
    copied = len(query_rows(server, db, "SELECT * FROM copied"))
    assert write_lp(server, db, "jam stuck=true").status_code == 204
    history = wait_for(lambda: runs(server, db, "stuck"), timeout=20)
    assert history and history[0]["outcome"] == "timeout", history
    assert "run timed out after 500ms" in history[0]["error"]
    still_fine(server, db, copied)
    assert write_lp(server, db, "jam stuck=false").status_code == 204
    assert wait_for(lambda: [r["outcome"] for r in runs(server, db, "stuck")] == ["timeout", "success"], timeout=20), \
        runs(server, db, "stuck")


def test_the_error_behaviour_applies_to_a_crash(env):
    server, db = env
    put_plugin(server, "quitter.py", '''
import os
def process_writes(influxdb3_local, table_batches, args=None):
    os._exit(7)
''')
    create(server, db, "retrier", "table:quit", "quitter.py", "--error-behavior", "retry", "--max-retries", "2")
    create(server, db, "disabler", "table:quit", "quitter.py", "--error-behavior", "disable")
    assert write_lp(server, db, "quit v=1").status_code == 204
    assert wait_for(lambda: len(runs(server, db, "retrier")) == 3, timeout=30), runs(server, db, "retrier")
    assert all(r["outcome"] == "crashed" and "exited with code 7" in r["error"] for r in runs(server, db, "retrier"))
    shown = wait_for(lambda: query_rows(server, db, "SELECT disabled FROM system.processing_engine_triggers "
                                                    "WHERE trigger_name = 'disabler'") == [{"disabled": True}], timeout=15)
    assert shown, query_rows(server, db, "SELECT * FROM system.processing_engine_triggers")
    assert [r["outcome"] for r in runs(server, db, "disabler")] == ["crashed"]


def test_megabytes_of_output_and_threads_that_never_end(env):
    server, db = env
    copied = len(query_rows(server, db, "SELECT * FROM copied"))
    assert call(server, db, "spam").status_code == 200
    threaded = call(server, db, "thread")
    assert threaded.status_code == 200, threaded.text
    still_fine(server, db, copied)
    texts = query_rows(server, db, "SELECT count(*) AS n FROM system.processing_engine_logs WHERE trigger_name = 'crasher' "
                                   "AND log_text LIKE 'xxxx%'")
    assert texts[0]["n"] > 0
    # Deleting the trigger ends its worker, thread and all (the plugin answers with its pid).
    worker = threaded.json()["pid"]
    assert worker in workers_of(server.proc.pid), (worker, workers_of(server.proc.pid))
    server.cli("delete", "trigger", "--database", db, "--force", "crasher")
    assert wait_for(lambda: worker not in workers_of(server.proc.pid), timeout=10), workers_of(server.proc.pid)
    server.cli("create", "trigger", "--trigger-spec", f"request:crash_{db}", "--plugin-filename", "crasher.py",
               "--database", db, "crasher")


def test_a_hung_request_plugin_does_not_block_others(env):
    server, db = env
    create(server, db, "hang", f"request:hang_{db}", "crasher.py", "--run-timeout", "1s")
    copied = len(query_rows(server, db, "SELECT * FROM copied"))
    r = requests.get(f"{server.url}/api/v3/engine/hang_{db}", params={"how": "hang"}, timeout=60)
    assert r.status_code == 504, r.text
    assert call(server, db).status_code == 200
    still_fine(server, db, copied)
    assert requests.get(f"{server.url}/api/v3/engine/hang_{db}", timeout=60).status_code == 200


def test_asynchronous_runs_overlap_in_one_worker_and_share_its_cache(env):
    server, db = env
    put_plugin(server, "slow.py", '''
import os, time
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    start = time.time()
    time.sleep(0.5)
    n = influxdb3_local.cache.get("n", 0) + 1
    influxdb3_local.cache.put("n", n)
    return {"pid": os.getpid(), "start": start, "end": time.time()}
''')
    create(server, db, "slow", f"request:slow_{db}", "slow.py", "--run-asynchronous")
    requests.get(f"{server.url}/api/v3/engine/slow_{db}", timeout=30)  # the worker is up
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: requests.get(f"{server.url}/api/v3/engine/slow_{db}", timeout=30).json(),
                            range(4)))
    assert all("pid" in g for g in got), got
    assert len({g["pid"] for g in got}) == 1
    spans = sorted((g["start"], g["end"]) for g in got)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:])), spans  # runs overlapped


def test_workers_end_with_their_server(fresh_server):
    s = fresh_server.start()
    db = unique_db("w")
    s.cli("create", "database", db)
    put_plugin(s, "crasher.py", CRASHER)
    create(s, db, "crasher", f"request:crash_{db}", "crasher.py")
    pid = call(s, db).json()["pid"]
    assert workers_of(s.proc.pid) == [pid]
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                    open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", timeout=10)


def test_thread_isolation_runs_plugins_in_the_server(tmp_path):
    s = Server(tmp_path, extra_args=["--plugin-isolation", "thread"]).start()
    try:
        db = unique_db("w")
        s.cli("create", "database", db)
        put_plugin(s, "crasher.py", CRASHER)
        create(s, db, "crasher", f"request:crash_{db}", "crasher.py")
        r = call(s, db)
        assert r.status_code == 200 and r.json()["pid"] == s.proc.pid, r.text
        assert workers_of(s.proc.pid) == []
    finally:
        s.kill9()


@pytest.mark.parametrize("args,message", [
    (["--plugin-isolation", "fork"], "--plugin-isolation"),
    (["--plugin-memory-limit", "10mb"], "at least 64 MiB"),
    (["--plugin-memory-limit", "lots"], "got 'lots'"),
])
def test_bad_isolation_flags_are_refused(fresh_server, args, message):
    import subprocess
    from conftest import BINARY
    p = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and message in p.stderr, p.stderr
