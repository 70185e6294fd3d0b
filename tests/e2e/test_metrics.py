"""Issue 15 (item 8): server metrics on /metrics next to the Processing engine's: HTTP requests
by route and status with latency, lines and bytes written and rejected, WAL flushes, snapshots,
Parquet files and bytes per database, queries by language, buffer bytes, process metrics."""
import os
import re

import requests

from conftest import Server, query, wait_for, write_lp

# Each write its own flush period (100ms apart), so that four writes make a snapshot due.
SNAPSHOT_ARGS = ["--wal-min-flush-gap", "100ms", "--wal-snapshot-size", "2", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]


def scrape(server):
    r = requests.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return r.text, samples


def test_server_metrics(tmp_path):
    s = Server(tmp_path, SNAPSHOT_ARGS).start()
    try:
        body = "m,host=a v=1 1\nm,host=b v=2 2\nbad line here\nm v=\"x\" 3"
        r = requests.post(s.url + "/api/v3/write_lp", params={"db": "met", "precision": "s"}, data=body, timeout=10)
        assert r.status_code == 400  # partial write: 2 lines written, 2 rejected
        for i in range(4):  # more WAL files, so that a snapshot is taken
            assert write_lp(s, "met", f"m,host=c v={i} {10 + i}", precision="s").status_code == 204
        assert query(s, "met", "SELECT count(*) FROM m").status_code == 200
        assert query(s, "met", "SELECT nope FROM m").status_code == 400
        assert requests.get(s.url + "/query", params={"db": "met", "q": "SELECT v FROM m"}, timeout=10).status_code == 200
        requests.get(s.url + "/no/such/route", timeout=10)
        wait_for(lambda: scrape(s)[1].get('riffle_parquet_files{db="met"}', 0) > 0, timeout=20)
        text, m = scrape(s)
        assert m['riffle_http_requests_total{route="/api/v3/write_lp",status="204"}'] == 4
        assert m['riffle_http_requests_total{route="/api/v3/write_lp",status="400"}'] == 1
        assert m['riffle_http_requests_total{route="other",status="404"}'] == 1
        assert m['riffle_http_request_duration_seconds_count{route="/api/v3/query_sql"}'] == 2
        assert m['riffle_http_request_duration_seconds_bucket{route="/api/v3/query_sql",le="+Inf"}'] == 2
        assert m['riffle_lines_written_total{db="met"}'] == 6
        assert m['riffle_lines_rejected_total{db="met"}'] == 2
        assert m['riffle_write_bytes_total{db="met"}'] >= len(body)
        assert m["riffle_wal_flush_duration_seconds_count"] >= 5
        assert m['riffle_wal_flushes_total{outcome="ok"}'] >= 5 and m["riffle_wal_flush_bytes_total"] > 0
        assert m["riffle_snapshot_duration_seconds_count"] >= 1
        assert m['riffle_parquet_files{db="met"}'] >= 1 and m['riffle_parquet_bytes{db="met"}'] > 0
        assert m['riffle_queries_total{language="sql",outcome="ok"}'] == 1
        assert m['riffle_queries_total{language="sql",outcome="error"}'] == 1
        assert m['riffle_queries_total{language="influxql",outcome="ok"}'] == 1
        assert m['riffle_query_duration_seconds_count{language="sql"}'] == 1
        assert "riffle_buffer_bytes" in m
        assert m["process_resident_memory_bytes"] > 1e6 and m["process_open_fds"] > 3
        assert m["process_cpu_seconds_total"] > 0 and m["process_start_time_seconds"] > 1.7e9
        # The Processing engine's families are still there, and every family is typed once.
        types = re.findall(r"^# TYPE (\S+) ", text, re.M)
        assert len(types) == len(set(types))
    finally:
        s.kill9()


def test_allocator_metrics_come_from_jemalloc(tmp_path):
    """The server allocates through jemalloc (src/common/allocator.h) and /metrics reports its
    bytes; the sanitized build keeps the sanitizer's allocator and reports none."""
    s = Server(tmp_path).start()
    try:
        lines = "\n".join(f"m,host=h{i % 7} v={i} {i}" for i in range(20000))
        assert write_lp(s, "alloc", lines, precision="s").status_code == 204
        text, m = scrape(s)
        kinds = {k: v for k, v in m.items() if k.startswith("riffle_allocator_bytes")}
        maps = open(f"/proc/{s.proc.pid}/maps").read()
        if os.environ.get("RIFFLE_SANITIZED"):
            assert kinds == {} and "libjemalloc" not in maps
            return
        assert "libjemalloc" in maps
        assert set(kinds) == {f'riffle_allocator_bytes{{kind="{k}"}}'
                              for k in ("allocated", "active", "resident", "retained")}
        allocated, active = m['riffle_allocator_bytes{kind="allocated"}'], m['riffle_allocator_bytes{kind="active"}']
        assert 1e6 < allocated <= active <= m['riffle_allocator_bytes{kind="resident"}']
        assert "# TYPE riffle_allocator_bytes gauge" in text
    finally:
        s.kill9()
