"""Issue 14, item 2 (in part): queries cannot hog the server. A query whose HTTP client hangs up
is interrupted inside DuckDB; `serve --query-timeout` ends a query that runs too long with an
error naming the limit, over HTTP (408) and Arrow Flight (DEADLINE_EXCEEDED)."""
import json
import os
import subprocess
import time

import grpc
import requests

from conftest import BINARY, query, query_rows, unique_db, wait_for, write_lp

SLOW = "SELECT count(*) AS n FROM range(100000000000) t(i) WHERE i % 7 = {marker}"


def test_a_query_over_the_timeout_is_stopped_with_an_error_naming_the_limit(fresh_server):
    server = fresh_server.start(["--query-timeout", "1s"])
    db = unique_db()
    assert write_lp(server, db, "m v=1").status_code == 204
    started = time.time()
    r = query(server, db, SLOW.format(marker=3))
    assert r.status_code == 408, r.text
    assert "--query-timeout of 1s" in r.json()["error"]
    assert time.time() - started < 10
    # Stopped in DuckDB: it is recorded as ended (failed), and quick queries still answer.
    ended = wait_for(lambda: query_rows(
        server, db, "SELECT success, running FROM system.queries WHERE query_text LIKE '%i % 7 = 3%' "
                    "AND query_text NOT LIKE '%system.queries%' AND NOT running"))
    assert ended and ended[0]["success"] is False, ended
    assert query_rows(server, db, "SELECT v FROM m") == [{"v": 1.0}]


def test_a_flight_query_over_the_timeout_is_deadline_exceeded(fresh_server):
    server = fresh_server.start(["--query-timeout", "1s"])
    db = unique_db()
    assert write_lp(server, db, "m v=1").status_code == 204
    ticket = json.dumps({"database": db, "sql_query": SLOW.format(marker=4)}).encode()
    with grpc.insecure_channel(server.url.removeprefix("http://")) as channel:
        doget = channel.unary_stream("/arrow.flight.protocol.FlightService/DoGet",
                                     request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            list(doget(b"\x0a" + bytes([len(ticket)]) + ticket, timeout=60))
            raise AssertionError("the query was not stopped")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e
            assert "--query-timeout of 1s" in e.details()


def test_a_bad_query_timeout_is_refused():
    p = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", "--query-timeout", "soon"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "--query-timeout" in p.stderr, p.stderr


def test_a_query_whose_client_hangs_up_is_stopped(server):
    db = unique_db()
    assert write_lp(server, db, "m v=1").status_code == 204
    sql = SLOW.format(marker=6)
    started = time.time()
    try:
        requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": sql}, timeout=1)
        raise AssertionError("the query answered")
    except requests.exceptions.ReadTimeout:
        pass  # the client gives up and closes its connection
    ended = wait_for(lambda: query_rows(
        server, db, "SELECT success, end2end_duration FROM system.queries WHERE query_text LIKE '%i % 7 = 6%' "
                    "AND query_text NOT LIKE '%system.queries%' AND NOT running"), timeout=15)  # not these polls
    assert ended and ended[0]["success"] is False, ended
    # Stopped about when the client left, not hours later.
    assert ended[0]["end2end_duration"] < 5_000_000_000 and time.time() - started < 20, ended


def test_running_queries_are_listed_and_cancelled_ones_marked(server):
    db = unique_db()
    assert write_lp(server, db, "m v=1").status_code == 204
    sql = SLOW.format(marker=2)
    done = {}

    def slow():
        try:
            requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": sql}, timeout=2)
        except requests.exceptions.ReadTimeout:
            done["left"] = True

    import threading
    t = threading.Thread(target=slow)
    t.start()
    running = wait_for(lambda: query_rows(
        server, db, "SELECT phase, running FROM system.queries WHERE running AND query_text = $q", params={"q": sql}))
    assert running == [{"phase": "executing", "running": True}], running
    t.join()
    ended = wait_for(lambda: query_rows(
        server, db, "SELECT cancelled, success FROM system.queries WHERE NOT running AND query_text = $q",
        params={"q": sql}), timeout=15)
    assert ended == [{"cancelled": True, "success": False}], ended


def test_exec_mem_pool_bytes_makes_big_sorts_spill(fresh_server):
    """--exec-mem-pool-bytes is DuckDB's memory limit: a sort of ~300 MB of strings spills to
    disk and answers, instead of growing the process (435 MB peak without the limit)."""
    server = fresh_server.start(["--exec-mem-pool-bytes", "67108864"])
    db = unique_db()
    assert write_lp(server, db, "m v=1").status_code == 204
    assert query_rows(server, db, "SELECT current_setting('memory_limit') AS m") == [{"m": "64.0 MiB"}]
    rows = query_rows(server, db, "SELECT count(*) AS n, max(s) AS top FROM (SELECT i, md5(i::VARCHAR) || "
                                  "'xxxxxxxxxxxxxxxxxxxxxxxxxx' AS s FROM range(4000000) t(i) ORDER BY s)")
    assert rows == [{"n": 4000000, "top": "fffffe98d0963d27015c198262d97221xxxxxxxxxxxxxxxxxxxxxxxxxx"}]
    if not os.environ.get("ASAN_OPTIONS"):  # ASan's shadow memory would dwarf the figure
        peak_kb = int(next(line.split()[1] for line in open(f"/proc/{server.proc.pid}/status")
                           if line.startswith("VmHWM:")))
        assert peak_kb < 300_000, peak_kb
    assert query_rows(server, db, "SELECT v FROM m") == [{"v": 1.0}]


def test_a_bad_exec_mem_pool_is_refused():
    p = subprocess.run([BINARY, "serve", "--node-id", "n", "--object-store", "memory", "--exec-mem-pool-bytes", "lots"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "--exec-mem-pool-bytes" in p.stderr, p.stderr
