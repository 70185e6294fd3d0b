"""Writes: line protocol rules, precision, partial writes, encodings, the three write APIs."""
import gzip
import time

import requests

from conftest import query, query_rows, unique_db, wait_for, write_lp


def test_health_ping_and_unknown_paths(server):
    r = requests.get(server.url + "/health")
    assert (r.status_code, r.text) == (200, "OK")
    ping = requests.get(server.url + "/ping")
    assert ping.status_code == 200 and ping.json()["product_name"] == "InfluxDB 3 Core"
    assert requests.get(server.url + "/nope").status_code == 404


def test_every_field_type_round_trips(server):
    db = unique_db()
    body = 'm,tag=a f=1.5,i=-3i,u=7u,b=true,s="hi \\"there\\"" 1700000000000000000'
    assert write_lp(server, db, body).status_code == 204
    assert query_rows(server, db, "SELECT * FROM m") == [
        {"b": True, "f": 1.5, "i": -3, "s": 'hi "there"', "tag": "a", "time": "2023-11-14T22:13:20", "u": 7}]
    types = query_rows(server, db, "SELECT column_name, data_type FROM information_schema.columns "
                                   "WHERE table_name = 'm' ORDER BY column_name")
    assert types == [{"column_name": "b", "data_type": "Boolean"}, {"column_name": "f", "data_type": "Float64"},
                     {"column_name": "i", "data_type": "Int64"}, {"column_name": "s", "data_type": "Utf8"},
                     {"column_name": "tag", "data_type": "Dictionary(Int32, Utf8)"},
                     {"column_name": "time", "data_type": "Timestamp(Nanosecond, None)"},
                     {"column_name": "u", "data_type": "UInt64"}]


def test_escapes_comments_and_blank_lines(server):
    db = unique_db()
    body = "# a comment\n\nmy\\ meas,the\\ tag=a\\,b\\=c my\\=field=1 1\n   \n"
    assert write_lp(server, db, body, precision="s").status_code == 204
    assert query_rows(server, db, 'SELECT "the tag", "my=field", time FROM "my meas"') == [
        {"the tag": "a,b=c", "my=field": 1.0, "time": "1970-01-01T00:00:01"}]


def test_precisions(server):
    db = unique_db()
    for precision, ts in [("s", 1), ("ms", 1000), ("us", 1000000), ("ns", 1000000000)]:
        assert write_lp(server, db, f"p_{precision} v=1 {ts}", precision=precision).status_code == 204
        assert query_rows(server, db, f"SELECT time FROM p_{precision}") == [{"time": "1970-01-01T00:00:01"}]
    # auto guesses the unit from the magnitude.
    assert write_lp(server, db, "auto_s v=1 1700000000\nauto_ms v=1 1700000000123").status_code == 204
    assert query_rows(server, db, "SELECT time FROM auto_s") == [{"time": "2023-11-14T22:13:20"}]
    assert query_rows(server, db, "SELECT time FROM auto_ms") == [{"time": "2023-11-14T22:13:20.123"}]
    assert write_lp(server, db, "bad v=1", precision="minutes").status_code == 400


def test_missing_timestamp_uses_server_time(server):
    db = unique_db()
    before = time.time()
    assert write_lp(server, db, "now_table v=1").status_code == 204
    rows = query_rows(server, db, "SELECT epoch(time) AS t FROM now_table")
    assert before - 5 < rows[0]["t"] < time.time() + 5


def test_partial_write_stores_the_good_lines(server):
    db = unique_db()
    r = write_lp(server, db, "good v=1 1\nbad line\ngood v=2 2\ngood v=\"str\" 3")
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "partial write of line protocol occurred"
    assert [(e["line_number"], e["original_line"]) for e in body["data"]] == [(2, "bad line"), (4, 'good v="str" 3')]
    assert "invalid column type for column 'v'" in body["data"][1]["error_message"]
    assert list(body["data"][0].keys()) == ["error_message", "line_number", "original_line"]
    assert query_rows(server, db, "SELECT v FROM good ORDER BY time") == [{"v": 1.0}, {"v": 2.0}]


def test_accept_partial_false_writes_nothing(server):
    db = unique_db()
    assert write_lp(server, db, "t v=1 1").status_code == 204
    r = write_lp(server, db, "t v=2 2\nnot valid", accept_partial="false")
    assert r.status_code == 400
    assert r.json()["error"] == "line protocol parsing error"
    assert r.json()["data"]["line_number"] == 2
    assert query_rows(server, db, "SELECT v FROM t") == [{"v": 1.0}]


def test_type_conflicts_survive_across_writes(server):
    db = unique_db()
    assert write_lp(server, db, "c,host=a v=1i").status_code == 204
    r = write_lp(server, db, "c,host=a v=1.5")
    assert r.status_code == 400 and "expected int64, got float64" in r.json()["data"][0]["error_message"]
    r = write_lp(server, db, "c v=1i,host=2i")
    assert r.status_code == 400


def test_bad_requests_get_json_errors(server):
    r = requests.post(server.url + "/api/v3/write_lp", data=b"m v=1")
    assert r.status_code == 400 and "db" in r.json()["error"]
    r = write_lp(server, "_bad", "m v=1")
    assert r.status_code == 400 and r.json()["error"] == "db name did not start with a number or letter"
    r = write_lp(server, unique_db(), "")
    assert r.status_code == 400 and r.json()["error"] == "incoming write was empty"
    r = write_lp(server, unique_db(), b"m,t=\xff\xfe v=1")
    assert r.status_code == 400 and "UTF-8" in r.json()["data"][0]["error_message"]
    r = requests.post(server.url + "/api/v3/write_lp", params={"db": unique_db()}, data=b"m v=1",
                      headers={"Content-Encoding": "br"})
    assert r.status_code == 400 and "Content-Encoding" in r.json()["error"]
    r = requests.post(server.url + "/api/v3/write_lp", params={"db": unique_db()}, data=b"not gzip",
                      headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert requests.get(server.url + "/health").status_code == 200


def test_gzip_bodies(server):
    db = unique_db()
    body = gzip.compress(b"gz v=1 1\n") + gzip.compress(b"gz v=2 2\n")  # two gzip members
    r = requests.post(server.url + "/api/v3/write_lp", params={"db": db, "precision": "s"}, data=body,
                      headers={"Content-Encoding": "gzip"})
    assert r.status_code == 204
    assert query_rows(server, db, "SELECT count(*) AS n FROM gz") == [{"n": 2}]


def test_body_size_limit(fresh_server):
    s = fresh_server.start(["--max-http-request-size", "1000"])
    r = write_lp(s, "db", "m v=1\n" * 400)
    assert r.status_code == 413 and "max request size" in r.json()["error"]
    bomb = gzip.compress(b"m v=1\n" * 10000)
    r = requests.post(s.url + "/api/v3/write_lp", params={"db": "db"}, data=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert write_lp(s, "db", "m v=1").status_code == 204


def test_v1_and_v2_write_apis(server):
    db = unique_db()
    r = requests.post(server.url + "/api/v2/write", params={"bucket": db, "org": "x", "precision": "s"}, data=b"v2 v=1 1")
    assert r.status_code == 204
    r = requests.post(server.url + "/write", params={"db": db}, data=b"v1 v=1 1000000000")
    assert r.status_code == 204
    assert query_rows(server, db, "SELECT time FROM v2") == query_rows(server, db, "SELECT time FROM v1")
    # Neither accepts partial writes.
    r = requests.post(server.url + "/api/v2/write", params={"bucket": db}, data=b"v2 v=2 2\nbroken")
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    r = requests.post(server.url + "/write", params={"db": db}, data=b"v1 v=2 2\nbroken")
    assert r.status_code == 400
    assert query_rows(server, db, "SELECT count(*) AS n FROM v2") == [{"n": 1}]
    assert query_rows(server, db, "SELECT count(*) AS n FROM v1") == [{"n": 1}]


def test_no_sync_writes_become_visible(server):
    db = unique_db()
    assert write_lp(server, db, "ns v=1", no_sync="true").status_code == 204
    assert wait_for(lambda: query(server, db, "SELECT v FROM ns").status_code == 200
                    and query_rows(server, db, "SELECT v FROM ns") == [{"v": 1.0}])
