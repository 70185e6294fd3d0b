"""Issue 17: query results stream. The server encodes a result batch by batch as the client
reads it (chunked transfer encoding); it never builds the whole response first. An error
DuckDB raises after the first rows were sent ends the response without its last chunk."""
import socket

import requests

from conftest import query_rows, unique_db, wait_for, write_lp

ROWS = 300_000


def load(server, db, rows=ROWS):
    for start in range(0, rows, 50_000):
        body = "\n".join(f"big,host=h{i % 50} v={i}i,s=\"padding-{i:08d}-xxxxxxxxxxxxxxxxxxxxxxxx\" {i}"
                         for i in range(start, min(rows, start + 50_000)))
        assert write_lp(server, db, body, precision="s").status_code == 204


def finished_queries(server, db, marker):
    rows = query_rows(server, db, "SELECT query_text FROM system.queries WHERE NOT running")
    return [r for r in rows if marker in r["query_text"]]


def test_a_large_result_is_sent_while_the_client_reads_it(server):
    db = unique_db("stream")
    load(server, db)
    sql = "SELECT *, 'marker-stream-1' AS m FROM big"
    r = requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": sql, "format": "csv"},
                     stream=True, timeout=60)
    assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.headers
    chunks = r.iter_content(1 << 16)
    first = next(chunks)
    assert first.startswith(b"host,s,time,v,m\n")
    # The client has read 64 KiB of a ~25 MB body and stopped: the query is still running (it is
    # recorded in system.queries once its stream ends), which it could not be had the server
    # built the whole response before sending it.
    assert finished_queries(server, db, "marker-stream-1") == []
    body = first + b"".join(chunks)
    lines = body.decode().splitlines()
    assert len(lines) == ROWS + 1
    assert lines[-1].endswith(",marker-stream-1")
    assert wait_for(lambda: finished_queries(server, db, "marker-stream-1"))


def test_every_format_streams_the_same_rows(server):
    db = unique_db("stream")
    load(server, db, rows=5_000)
    sql = "SELECT host, v FROM big ORDER BY v"
    expected = query_rows(server, db, sql)
    assert len(expected) == 5_000 and expected[0] == {"host": "h0", "v": 0}
    for fmt in ("jsonl", "csv", "pretty"):
        r = requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": sql, "format": fmt}, timeout=60)
        assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked", fmt
        lines = r.text.splitlines()
        count = {"jsonl": 5_000, "csv": 5_001, "pretty": 5_000 + 4}[fmt]
        assert len(lines) == count, (fmt, len(lines))
    # No rows: the formats still answer a whole (empty) document.
    empty = "SELECT host, v FROM big WHERE v < 0"
    assert requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": empty}, timeout=10).json() == []
    r = requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": empty, "format": "csv"}, timeout=10)
    assert r.text == "host,v\n"


def raw_get(server, path):
    """The raw bytes of one response, read until the server closes the connection."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    return data


def test_an_error_after_the_first_rows_truncates_the_response(server):
    db = unique_db("stream")
    assert write_lp(server, db, "m v=1").status_code == 204
    # error() fails only when row 1,000,000 is produced, long after the first batch was sent.
    sql = "SELECT CASE WHEN i >= 1000000 THEN error('boom at a million') ELSE i END AS i FROM range(2000000) t(i)"
    raw = raw_get(server, "/api/v3/query_sql?" + requests.compat.urlencode({"db": db, "q": sql, "format": "csv"}))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert b"\r\n0\r\n\r\n" not in body  # no terminating chunk: every HTTP client reports the body incomplete
    assert b"boom at a million" in body
    assert b"\n999\n" in body  # rows before the error were sent
    # requests, like every client, raises instead of returning a short body as if it were whole.
    r = requests.get(server.url + "/api/v3/query_sql", params={"db": db, "q": sql, "format": "json"},
                     stream=True, timeout=60)
    try:
        b"".join(r.iter_content(1 << 16))
        raise AssertionError("a truncated response was read as complete")
    except requests.exceptions.ChunkedEncodingError:
        pass
    # The server goes on serving.
    assert query_rows(server, db, "SELECT v FROM m") == [{"v": 1.0}]


def test_an_error_before_any_row_is_still_a_400(server):
    db = unique_db("stream")
    assert write_lp(server, db, "m v=1").status_code == 204
    r = requests.get(server.url + "/api/v3/query_sql",
                     params={"db": db, "q": "SELECT error('at once') AS x FROM m"}, timeout=10)
    assert r.status_code == 400 and "at once" in r.json()["error"]


def test_influxql_series_stream_and_match_the_whole_answer(server):
    """/query streams the last SELECT's series (1.x JSON), split where the GROUP BY tags change,
    also across DuckDB's 2,048-row batches; pretty=true is built whole: both say the same."""
    db = unique_db("stream")
    lines = [f"cpu,host=h{h} v={i}i {1_700_000_000 + i}" for h in range(3) for i in range(3000)]
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    q = "SHOW MEASUREMENTS; SELECT v FROM cpu GROUP BY host"
    streamed = requests.get(server.url + "/query", params={"db": db, "q": q}, timeout=60)
    assert streamed.status_code == 200 and streamed.headers.get("Transfer-Encoding") == "chunked"
    whole = requests.get(server.url + "/query", params={"db": db, "q": q, "pretty": "true"}, timeout=60)
    assert whole.headers.get("Transfer-Encoding") != "chunked"
    assert streamed.json() == whole.json()
    results = streamed.json()["results"]
    assert results[0]["series"][0]["values"] == [["cpu"]]
    series = results[1]["series"]
    assert [s["tags"] for s in series] == [{"host": "h0"}, {"host": "h1"}, {"host": "h2"}]
    assert all(len(s["values"]) == 3000 and s["columns"] == ["time", "v"] for s in series)
    assert series[2]["values"][-1][1] == 2999
    # No series: the statement has no "series" key, as InfluxDB 1.x answers.
    empty = requests.get(server.url + "/query", params={"db": db, "q": "SELECT v FROM cpu WHERE v < 0"}, timeout=10)
    assert empty.json() == {"results": [{"statement_id": 0}]}


def test_influxql_v3_endpoint_streams_in_every_format(server):
    db = unique_db("stream")
    lines = [f"cpu,host=h{h} v={i}i {1_700_000_000 + i}" for h in range(2) for i in range(2500)]
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    q = "SELECT v FROM cpu GROUP BY host"
    r = requests.get(server.url + "/api/v3/query_influxql", params={"db": db, "q": q, "format": "csv"}, timeout=60)
    assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
    rows = r.text.splitlines()
    assert rows[0] == "iox::measurement,host,time,v" and len(rows) == 5001
    assert rows[1].startswith("cpu,h0,") and rows[-1].startswith("cpu,h1,") and rows[-1].endswith(",2499")
    j = requests.get(server.url + "/api/v3/query_influxql", params={"db": db, "q": q}, timeout=60).json()
    assert len(j) == 5000 and j[0]["iox::measurement"] == "cpu" and j[0]["host"] == "h0"


def test_a_client_that_goes_away_stops_its_query(server):
    """A consumer can interrupt the stream: when the client disconnects, the server's next write
    fails, the stream is dropped, and DuckDB stops producing rows (the query ends and is
    recorded in system.queries long before its 50M rows could have been produced)."""
    db = unique_db("stream")
    assert write_lp(server, db, "m v=1").status_code == 204
    sql = "SELECT i, 'marker-gone' AS m FROM range(50000000) t(i)"
    host, port = server.url.removeprefix("http://").split(":")
    path = "/api/v3/query_sql?" + requests.compat.urlencode({"db": db, "q": sql, "format": "csv"})
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b"200" in s.recv(1 << 16)[:20]
    s.close()
    assert wait_for(lambda: finished_queries(server, db, "marker-gone"), timeout=20)
    assert query_rows(server, db, "SELECT v FROM m") == [{"v": 1.0}]
