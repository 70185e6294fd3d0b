"""Starting and stopping. After a crash, the server listens before it replays the WAL, /health says what it is
doing (503 {"status": "replaying", "wal_files_left": N, ...}) and every other request, writes
included, gets a 503 JSON error with Retry-After instead of a refused connection or an
acknowledgement that could be lost; --force-snapshot-rows bounds how many rows a restart must
replay. SIGTERM answers the writes already read (after their WAL flush) before it closes the
connections, and --shutdown-timeout bounds the whole shutdown. Real server processes on the file
store."""
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from conftest import BINARY, Server, create_trigger, put_plugin, query_rows, write_lp

HOLD_OFF_SNAPSHOTS = ["--force-snapshot-rows", "0", "--wal-snapshot-size", "100000",
                      "--force-snapshot-mem-threshold", "10000000000"]


def batch(b, n):
    return "\n".join(f"m,host=h{i % 50},b=b{b} v={i}i {1_700_000_000_000_000_000 + b * 1_000_000 + i}"
                     for i in range(n))


def start_without_waiting(s):
    s.wait_healthy = lambda limit: None
    s.start()
    del s.wait_healthy


def test_health_reports_the_replay_and_requests_get_503_until_it_is_done(tmp_path):
    s = Server(tmp_path, HOLD_OFF_SNAPSHOTS, flush="10ms").start()
    batches, per_batch = 200, 2000
    for b in range(batches):
        r = write_lp(s, "db", batch(b, per_batch))
        assert r.status_code == 204, r.text
    s.kill9()
    start_without_waiting(s)
    seen, refused, deadline = [], None, time.time() + 120
    while time.time() < deadline:
        try:
            r = requests.get(s.url + "/health", timeout=5)
        except requests.ConnectionError:
            time.sleep(0.01)  # not listening yet (the catalog is loading)
            continue
        if r.status_code == 200:
            break
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.headers.get("Retry-After") == "1"
        seen.append(r.json())
        if refused is None and seen[-1]["status"] == "replaying":
            refused = write_lp(s, "db", "m,host=late v=1i 1")
        time.sleep(0.01)
    else:
        raise AssertionError(f"not healthy: {s.log()[-2000:]}")
    # (wal_files_total is 0 for the moment the WAL files are being listed.)
    replaying = [h for h in seen if h["status"] == "replaying" and h["wal_files_total"]]
    assert replaying, seen
    assert all(h["wal_files_total"] == replaying[0]["wal_files_total"] > 0 for h in replaying), replaying
    left = [h["wal_files_left"] for h in replaying]
    assert left == sorted(left, reverse=True), left  # progress only goes forward
    # The write sent during the replay was refused, with a reason, and not kept.
    assert refused is not None and refused.status_code == 503, refused.text if refused else None
    assert "starting" in refused.json()["error"] and "replaying the WAL" in refused.json()["error"]
    assert query_rows(s, "db", "SELECT count(*) AS n FROM m") == [{"n": batches * per_batch}]
    assert query_rows(s, "db", "SELECT count(*) AS n FROM m WHERE host = 'late'") == [{"n": 0}]
    assert f"replayed {batches * per_batch} lines from" in s.log()
    assert write_lp(s, "db", "m,host=late v=1i 1").status_code == 204
    s.kill9()


def test_force_snapshot_rows_bounds_what_a_restart_replays(tmp_path):
    s = Server(tmp_path, ["--force-snapshot-rows", "1000", "--wal-snapshot-size", "100000",
                          "--force-snapshot-mem-threshold", "10000000000"], flush="10ms").start()
    for b in range(12):
        assert write_lp(s, "db", batch(b, 500)).status_code == 204
    # Snapshots ran by row count alone (the WAL file count and memory thresholds are far away).
    deadline = time.time() + 30
    while time.time() < deadline:
        persisted = query_rows(s, "db", "SELECT coalesce(sum(row_count), 0) AS n FROM system.parquet_files")[0]["n"]
        if persisted >= 5000:
            break
        time.sleep(0.1)
    assert persisted >= 5000, (persisted, s.log()[-2000:])
    assert "snapshot:" in s.log()
    s.kill9()
    s.start()
    replayed = [int(n) for n in re.findall(r"replayed (\d+) lines from", s.log())]
    assert not replayed or replayed[-1] <= 6000 - persisted, (replayed, persisted)
    assert query_rows(s, "db", "SELECT count(*) AS n FROM m") == [{"n": 6000}]
    s.kill9()


def test_force_snapshot_rows_refuses_a_negative_value(tmp_path):
    r = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", "--force-snapshot-rows", "-1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--force-snapshot-rows" in (r.stdout + r.stderr), (r.returncode, r.stdout, r.stderr)


def test_sigterm_answers_the_writes_in_flight_and_keeps_them(tmp_path):
    # Flushes 2 s apart: after the first write, the writes below wait for their flush when
    # SIGTERM arrives.
    s = Server(tmp_path, ["--wal-min-flush-gap", "2s"], flush="2s").start()
    assert write_lp(s, "db", "m v=0i 1").status_code == 204
    answers = []

    def write(i):
        answers.append((i, write_lp(s, "db", f"m v={i}i {i + 1}")))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # read by the server, not yet flushed
    s.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=30)
    assert s.proc.wait(timeout=30) == 0, s.log()[-2000:]
    assert sorted(i for i, r in answers if r.status_code == 204) == [0, 1, 2, 3, 4], \
        [(i, r.status_code, r.text) for i, r in answers]
    assert re.search(r"stopped in \d+ ms", s.log())
    s.proc = None
    s.start()
    assert query_rows(s, "db", "SELECT v FROM m ORDER BY v") == [{"v": i} for i in range(5)]
    s.kill9()


def test_a_memory_store_server_leaves_no_scratch_directory_behind(tmp_path):
    s = Server(tmp_path, object_store="memory").start()
    scratch = Path(tempfile.gettempdir()) / f"riffle-{s.proc.pid}"
    assert scratch.is_dir()  # DuckDB's temporary files and the views' empty Parquet file
    assert write_lp(s, "db", "m v=1i 1").status_code == 204
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0, s.log()[-2000:]
    s.proc = None
    assert not scratch.exists(), sorted(p.name for p in scratch.iterdir())


def test_shutdown_timeout_ends_a_shutdown_that_hangs(tmp_path):
    s = Server(tmp_path, ["--shutdown-timeout", "2s"]).start()
    assert write_lp(s, "db", "m v=1i 1").status_code == 204
    s.cli("create", "database", "eng")
    put_plugin(s, "stuck.py", "import time\n"
                              "def process_request(influxdb3_local, q, h, b, args=None):\n"
                              "    time.sleep(120)\n    return {}\n")
    create_trigger(s, "eng", "stuck", "request:stuck", "stuck.py")
    hung = threading.Thread(target=lambda: _ignore(lambda: requests.get(s.url + "/api/v3/engine/stuck", timeout=150)))
    hung.daemon = True
    hung.start()
    time.sleep(1)  # the plugin is running
    started = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    rc = s.proc.wait(timeout=60)
    waited = time.monotonic() - started
    assert waited < 30, waited  # far below the plugin's 120 s
    log = s.log()
    # Either everything stopped in time, or the timeout ended it: never a hang.
    assert rc == 0 or (rc == 1 and "shutdown took longer than --shutdown-timeout" in log), (rc, log[-2000:])
    s.proc = None
    s.start()
    assert query_rows(s, "db", "SELECT v FROM m") == [{"v": 1}]
    s.kill9()


def _ignore(call):
    try:
        call()
    except requests.RequestException:
        pass


def test_shutdown_timeout_refuses_a_bad_value(tmp_path):
    r = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", "--shutdown-timeout", "soon"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--shutdown-timeout" in (r.stdout + r.stderr), (r.returncode, r.stdout, r.stderr)


def test_a_replay_of_several_row_groups_keeps_columns_deletes_and_repeats(tmp_path):
    """Replay commits whole row groups (122,880 rows) at a time: 300k rows, a column that appears
    halfway, a row delete between writes and points written twice all come back as they were."""
    s = Server(tmp_path, HOLD_OFF_SNAPSHOTS).start()
    try:
        for b in range(30):
            body = batch(b, 10_000)
            if b >= 15:  # a new field from here on
                body = "\n".join(line.replace(" v=", " w=1i,v=", 1) for line in body.split("\n"))
            assert write_lp(s, "db", body).status_code == 204
            if b == 20:
                s.cli("delete", "rows", "-d", "db", "-y", "-t", "m", "--all-time", "--predicate", "b = 'b3'")
        # Points 0..99 of batch 7 again, with other values: the newer wins.
        again = "\n".join(f"m,host=h{i % 50},b=b7 v={-i}i {1_700_000_000_000_000_000 + 7 * 1_000_000 + i}"
                          for i in range(100))
        assert write_lp(s, "db", again).status_code == 204
        checks = ["SELECT count(*) AS n, sum(v) AS v, count(w) AS w FROM m",
                  "SELECT b, count(*) AS n, sum(v) AS v FROM m GROUP BY b ORDER BY b",
                  "SELECT host, b, v, w, time FROM m WHERE b = 'b7' ORDER BY time LIMIT 150"]
        before = [query_rows(s, "db", q) for q in checks]
        assert before[0][0]["n"] == 290_000 and before[0][0]["w"] == 150_000, before[0]
        assert not any(r["b"] == "b3" for r in before[1])
        s.kill9()
        s.start()
        assert re.findall(r"replayed (\d+) lines from", s.log())[-1] in ("300100", "300101"), s.log()[-2000:]
        assert [query_rows(s, "db", q) for q in checks] == before
    finally:
        s.stop()
