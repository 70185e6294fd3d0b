"""InfluxDB 3's `serve` flags that Riffle maps or only accepts: an existing deployment's command line
and environment start Riffle unchanged. --num-datafusion-threads sets the threads a query may use,
--num-io-threads (a global flag, before `serve`) the HTTP threads, --wal-replay-fail-on-error refuses
to start past a corrupt WAL file; the rest are accepted, named in a start-up warning, and change
nothing. --virtual-env-location (env VIRTUAL_ENV) is the plugins' venv and --query-log-size bounds
system.queries, as in InfluxDB 3. Real server processes."""
import os
import subprocess
import time

import requests

from conftest import (BINARY, Server, create_trigger, free_port, object_keys, put_plugin, query_rows,
                      read_object, write_lp, write_object)

INERT_VALUES = {"--checkpoint-interval": "10m", "--gen1-lookback-duration": "1month",
                "--snapshot-concurrency-limit": "4", "--wal-replay-concurrency-limit": "8",
                "--delete-grace-period": "24h", "--hard-delete-default-duration": "90d",
                "--last-cache-eviction-interval": "10s", "--distinct-cache-eviction-interval": "10s",
                "--query-file-limit": "432", "--table-index-cache-max-entries": "1000",
                "--table-index-cache-concurrency-limit": "8", "--datafusion-config": "a:b,c:d",
                "--datafusion-max-parquet-fanout": "1000", "--datafusion-runtime-type": "multi-thread",
                "--datafusion-runtime-thread-priority": "10", "--telemetry-endpoint": "http://127.0.0.1:1",
                "--serve-invocation-method": "explicit", "--log-filter": "info,iox=debug",
                "--max-concurrent-queries": "16", "--parquet-mem-cache-prune-interval": "1s",
                "--parquet-mem-cache-query-path-duration": "5h"}
INERT_FLAGS = ["--datafusion-use-cached-parquet-loader", "--disable-log-filter-noise-reduction"]


def threads(server):
    return query_rows(server, "_internal", "SELECT current_setting('threads') AS t")[0]["t"]


def test_influxdb3_flags_start_the_server_and_the_log_says_they_change_nothing(tmp_path):
    args = [a for flag, value in INERT_VALUES.items() for a in (flag, value)] + INERT_FLAGS
    s = Server(tmp_path, args, env={"INFLUXDB3_TELEMETRY_DISABLE_UPLOAD": "true"}).start()
    try:
        assert write_lp(s, "db", "m v=1i 1").status_code == 204
        assert query_rows(s, "db", "SELECT v FROM m") == [{"v": 1}]
        log = s.log()
        for flag in [*INERT_VALUES, *INERT_FLAGS, "--disable-telemetry-upload"]:
            assert f"{flag} is accepted for compatibility with InfluxDB 3 and has no effect" in log, flag
        assert "--num-datafusion-threads is accepted" not in log
    finally:
        s.stop()


def test_num_datafusion_threads_sets_the_threads_a_query_may_use(tmp_path):
    s = Server(tmp_path / "default").start()
    try:
        assert threads(s) == os.cpu_count()
    finally:
        s.stop()
    s = Server(tmp_path / "flag", ["--num-datafusion-threads", "1"]).start()
    try:
        assert threads(s) == 1
    finally:
        s.stop()
    # InfluxDB 3's older name of the environment variable.
    s = Server(tmp_path / "env", env={"INFLUXDB3_DATAFUSION_NUM_THREADS": "3"}).start()
    try:
        assert threads(s) == 3
    finally:
        s.stop()
    for args, env, expected in [(["--num-datafusion-threads", "0"], {}, "--num-datafusion-threads"),
                                ([], {"INFLUXDB3_DATAFUSION_NUM_THREADS": "many"},
                                 "INFLUXDB3_DATAFUSION_NUM_THREADS: expected a number of threads")]:
        r = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", *args],
                           capture_output=True, text=True, timeout=30, env={**os.environ, **env})
        assert r.returncode == 2 and expected in r.stderr, r.stderr


def test_global_io_flags_before_serve_are_taken(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([BINARY, "--num-io-threads", "3", "--io-runtime-type", "multi-thread", "serve",
                                 "--node-id", "n", "--object-store", "memory", "--http-bind", f"127.0.0.1:{port}"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 15
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.time() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        assert "--io-runtime-type is accepted for compatibility" in log.read_text()
        # The IO threads serve the HTTP connections: 3 of them, plus the process's others.
        assert len(os.listdir(f"/proc/{proc.pid}/task")) >= 3
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    r = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory"], capture_output=True,
                       text=True, timeout=30, env={**os.environ, "INFLUXDB3_NUM_THREADS": "0"})
    assert r.returncode == 2 and "INFLUXDB3_NUM_THREADS: expected a number of threads from 1 to 2048" in r.stderr, \
        r.stderr


def test_wal_replay_fail_on_error_refuses_a_corrupt_wal_file(tmp_path):
    s = Server(tmp_path).start()
    for i in (1, 2, 3):
        assert write_lp(s, "db", f"w v={i} {i}", precision="s").status_code == 204
    s.stop()
    last = object_keys(s, "node0/wal/")[-1]
    write_object(s, last, bytes(b ^ 0x5A for b in read_object(s, last)))
    store_args, _ = s.store_args()
    r = subprocess.run([BINARY, "serve", "--node-id", "node0", *store_args, "--http-bind", f"127.0.0.1:{free_port()}",
                        "--wal-replay-fail-on-error"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert f"WAL file {last} cannot be replayed" in r.stderr and "--wal-replay-fail-on-error is set" in r.stderr, \
        r.stderr[-2000:]
    # Without it, the file is logged and skipped, as before.
    s.start()
    try:
        assert [row["v"] for row in query_rows(s, "db", "SELECT v FROM w ORDER BY v")] == [1.0, 2.0]
        assert "skipping WAL file" in s.log()
    finally:
        s.stop()


def test_virtual_env_location_is_where_plugins_import_from(tmp_path):
    venv = tmp_path / "elsewhere" / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "riffle_venv_probe.py").write_text("WHERE = 'from the venv given'\n")
    for how in ("flag", "env"):
        s = Server(tmp_path / how, ["--virtual-env-location", str(venv)] if how == "flag" else [],
                   env={"VIRTUAL_ENV": str(venv)} if how == "env" else None).start()
        try:
            s.cli("create", "database", "db")
            put_plugin(s, "probe.py", """
                import os
                import riffle_venv_probe
                def process_request(influxdb3_local, q, h, b, args=None):
                    return riffle_venv_probe.WHERE + " " + os.environ["VIRTUAL_ENV"]
                """)
            create_trigger(s, "db", "probe", "request:probe", "probe.py")
            r = requests.get(f"{s.url}/api/v3/engine/probe", timeout=30)
            assert r.status_code == 200 and r.text == f"from the venv given {venv}", (how, r.status_code, r.text)
        finally:
            s.stop()


def test_query_log_size_bounds_system_queries(tmp_path):
    s = Server(tmp_path, ["--query-log-size", "3"]).start()
    try:
        assert write_lp(s, "db", "m v=1i 1").status_code == 204
        for i in range(6):
            assert query_rows(s, "db", f"SELECT v + {i} AS v FROM m") == [{"v": 1 + i}]
        # The ended ones; running queries (this one) are listed besides.
        texts = [r["query_text"] for r in query_rows(s, "db", "SELECT query_text FROM system.queries WHERE NOT running")]
        assert len(texts) <= 3 and "SELECT v + 5 AS v FROM m" in texts, texts
        assert "SELECT v + 0 AS v FROM m" not in texts, texts
    finally:
        s.stop()
    r = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", "--query-log-size", "0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--query-log-size" in r.stderr, r.stderr
