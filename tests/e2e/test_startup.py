"""Starting after a crash: the server listens before it replays the WAL, /health says what it is
doing (503 {"status": "replaying", "wal_files_left": N, ...}) and every other request, writes
included, gets a 503 JSON error with Retry-After instead of a refused connection or an
acknowledgement that could be lost; --force-snapshot-rows bounds how many rows a restart must
replay. Real server processes on the file store."""
import re
import subprocess
import time

import requests

from conftest import BINARY, Server, query_rows, write_lp

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
