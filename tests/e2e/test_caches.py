"""Issue 15 item 5: last value caches and distinct value caches, as InfluxDB 3 Core has them:
created and deleted over HTTP and the CLI, filled by every write, read with the SQL table
functions last_cache() / distinct_cache() (from plugins too), listed in system.last_caches and
system.distinct_caches, kept in the catalog and warm again after a restart."""
import json
import time

import requests

from conftest import create_trigger, put_plugin, query, query_rows, unique_db, wait_for, write_lp

NS = 1_000_000_000


def now_s():
    return int(time.time())


def post(server, kind, body):
    return requests.post(f"{server.url}/api/v3/configure/{kind}", json=body, timeout=30)


def written(server, db, lines):
    r = write_lp(server, db, "\n".join(lines), precision="s")
    assert r.status_code == 204, r.text


def test_last_cache_keeps_the_newest_values_of_each_key(server):
    db = unique_db()
    t = now_s() - 100
    written(server, db, [f"cpu,host=a,region=eu usage=1,n=1i {t}", f"cpu,host=a,region=eu usage=2,n=2i {t + 1}",
                         f"cpu,host=b,region=us usage=5 {t + 2}"])
    r = post(server, "last_cache", {"db": db, "table": "cpu", "count": 2})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["name"] == "cpu_host_region_last_cache" and made["key_columns"] == ["host", "region"]
    # Warmed from the rows already stored, then fed by new writes (a third value for a pushes
    # out its oldest).
    rows = query_rows(server, db, "SELECT host, usage FROM last_cache('cpu') ORDER BY host, usage")
    assert rows == [{"host": "a", "usage": 1.0}, {"host": "a", "usage": 2.0}, {"host": "b", "usage": 5.0}]
    written(server, db, [f"cpu,host=a,region=eu usage=3,n=3i {t + 3}", f"cpu,host=c,region=ap usage=7 {t + 4}"])
    expect = [{"host": "a", "usage": 2.0, "n": 2}, {"host": "a", "usage": 3.0, "n": 3},
              {"host": "b", "usage": 5.0}, {"host": "c", "usage": 7.0}]
    got = wait_for(lambda: (lambda r: r if r == expect else None)(query_rows(
        server, db, "SELECT host, usage, n FROM last_cache('cpu', 'cpu_host_region_last_cache') ORDER BY host, usage")))
    assert got == expect, query_rows(server, db, "SELECT * FROM last_cache('cpu')")
    # The time column comes along, as the write's timestamp.
    times = query_rows(server, db, "SELECT CAST(time AS BIGINT) AS t FROM last_cache('cpu') WHERE host = 'c'")
    assert times == [{"t": (t + 4) * NS}]
    listed = query_rows(server, db, "SELECT * FROM system.last_caches")
    # Default value columns: every non-key column in the table's order, time last.
    assert listed == [{"table": "cpu", "name": "cpu_host_region_last_cache", "key_column_names": "[host, region]",
                       "value_column_names": "[usage, n, time]", "count": 2, "ttl": 14400}], listed


def test_distinct_cache_keeps_distinct_combinations_up_to_its_cardinality(server):
    db = unique_db()
    t = now_s() - 100
    written(server, db, [f"m,region=eu,host=a v=1 {t}", f"m,region=eu,host=b v=1 {t}", f"m,region=us,host=a v=1 {t}",
                         f"m,region=eu,host=a v=2 {t + 1}"])
    r = post(server, "distinct_cache", {"db": db, "table": "m", "columns": ["region", "host"]})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "m_region_host_distinct_cache"
    assert query_rows(server, db, "SELECT * FROM distinct_cache('m')") == [
        {"region": "eu", "host": "a"}, {"region": "eu", "host": "b"}, {"region": "us", "host": "a"}]
    # At most max_cardinality combinations: the ones seen least recently go first.
    r = post(server, "distinct_cache", {"db": db, "table": "m", "name": "small", "columns": ["host"],
                                        "max_cardinality": 2})
    assert r.status_code == 201, r.text
    written(server, db, [f"m,region=ap,host=c v=1 {t + 2}"])
    assert wait_for(lambda: query_rows(server, db, "SELECT count(*) AS n FROM distinct_cache('m', 'small')")
                    == [{"n": 2}])
    hosts = query_rows(server, db, "SELECT host FROM distinct_cache('m', 'small') ORDER BY host")
    assert {"host": "c"} in hosts, hosts
    # Two caches on the table: which one must be named.
    r = query(server, db, "SELECT * FROM distinct_cache('m')")
    assert r.status_code == 400 and "small" in r.json()["error"], r.text
    assert query_rows(server, db, "SELECT name, column_names, max_cardinality FROM system.distinct_caches ORDER BY name") \
        == [{"name": "m_region_host_distinct_cache", "column_names": "[region, host]", "max_cardinality": 100000},
            {"name": "small", "column_names": "[host]", "max_cardinality": 2}]


def test_bad_cache_requests_are_refused_with_a_reason(server):
    db = unique_db()
    written(server, db, [f"cpu,host=a usage=1,n=1i {now_s()}"])
    cases = [
        ("last_cache", {"db": db, "table": "cpu", "count": 0}, 400, "count"),
        ("last_cache", {"db": db, "table": "cpu", "count": 11}, 400, "count"),
        ("last_cache", {"db": db, "table": "nope"}, 404, "nope"),
        ("last_cache", {"db": db, "table": "cpu", "key_columns": ["usage"]}, 400, "usage"),
        ("last_cache", {"db": db, "table": "cpu", "value_columns": ["missing"]}, 400, "missing"),
        ("distinct_cache", {"db": db, "table": "cpu", "columns": ["n"]}, 400, "tag or string"),
        ("distinct_cache", {"db": db, "table": "cpu", "columns": []}, 400, "at least one column"),
        ("distinct_cache", {"db": "nodb", "table": "cpu", "columns": ["host"]}, 404, "nodb"),
    ]
    for kind, body, status, words in cases:
        r = post(server, kind, body)
        assert r.status_code == status and words in r.json()["error"], (body, r.status_code, r.text)
    assert post(server, "last_cache", {"db": db, "table": "cpu"}).status_code == 201
    again = post(server, "last_cache", {"db": db, "table": "cpu"})
    assert again.status_code == 409, again.text
    r = query(server, db, "SELECT * FROM last_cache(cpu)")
    assert r.status_code == 400 and "string literals" in r.json()["error"], r.text
    r = query(server, db, "SELECT * FROM distinct_cache('cpu')")
    assert r.status_code == 404 and "no distinct cache" in r.json()["error"], r.text
    r = requests.delete(f"{server.url}/api/v3/configure/last_cache", params={"db": db, "table": "cpu", "name": "x"})
    assert r.status_code == 404, r.text


def test_cli_creates_and_deletes_caches(server):
    db = unique_db()
    written(server, db, [f"cpu,host=a,region=eu usage=1 {now_s()}"])
    out = server.cli("create", "last_cache", "-d", db, "-t", "cpu", "--key-columns", "host", "--value-columns",
                     "usage", "--count", "3", "--ttl", "2 hours", "lvc").stdout
    assert "new cache created" in out and json.loads(out.split(": ", 1)[1])["ttl"] == 7200
    server.cli("create", "distinct_cache", "-d", db, "-t", "cpu", "--columns", "region,host", "--max-age", "1d")
    assert query_rows(server, db, "SELECT host, usage FROM last_cache('cpu', 'lvc')") == [{"host": "a", "usage": 1.0}]
    assert query_rows(server, db, "SELECT max_age_seconds FROM system.distinct_caches") == [{"max_age_seconds": 86400}]
    bad = server.cli("create", "last_cache", "-d", db, "-t", "cpu", "--count", "11", check=False)
    assert bad.returncode != 0 and "expected 1 to 10" in bad.stderr
    assert "deleted" in server.cli("delete", "last_cache", "-d", db, "-t", "cpu", "lvc").stdout
    assert query_rows(server, db, "SELECT * FROM system.last_caches") == []
    gone = server.cli("delete", "last_cache", "-d", db, "-t", "cpu", "lvc", check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr
    server.cli("delete", "distinct_cache", "-d", db, "-t", "cpu", "cpu_region_host_distinct_cache")
    assert query(server, db, "SELECT * FROM distinct_cache('cpu')").status_code == 404


def test_plugins_query_caches(server):
    db = unique_db()
    written(server, db, [f"cpu,host=a usage=4 {now_s()}"])
    assert post(server, "last_cache", {"db": db, "table": "cpu"}).status_code == 201
    put_plugin(server, "read_lvc.py", """
        def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
            return {"rows": influxdb3_local.query("SELECT host, usage FROM last_cache('cpu')")}
    """)
    path = f"lvc_{db}"
    create_trigger(server, db, f"t_{db}", f"request:{path}", "read_lvc.py")
    r = requests.get(f"{server.url}/api/v3/engine/{path}", timeout=30)
    assert r.status_code == 200 and r.json() == {"rows": [{"host": "a", "usage": 4.0}]}, r.text


def test_caches_are_warm_again_after_a_restart_and_go_with_their_table(fresh_server):
    server = fresh_server.start()
    db = unique_db()
    t = now_s() - 60
    written(server, db, [f"cpu,host=a usage=1 {t}", f"cpu,host=a usage=2 {t + 1}", f"cpu,host=b usage=3 {t + 2}"])
    assert post(server, "last_cache", {"db": db, "table": "cpu"}).status_code == 201
    assert post(server, "distinct_cache", {"db": db, "table": "cpu", "columns": ["host"]}).status_code == 201
    before = query_rows(server, db, "SELECT host, usage FROM last_cache('cpu') ORDER BY host")
    assert before == [{"host": "a", "usage": 2.0}, {"host": "b", "usage": 3.0}]
    fresh_server.restart()
    assert query_rows(server, db, "SELECT host, usage FROM last_cache('cpu') ORDER BY host") == before
    assert query_rows(server, db, "SELECT host FROM distinct_cache('cpu')") == [{"host": "a"}, {"host": "b"}]
    r = requests.delete(f"{server.url}/api/v3/configure/table", params={"db": db, "table": "cpu"}, timeout=30)
    assert r.status_code == 200, r.text
    assert query_rows(server, db, "SELECT * FROM system.last_caches") == []
