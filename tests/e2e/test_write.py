"""Writes: /api/v3/write_lp, /api/v2/write and /write (COMPAT §6.0, §6.1, §8.1–§8.3)."""
import datetime as dt
import gzip
import time

import pytest
import requests

from conftest import query, query_rows, unique_db, wait_for, write_from_threads, write_lp

EPOCH = dt.datetime(1970, 1, 1)


def render_time(ns):
    """How a query renders a timestamp (COMPAT §6.2): `YYYY-MM-DDTHH:MM:SS`, no zone, and a
    fraction of 3, 6 or 9 digits only when it is not zero (as Arrow/chrono print it)."""
    secs, frac = divmod(ns, 1_000_000_000)
    text = (EPOCH + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac == 0:
        return text
    if frac % 1_000_000 == 0:
        return f"{text}.{frac // 1_000_000:03d}"
    if frac % 1_000 == 0:
        return f"{text}.{frac // 1_000:06d}"
    return f"{text}.{frac:09d}"


def parse_time(text):
    """A rendered `time` value as an aware UTC datetime (fractions beyond µs are dropped)."""
    head, _, frac = text.partition(".")
    value = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    if frac:
        value += dt.timedelta(microseconds=int(frac[:6].ljust(6, "0")))
    return value


def json_error(r, status):
    """Asserts the status and that the body is a JSON object with an "error" key; returns it."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and "error" in body, body
    return body


def times(server, db, table):
    return [row["time"] for row in query_rows(server, db, f'SELECT time FROM "{table}" ORDER BY time')]


def table_rows(server, db, table):
    """Rows of `table`, or [] when the table does not exist (400)."""
    r = query(server, db, f'SELECT * FROM "{table}" ORDER BY time')
    if r.status_code in (400, 404):
        return []
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def shared_db(server):
    """One database for the parametrised tests (each uses its own table) so the module stays far
    below any database limit."""
    return unique_db("shared")


def mentions(message, column):
    return any(q + column + q in message for q in ("'", '"', "`"))


def test_acknowledged_writes_are_queryable_at_once(server):
    db = unique_db("ack")
    for i in range(10):
        r = write_lp(server, db, f"ack,host=h{i} v={i}i {i}", precision="s")
        assert r.status_code == 204, r.text
        assert r.content == b""
        # No sleep, no polling: the 204 means the data is in the WAL and queryable.
        assert query_rows(server, db, "SELECT count(*) AS n FROM ack") == [{"n": i + 1}]
    assert query_rows(server, db, "SELECT max(v) AS m FROM ack") == [{"m": 9}]


def test_every_field_type_round_trips(server):
    db = unique_db("types")
    body = ('types,tag=a i=-3i,imax=9223372036854775807i,imin=-9223372036854775808i,u=7u,'
            'umax=18446744073709551615u,f=1.5,neg=-2.5e3,small=1.5E-3,whole=4,'
            'b=true,s="hi \\"there\\" c:\\\\dir" 1')
    r = write_lp(server, db, body, precision="s")
    assert r.status_code == 204, r.text
    r = query(server, db, "SELECT * FROM types")
    assert r.status_code == 200, r.text
    assert r.json() == [{
        "b": True, "f": 1.5, "i": -3, "imax": 9223372036854775807, "imin": -9223372036854775808,
        "neg": -2500.0, "s": 'hi "there" c:\\dir', "small": 0.0015, "tag": "a",
        "time": "1970-01-01T00:00:01", "u": 7, "umax": 18446744073709551615, "whole": 4.0}]
    assert '"whole":4.0' in r.text  # floats keep their decimal point


def test_every_boolean_spelling(server):
    db = unique_db("bools")
    spellings = {"t": True, "T": True, "true": True, "True": True, "TRUE": True,
                 "f": False, "F": False, "false": False, "False": False, "FALSE": False}
    body = "\n".join(f"bools,spelling={word} b={word} {i + 1}" for i, word in enumerate(spellings))
    assert write_lp(server, db, body, precision="s").status_code == 204
    rows = query_rows(server, db, "SELECT spelling, b FROM bools")
    assert {row["spelling"]: row["b"] for row in rows} == spellings


def test_string_fields_may_span_lines(server):
    db = unique_db("multiline")
    assert write_lp(server, db, 'm s="line one\nline two" 1\nm s="next" 2', precision="s").status_code == 204
    assert query_rows(server, db, "SELECT s FROM m ORDER BY time") == [{"s": "line one\nline two"}, {"s": "next"}]


def test_escaping_in_measurement_tags_and_fields(server):
    db = unique_db("esc")
    body = ('my\\ meas\\,x,tag\\ key\\=k=a\\ b\\,c\\=d f\\ key\\,x\\=y=1i,s="q\\"uote \\\\ back" 1\n'
            '# a comment line\n'
            '\n'
            '   my\\ meas\\,x,tag\\ key\\=k=plain f\\ key\\,x\\=y=2i 2\n')
    r = write_lp(server, db, body, precision="s")
    assert r.status_code == 204, r.text
    assert query_rows(server, db, 'SELECT * FROM "my meas,x" ORDER BY time') == [
        {"f key,x=y": 1, "s": 'q"uote \\ back', "tag key=k": "a b,c=d", "time": "1970-01-01T00:00:01"},
        {"f key,x=y": 2, "tag key=k": "plain", "time": "1970-01-01T00:00:02"}]


@pytest.mark.parametrize("precision,ts,ns", [
    ("s", 1, 1_000_000_000), ("second", 2, 2_000_000_000),
    ("ms", 1500, 1_500_000_000), ("millisecond", 1, 1_000_000),
    ("us", 1_000_001, 1_000_001_000), ("u", 2, 2_000), ("microsecond", 1_500_000, 1_500_000_000),
    ("ns", 1, 1), ("n", 155, 155), ("nanosecond", 1_000_000_000, 1_000_000_000),
])
def test_explicit_precision(server, shared_db, precision, ts, ns):
    table = unique_db("prec")
    r = write_lp(server, shared_db, f"{table} v=1 {ts}", precision=precision)
    assert r.status_code == 204, r.text
    assert times(server, shared_db, table) == [render_time(ns)]


def test_rendered_times_match_the_documented_examples(server):
    db = unique_db("render")
    assert write_lp(server, db, "r v=1 1000000000\nr v=2 155", precision="ns").status_code == 204
    assert times(server, db, "r") == ["1970-01-01T00:00:00.000000155", "1970-01-01T00:00:01"]


@pytest.mark.parametrize("ts,ns", [
    (1, 1_000_000_000),                                    # |ts|/1e9 < 5      -> seconds
    (1700000000, 1700000000 * 1_000_000_000),
    (4999999999, 4999999999 * 1_000_000_000),
    (5000000000, 5000000000 * 1_000_000),                  # < 5 000           -> milliseconds
    (1700000000123, 1700000000123 * 1_000_000),
    (1700000000123456, 1700000000123456 * 1_000),          # < 5 000 000       -> microseconds
    (1700000000123456789, 1700000000123456789),            # else              -> nanoseconds
])
def test_auto_precision_guesses_by_magnitude(server, shared_db, ts, ns):
    implicit, explicit = unique_db("auto"), unique_db("auto")
    r = write_lp(server, shared_db, f"{implicit} v=1 {ts}")  # precision defaults to auto
    assert r.status_code == 204, r.text
    assert times(server, shared_db, implicit) == [render_time(ns)]
    assert write_lp(server, shared_db, f"{explicit} v=1 {ts}", precision="auto").status_code == 204
    assert times(server, shared_db, explicit) == [render_time(ns)]


def test_timestamp_out_of_range_is_a_line_error(server):
    db = unique_db("range")
    r = write_lp(server, db, "o v=1 1\no v=2 99999999999999", precision="s")
    body = json_error(r, 400)
    assert [e["line_number"] for e in body["data"]] == [2]
    assert times(server, db, "o") == ["1970-01-01T00:00:01"]


def test_unknown_precision_is_rejected(server):
    db = unique_db("badprec")
    json_error(write_lp(server, db, "m v=1 1", precision="minutes"), 400)


def test_missing_timestamp_is_server_time(server):
    db = unique_db("now")
    before = dt.datetime.now(dt.timezone.utc)
    assert write_lp(server, db, "auto_now v=1").status_code == 204
    assert write_lp(server, db, "sec_now v=1", precision="s").status_code == 204
    assert write_lp(server, db, "ms_now v=1", precision="ms").status_code == 204
    after = dt.datetime.now(dt.timezone.utc)
    slack = dt.timedelta(seconds=30)
    for table in ("auto_now", "sec_now", "ms_now"):
        [text] = times(server, db, table)
        assert before - slack <= parse_time(text) <= after + slack, (table, text, before, after)
    # With an explicit precision the ingest time is truncated to it (COMPAT §8.2).
    [sec] = times(server, db, "sec_now")
    assert "." not in sec, sec
    [ms] = times(server, db, "ms_now")
    assert "." not in ms or len(ms.partition(".")[2]) == 3, ms


def test_partial_write_keeps_the_good_lines(server):
    db = unique_db("partial")
    long_bad = "this line is not line protocol at all"
    body = f'good v=1 1\n{long_bad}\ngood v=2 2\ngood v="str" 3\n'
    r = write_lp(server, db, body, precision="s")  # accept_partial defaults to true
    body = json_error(r, 400)
    assert body["error"] == "partial write of line protocol occurred"
    errors = body["data"]
    assert isinstance(errors, list) and len(errors) == 2, errors
    for e in errors:
        assert list(e.keys()) == ["error_message", "line_number", "original_line"]
        assert isinstance(e["error_message"], str) and e["error_message"]
    assert [e["line_number"] for e in errors] == [2, 4]
    assert errors[0]["original_line"] == long_bad[:20]  # truncated to 20 bytes
    assert errors[1]["original_line"] == 'good v="str" 3'
    assert "'v'" in errors[1]["error_message"]
    assert query_rows(server, db, "SELECT v FROM good ORDER BY time") == [{"v": 1.0}, {"v": 2.0}]


def test_accept_partial_true_explicitly(server):
    db = unique_db("partial")
    r = write_lp(server, db, "t v=1 1\nbroken", precision="s", accept_partial="true")
    assert json_error(r, 400)["error"] == "partial write of line protocol occurred"
    assert times(server, db, "t") == ["1970-01-01T00:00:01"]


def test_accept_partial_false_writes_nothing(server):
    db = unique_db("strict")
    assert write_lp(server, db, "t v=1 1", precision="s").status_code == 204
    r = write_lp(server, db, "t v=2 2\nnew_table v=1 3\nnot valid", precision="s", accept_partial="false")
    body = json_error(r, 400)
    assert body["error"] == "line protocol parsing error"
    assert isinstance(body["data"], dict), body
    assert list(body["data"].keys()) == ["error_message", "line_number", "original_line"]
    assert body["data"]["line_number"] == 3
    assert body["data"]["original_line"] == "not valid"
    assert query_rows(server, db, "SELECT v FROM t") == [{"v": 1.0}]
    assert table_rows(server, db, "new_table") == []


def test_type_conflict_on_a_later_write(server):
    db = unique_db("conflict")
    assert write_lp(server, db, "c,host=a v=1i 1", precision="s").status_code == 204
    r = write_lp(server, db, "c,host=a v=1.5 2", precision="s")
    body = json_error(r, 400)
    [err] = body["data"]
    assert err["line_number"] == 1
    assert "invalid column type for column 'v'" in err["error_message"], err
    # A tag used as a field (and the other way round) is a conflict too.
    body = json_error(write_lp(server, db, "c host=2i 3", precision="s"), 400)
    assert mentions(body["data"][0]["error_message"], "host"), body
    body = json_error(write_lp(server, db, "c,v=x w=1 4", precision="s"), 400)
    assert mentions(body["data"][0]["error_message"], "v"), body
    assert query_rows(server, db, "SELECT host, v FROM c") == [{"host": "a", "v": 1}]


def test_duplicate_field_in_a_line_is_rejected(server):
    db = unique_db("dupfield")
    body = json_error(write_lp(server, db, "m v=1,v=2 1", precision="s"), 400)
    assert "multiple instances of 'v' field" in body["data"][0]["error_message"]


def test_missing_db_parameter(server):
    for params in ({}, {"precision": "s"}):
        r = requests.post(server.url + "/api/v3/write_lp", params=params, data=b"m v=1", timeout=30)
        assert "db" in json_error(r, 400)["error"]


@pytest.mark.parametrize("name", ["_bad", "-bad", "bad name", "dbé", "a/b/c", "a/", "x" * 512, "semi;colon"])
def test_invalid_database_names(server, name):
    r = write_lp(server, name, "m v=1")
    json_error(r, 400)


def test_valid_unusual_database_names(server):
    for name in (unique_db("Mixed-Case_9"), "9" + unique_db(), "x" * 511):
        r = write_lp(server, name, "m v=1 1", precision="s")
        assert r.status_code == 204, (name, r.text)
        assert times(server, name, "m") == ["1970-01-01T00:00:01"]


@pytest.mark.parametrize("body", ["", "\n\n", "# only a comment\n", "   \n# c\n\n"])
def test_empty_write(server, shared_db, body):
    r = write_lp(server, shared_db, body)
    assert json_error(r, 400)["error"] == "incoming write was empty"


def test_gzip_bodies(server):
    db = unique_db("gz")
    url = server.url + "/api/v3/write_lp"
    r = requests.post(url, params={"db": db, "precision": "s"}, data=gzip.compress(b"gz v=1 1\n"),
                      headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 204, r.text
    two_members = gzip.compress(b"gz v=2 2\n") + gzip.compress(b"gz v=3 3\n")
    r = requests.post(url, params={"db": db, "precision": "s"}, data=two_members,
                      headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(url, params={"db": db, "precision": "s"}, data=b"gz v=4 4",
                      headers={"Content-Encoding": "identity"}, timeout=30)
    assert r.status_code == 204, r.text
    assert query_rows(server, db, "SELECT v FROM gz ORDER BY time") == [{"v": 1.0}, {"v": 2.0}, {"v": 3.0}, {"v": 4.0}]


def test_bad_content_encodings(server):
    db = unique_db("enc")
    url = server.url + "/api/v3/write_lp"
    for encoding, data in [("br", b"m v=1 1"), ("deflate", b"m v=1 1"), ("gzip", b"m v=1 1 (not gzip)")]:
        r = requests.post(url, params={"db": db, "precision": "s"}, data=data,
                          headers={"Content-Encoding": encoding}, timeout=30)
        json_error(r, 400)
    assert table_rows(server, db, "m") == []
    assert requests.get(server.url + "/health", timeout=10).status_code == 200


def test_request_size_limit(fresh_server):
    s = fresh_server.start(["--max-http-request-size", "1000"])
    line = "m v=1 1\n"
    exact = line * 125  # exactly 1000 bytes: allowed
    assert len(exact) == 1000
    r = write_lp(s, "sized", exact, precision="s")
    assert r.status_code == 204, r.text
    r = write_lp(s, "sized", exact + "m v=2 2\n", precision="s")
    assert "max request size" in json_error(r, 413)["error"]
    # The limit also applies to the decompressed body.
    bomb = gzip.compress(b"m v=3 3\n" * 5000)
    assert len(bomb) < 1000
    r = requests.post(s.url + "/api/v3/write_lp", params={"db": "sized", "precision": "s"}, data=bomb,
                      headers={"Content-Encoding": "gzip"}, timeout=30)
    json_error(r, 413)
    assert query_rows(s, "sized", "SELECT DISTINCT v FROM m") == [{"v": 1.0}]
    assert write_lp(s, "sized", "small v=1").status_code == 204


def test_invalid_utf8_is_a_line_error(server):
    db = unique_db("utf8")
    r = write_lp(server, db, b"u v=1 1\nu,t=\xff\xfe v=2 2\nu v=3 3\n", precision="s")
    body = json_error(r, 400)
    assert [e["line_number"] for e in body["data"]] == [2]
    assert requests.get(server.url + "/health", timeout=10).status_code == 200
    assert query_rows(server, db, "SELECT v FROM u ORDER BY time") == [{"v": 1.0}, {"v": 3.0}]
    assert write_lp(server, db, "u v=4 4", precision="s").status_code == 204


def test_v2_write(server):
    db = unique_db("v2")
    url = server.url + "/api/v2/write"
    r = requests.post(url, params={"bucket": db, "org": "ignored", "precision": "s"}, data=b"v2 v=1 1", timeout=30)
    assert r.status_code == 204, r.text
    r = requests.post(url, params={"bucket": db}, data=b"v2ns v=1 1", timeout=30)  # default precision ns
    assert r.status_code == 204, r.text
    assert times(server, db, "v2") == ["1970-01-01T00:00:01"]
    assert times(server, db, "v2ns") == ["1970-01-01T00:00:00.000000001"]


def test_v2_write_is_all_or_nothing_with_v2_errors(server):
    db = unique_db("v2")
    url = server.url + "/api/v2/write"
    r = requests.post(url, params={"bucket": db, "precision": "s"}, data=b"v2 v=1 1\nbroken\n", timeout=30)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "invalid" and isinstance(body["message"], str) and body["message"], body
    assert table_rows(server, db, "v2") == []
    r = requests.post(url, data=b"v2 v=1 1", timeout=30)  # no bucket
    assert r.status_code == 400 and "code" in r.json() and "message" in r.json(), r.text


def test_v1_write(server):
    db = unique_db("v1")
    url = server.url + "/write"
    r = requests.post(url, params={"db": db}, data=b"v1 v=1 1000000000", timeout=30)  # default precision ns
    assert r.status_code == 204, r.text
    r = requests.post(url, params={"db": db, "precision": "s", "rp": "autogen"}, data=b"v1 v=2 2", timeout=30)
    assert r.status_code == 204, r.text
    assert times(server, db, "v1") == ["1970-01-01T00:00:01", "1970-01-01T00:00:02"]
    r = requests.post(url, params={"db": db}, data=b"v1 v=3 3000000000\nbroken\n", timeout=30)
    json_error(r, 400)
    assert len(times(server, db, "v1")) == 2
    json_error(requests.post(url, data=b"v1 v=1", timeout=30), 400)  # no db


def test_no_sync_write_becomes_visible(server):
    db = unique_db("nosync")
    r = write_lp(server, db, "ns v=1 1", precision="s", no_sync="true")
    assert r.status_code == 204, r.text

    def visible():
        r = query(server, db, "SELECT v FROM ns")
        return r.status_code == 200 and r.json() == [{"v": 1.0}]

    assert wait_for(visible, timeout=10)


def test_many_lines_in_one_request(server):
    db = unique_db("bulk")
    body = "\n".join(f"bulk,host=h{i % 7} v={i}i {i}" for i in range(5000))
    assert write_lp(server, db, body, precision="s").status_code == 204
    assert query_rows(server, db, "SELECT count(*) AS n, sum(v) AS s, count(DISTINCT host) AS h FROM bulk") == [
        {"n": 5000, "s": sum(range(5000)), "h": 7}]


def test_concurrent_writers(server):
    db = unique_db("conc")
    failures = write_from_threads(server, db, lambda k, i: f"cw,writer=w{k} v={i}i {k * 1000 + i}",
                                  writers=4, writes=20)
    assert failures == []
    assert query_rows(server, db, "SELECT count(*) AS n FROM cw") == [{"n": 80}]
