"""InfluxQL on /query (InfluxDB 1.x JSON) and /api/v3/query_influxql, the subset clients such
as the published `import` plugin and dashboards use: SHOW statements, raw selects with time
ranges, aggregates, GROUP BY time and tags."""
import random

import requests

from conftest import query_rows, unique_db, write_lp


def v1(server, q, db=None, **params):
    r = requests.get(server.url + "/query", params={"q": q, **({"db": db} if db else {}), **params}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def seed(server):
    db = unique_db("iql")
    lines = ["cpu,host=a,region=w usage=1.5,n=3i,ok=true 1700000000",
             "cpu,host=b,region=w usage=2.5,n=4i 1700000010",
             "cpu,host=a,region=w usage=3.5,n=5i 1700000060",
             "mem,host=a free=100i 1700000000"]
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    return db


def test_show_statements_describe_the_schema(server):
    db = seed(server)
    assert [db] in v1(server, "SHOW DATABASES")[0]["series"][0]["values"]
    assert v1(server, "SHOW MEASUREMENTS", db) == [
        {"statement_id": 0, "series": [{"name": "measurements", "columns": ["name"], "values": [["cpu"], ["mem"]]}]}]
    fields = v1(server, 'SHOW FIELD KEYS FROM "cpu"', db)[0]["series"]
    assert fields == [{"name": "cpu", "columns": ["fieldKey", "fieldType"],
                       "values": [["n", "integer"], ["ok", "boolean"], ["usage", "float"]]}]
    assert v1(server, "SHOW TAG KEYS FROM cpu", db)[0]["series"][0]["values"] == [["host"], ["region"]]
    assert v1(server, 'SHOW TAG VALUES FROM cpu WITH KEY = "host"', db)[0]["series"][0]["values"] == [
        ["host", "a"], ["host", "b"]]
    assert v1(server, "SHOW SERIES", db)[0]["series"][0]["values"] == [
        ["cpu,host=a,region=w"], ["cpu,host=b,region=w"], ["mem,host=a"]]
    # Every measurement's field keys, in one series each, when FROM is left out.
    assert [s["name"] for s in v1(server, "SHOW FIELD KEYS", db)[0]["series"]] == ["cpu", "mem"]


def test_select_raw_rows_time_ranges_order_and_epoch(server):
    db = seed(server)
    first = v1(server, 'SELECT * FROM "cpu" ORDER BY time ASC LIMIT 1', db)[0]["series"][0]
    assert first == {"name": "cpu", "columns": ["time", "host", "n", "ok", "region", "usage"],
                     "values": [["2023-11-14T22:13:20Z", "a", 3, True, "w", 1.5]]}
    ranged = v1(server, "SELECT * FROM cpu WHERE time >= '2023-11-14T22:13:25+00:00' AND "
                        "time <= '2023-11-14T22:14:20+00:00' ORDER BY time DESC", db)[0]["series"][0]["values"]
    assert [r[0] for r in ranged] == ["2023-11-14T22:14:20Z", "2023-11-14T22:13:30Z"]
    assert v1(server, "SELECT usage FROM cpu WHERE host =~ /^a/", db, epoch="s")[0]["series"][0]["values"] == [
        [1700000000, 1.5], [1700000060, 3.5]]
    assert v1(server, "SELECT usage FROM cpu WHERE time > 1700000005000000000 AND host != 'a'", db)[0][
        "series"][0]["values"] == [["2023-11-14T22:13:30Z", 2.5]]
    # An unknown measurement has no series; POST with a form body works as GET does.
    assert v1(server, "SELECT * FROM nope", db) == [{"statement_id": 0}]
    r = requests.post(server.url + "/query", data={"db": db, "q": "SELECT n FROM cpu LIMIT 1"}, timeout=30)
    assert r.json()["results"][0]["series"][0]["values"] == [["2023-11-14T22:13:20Z", 3]]


def test_aggregates_group_by_time_and_tags(server):
    db = seed(server)
    count = v1(server, 'SELECT COUNT(*) FROM "cpu"', db)[0]["series"][0]
    assert count["columns"] == ["time", "count_n", "count_ok", "count_usage"]
    assert count["values"] == [["1970-01-01T00:00:00Z", 3, 1, 3]]
    grouped = v1(server, "SELECT mean(usage), max(n) FROM cpu WHERE time > now() - 100000d "
                         "GROUP BY time(1m), host fill(none)", db)[0]["series"]
    assert grouped == [
        {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "mean", "max"],
         "values": [["2023-11-14T22:13:00Z", 1.5, 3], ["2023-11-14T22:14:00Z", 3.5, 5]]},
        {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "mean", "max"],
         "values": [["2023-11-14T22:13:00Z", 2.5, 4]]}]
    # Empty buckets between the WHERE clause's bounds: null by default, or fill(n|previous).
    window = "WHERE time >= '2023-11-14T22:12:00Z' AND time < '2023-11-14T22:16:00Z' GROUP BY time(1m)"
    assert v1(server, f"SELECT max(n) FROM cpu {window}", db)[0]["series"][0]["values"] == [
        ["2023-11-14T22:12:00Z", None], ["2023-11-14T22:13:00Z", 4], ["2023-11-14T22:14:00Z", 5],
        ["2023-11-14T22:15:00Z", None]]
    assert [r[1] for r in v1(server, f"SELECT count(n) FROM cpu {window} fill(0)", db)[0]["series"][0]["values"]] == [
        0, 2, 1, 0]
    by_host = v1(server, f"SELECT last(n) FROM cpu {window}, host fill(previous)", db)[0]["series"]
    assert [(s["tags"]["host"], [r[1] for r in s["values"]]) for s in by_host] == [
        ("a", [None, 3, 5, 5]), ("b", [None, 4, 4, 4])]
    # No point in range: no series.
    assert v1(server, "SELECT max(n) FROM cpu WHERE time > now() - 5m GROUP BY time(1m)", db) == [{"statement_id": 0}]
    # A lone selector reports its point's time.
    assert v1(server, "SELECT last(usage) FROM cpu", db)[0]["series"][0]["values"] == [["2023-11-14T22:14:20Z", 3.5]]
    assert v1(server, "SELECT spread(usage), percentile(n, 50) FROM cpu", db)[0]["series"][0]["values"] == [
        ["1970-01-01T00:00:00Z", 2.0, 4.0]]
    # Two statements, two results.
    both = v1(server, "SELECT count(usage) FROM cpu; SELECT count(free) FROM mem", db)
    assert [r["series"][0]["values"][0][1] for r in both] == [3, 1]


def test_errors_are_clear(server):
    db = seed(server)
    assert v1(server, "SELECT * FROM cpu", "nope")[0]["error"] == "database not found: nope"
    assert "not supported" in v1(server, "DROP SERIES FROM cpu", db)[0]["error"]  # DROP MEASUREMENT works now
    assert "mixing aggregate" in v1(server, "SELECT mean(usage), usage FROM cpu", db)[0]["error"]
    r = requests.get(server.url + "/query", params={"db": db, "q": "SELECT 'open FROM cpu"}, timeout=30)
    assert r.status_code == 400 and "error parsing query" in r.json()["error"]
    r = requests.get(server.url + "/query", params={"db": db}, timeout=30)
    assert r.status_code == 400 and r.json() == {"error": 'missing required parameter "q"'}
    # Numbers past int64 and fractional durations are parse errors (they once crashed the server).
    for q in ("SELECT usage FROM cpu WHERE time > now() - 99999999999999999999h", "SELECT usage FROM cpu LIMIT 1e99",
              "SELECT usage FROM cpu LIMIT 99999999999999999999", "SHOW MEASUREMENTS OFFSET 99999999999999999999",
              "SELECT usage FROM cpu WHERE time > now() - .5h", "SELECT usage FROM cpu WHERE time > now() - 9999999999h"):
        r = requests.get(server.url + "/query", params={"db": db, "q": q}, timeout=30)
        assert r.status_code == 400 and "error parsing query" in r.json()["error"], (q, r.text)
    assert requests.get(server.url + "/health", timeout=5).status_code == 200


def test_api_v3_query_influxql_and_the_cli(server):
    db = seed(server)
    r = requests.get(server.url + "/api/v3/query_influxql",
                     params={"db": db, "q": "SELECT mean(usage) FROM cpu GROUP BY host"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == [{"iox::measurement": "cpu", "host": "a", "time": "1970-01-01T00:00:00", "mean": 2.5},
                        {"iox::measurement": "cpu", "host": "b", "time": "1970-01-01T00:00:00", "mean": 2.5}]
    csv = requests.post(server.url + "/api/v3/query_influxql",
                        json={"db": db, "q": "SHOW MEASUREMENTS", "format": "csv"}, timeout=30)
    assert csv.text.splitlines() == ["iox::measurement,name", "measurements,cpu", "measurements,mem"]
    two = requests.get(server.url + "/api/v3/query_influxql", params={"db": db, "q": "SHOW DATABASES; SHOW DATABASES"})
    assert two.status_code == 400
    out = server.cli("query", "-d", db, "-l", "influxql", "--format", "json", "SELECT usage FROM cpu WHERE host = 'b'")
    assert '"usage":2.5' in out.stdout
    assert query_rows(server, db, "SELECT count(*) AS c FROM cpu") == [{"c": 3}]


def test_grafana_style_regexes_and_filters(server):
    db = seed(server)
    assert write_lp(server, db, "cpu,host=server.a,region=e\\ 1 usage=9 1700000100\n"
                                "cpu,host=serverXa,region=e usage=8 1700000100", precision="s").status_code == 204
    # (?i) as Grafana sends it, evaluated like the WHERE clause (RE2); a bad one is an error,
    # and the server stays up.
    assert v1(server, "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CP/ LIMIT 100", db)[0]["series"][0]["values"] == [
        ["cpu"]]
    assert v1(server, 'SHOW TAG VALUES FROM "cpu" WITH KEY =~ /(?i)HO/', db)[0]["series"][0]["values"][0] == [
        "host", "a"]
    bad = v1(server, "SHOW MEASUREMENTS WITH MEASUREMENT =~ /[/", db)[0]
    assert "invalid regular expression" in bad["error"]
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    # Backslashes belong to the expression: \. is a dot, \w a word character.
    assert v1(server, r"SELECT count(usage) FROM cpu WHERE host =~ /^server\.a$/", db)[0]["series"][0]["values"][0][1] == 1
    assert v1(server, r"SELECT count(usage) FROM cpu WHERE host =~ /^server\w+$/", db)[0]["series"][0]["values"][0][1] == 1
    assert v1(server, r"SELECT count(usage) FROM cpu WHERE host =~ /^server.a$/", db)[0]["series"][0]["values"][0][1] == 2
    # WHERE narrows SHOW TAG VALUES and SHOW SERIES (chained dashboard variables).
    assert v1(server, "SHOW TAG VALUES FROM cpu WITH KEY = \"host\" WHERE \"region\" = 'e'", db)[0]["series"][0][
        "values"] == [["host", "serverXa"]]
    assert v1(server, "SHOW SERIES FROM cpu WHERE host = 'server.a'", db)[0]["series"][0]["values"] == [
        ["cpu,host=server.a,region=e\\ 1"]]


def test_fill_percentile_and_unsupported_functions(server):
    db = seed(server)
    filled = v1(server, "SELECT max(n) FROM cpu WHERE host = 'b' GROUP BY time(1m) fill(-1)", db)[0]["series"][0]
    assert filled["values"] == [["2023-11-14T22:13:00Z", 4]]
    # Nearest rank: of 3, 4, 5 the 60th percentile is the 2nd value (InfluxQL), not 4.2.
    assert v1(server, "SELECT percentile(n, 60) FROM cpu", db)[0]["series"][0]["values"][0][1] == 4
    err = v1(server, "SELECT top(usage, 2) FROM cpu", db)[0]["error"]
    assert err == "InfluxQL: function top() is not supported"
    err = v1(server, "SELECT moving_average(mean(usage), 3) FROM cpu GROUP BY time(1m)", db)[0]["error"]
    assert "moving_average() is not supported" in err


def test_random_statements_never_crash_the_server(server):
    """Seeded random token soup on both endpoints: answers are 2xx or 4xx, never 5xx, and the
    server stays up (std::regex once crashed it)."""
    db = seed(server)
    tokens = ["SELECT", "SHOW", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "OFFSET", "fill(", "time(", "(",
              ")", ",", ";", "*", "::", "::field", "cpu", '"cpu"', "host", "usage", "n", "'a'",
              "'2023-11-14T22:13:20Z'", "1h", "5m", "-", "+", "/", "=~", "!~", "/^a/", "/[/", "/(?i)A/", "=", "!=", "<",
              ">=", "now()", "mean(", "count(", "first(", "last(", "percentile(", "max(", "1", "0", "-1", "1e99", "AND",
              "OR", "NOT", "MEASUREMENTS", "TAG", "VALUES", "KEYS", "FIELD", "SERIES", "DATABASES", "WITH", "KEY",
              "MEASUREMENT", "IN", "ON", "..", ".", '"', "'", "\\", "time", "DESC", "tz(", "SLIMIT",
              "99999999999999999999", "\u221e"]
    rnd = random.Random(20261130)
    session = requests.Session()
    for _ in range(400):
        q = rnd.choice(["SELECT ", "SHOW ", ""]) + " ".join(rnd.choice(tokens) for _ in range(rnd.randint(1, 12)))
        for path in ("/query", "/api/v3/query_influxql"):
            r = session.get(server.url + path, params={"db": db, "q": q}, timeout=10)
            assert r.status_code < 500, (path, q, r.text)
    assert requests.get(server.url + "/health", timeout=5).status_code == 200


def test_derivative_and_difference_as_telegraf_dashboards_use_them(server):
    db = unique_db("iql_rate")
    lines = ["net,host=a bytes=100i 1700000000", "net,host=a bytes=160i 1700000010", "net,host=a bytes=40i 1700000020",
             "net,host=a bytes=100i 1700000030", "net,host=b bytes=5i 1700000000", "net,host=b bytes=25i 1700000020"]
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    # Per second between consecutive points; the first point has none. A counter reset (160 → 40)
    # is negative, which non_negative_derivative drops.
    assert v1(server, "SELECT derivative(bytes, 1s) FROM net WHERE host = 'a'", db)[0]["series"][0]["values"] == [
        ["2023-11-14T22:13:30Z", 6.0], ["2023-11-14T22:13:40Z", -12.0], ["2023-11-14T22:13:50Z", 6.0]]
    rates = v1(server, "SELECT non_negative_derivative(bytes) FROM net GROUP BY host", db)[0]["series"]
    assert [(s["tags"]["host"], s["values"]) for s in rates] == [
        ("a", [["2023-11-14T22:13:30Z", 6.0], ["2023-11-14T22:13:50Z", 6.0]]), ("b", [["2023-11-14T22:13:40Z", 1.0]])]
    assert [r[1] for r in v1(server, "SELECT difference(bytes) FROM net WHERE host = 'a'", db)[0]["series"][0][
        "values"]] == [60, -120, 60]
    # Of an aggregate per GROUP BY time() bucket: mean 88.33… then 55 over 20 s.
    rate = v1(server, "SELECT derivative(mean(bytes), 1s) AS rate FROM net WHERE time >= '2023-11-14T22:13:20Z' "
                      "AND time < '2023-11-14T22:14:00Z' GROUP BY time(20s)", db)[0]["series"][0]
    assert rate["columns"] == ["time", "rate"] and rate["values"][0][0] == "2023-11-14T22:13:40Z"
    assert abs(rate["values"][0][1] - (55 - 265 / 3) / 20) < 1e-9
    assert "requires a GROUP BY time()" in v1(server, "SELECT derivative(mean(bytes)) FROM net", db)[0]["error"]


def test_missing_fields_read_as_null_and_star_aggregates_skip_other_types(server):
    db = seed(server)
    got = v1(server, "SELECT usage, nope FROM cpu WHERE nope2 = 'x' OR host = 'b'", db)[0]["series"][0]
    assert got["columns"] == ["time", "usage", "nope"] and got["values"] == [["2023-11-14T22:13:30Z", 2.5, None]]
    mean = v1(server, "SELECT mean(*) FROM cpu", db)[0]["series"][0]  # ok (boolean) has no mean
    assert mean["columns"] == ["time", "mean_n", "mean_usage"] and mean["values"] == [["1970-01-01T00:00:00Z", 4.0, 2.5]]


def test_the_last_and_first_point_of_each_series(server):
    """GROUP BY tags ... LIMIT 1 (dashboards' "last value") takes its own plan: the newest (or
    oldest) time per series, then those rows. It must answer as LIMIT n does: one point per
    series, a series without the tag is its own group, a tie keeps one row, WHERE applies."""
    db = unique_db("lastpt")
    lines = ["cpu,host=a,region=w usage=1,n=1i 1700000000",
             "cpu,host=a,region=w usage=2,n=2i 1700000060",
             "cpu,host=a,region=e usage=3 1700000060",  # the same time as a/w: a tie for host=a
             "cpu,host=b,region=w usage=4,n=4i 1700000030",
             "cpu,host=b,region=w usage=5,n=5i 1700000090",
             "cpu,region=w usage=6,n=6i 1700000010",  # no host
             "cpu,region=w usage=7,n=7i 1700000020"]
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204

    def points(q):
        return {tuple(s.get("tags", {}).items()): s["values"] for s in v1(server, q, db, epoch="s")[0]["series"]}

    last = points('SELECT usage, n FROM cpu GROUP BY "host" ORDER BY time DESC LIMIT 1')
    assert set(last) == {(("host", ""),), (("host", "a"),), (("host", "b"),)}, last
    assert last[(("host", "b"),)] == [[1700000090, 5.0, 5]]
    assert last[(("host", ""),)] == [[1700000020, 7.0, 7]]
    assert len(last[(("host", "a"),)]) == 1 and last[(("host", "a"),)][0][0] == 1700000060
    assert last[(("host", "a"),)][0][1] in (2.0, 3.0)
    first = points('SELECT usage FROM cpu GROUP BY "host" ORDER BY time ASC LIMIT 1')
    assert first == {(("host", ""),): [[1700000010, 6.0]], (("host", "a"),): [[1700000000, 1.0]],
                     (("host", "b"),): [[1700000030, 4.0]]}
    # The general plan (LIMIT 2) agrees on the first point of each series.
    two = points('SELECT usage FROM cpu GROUP BY "host" ORDER BY time ASC LIMIT 2')
    assert {k: v[:1] for k, v in two.items()} == first
    # WHERE applies before the newest point is chosen (usage < 5 leaves out b's 5 and the hostless rows).
    assert points("SELECT usage FROM cpu WHERE usage < 5 GROUP BY host, region ORDER BY time DESC LIMIT 1") == {
        (("host", "a"), ("region", "w")): [[1700000060, 2.0]],
        (("host", "a"), ("region", "e")): [[1700000060, 3.0]],
        (("host", "b"), ("region", "w")): [[1700000030, 4.0]]}


def test_buckets_filled_while_streaming_match_those_the_sql_fills(server):
    """GROUP BY time() without LIMIT fills its empty buckets as the rows stream out; with a LIMIT
    the SQL fills them. A LIMIT above the row count must change nothing, for every fill, bound
    and grouping, including the past-100,000-buckets case (only the buckets with points)."""
    db = unique_db("fill")
    base = 1700000000  # 2023-11-14T22:13:20Z
    lines = []
    for i in range(40):
        if i % 7 in (3, 4):
            continue  # empty buckets
        for h in ("a", "b", "c"):
            if h == "c" and i < 20:
                continue  # a series that starts late
            fields = f"v={i * 1.5}" + (f",n={i}i" if i % 5 else "")  # n is NULL in some buckets
            lines.append(f"cpu,host={h},dc={'y' if h == 'b' else 'x'} {fields} {base + i * 20}")
    assert write_lp(server, db, "\n".join(lines), precision="s").status_code == 204
    inside = "time >= '2023-11-14T22:13:00Z' AND time < '2023-11-14T22:30:00Z'"
    closed = "time >= '2023-11-14T22:13:00Z' AND time <= '2023-11-14T22:26:00Z'"
    compared = 0
    for fill in ("", " fill(null)", " fill(0)", " fill(-1)", " fill(2.5)", " fill(previous)"):
        for select in ("max(v)", "count(n)", "mean(n), max(v)", "last(n) AS lo, min(v) AS hi"):
            for group in ("time(1m)", "time(1m), host", "time(2m, 30s), *"):
                for where in (inside, closed, "host = 'a'", inside + " AND host = 'none'"):
                    q = f"SELECT {select} FROM cpu WHERE {where} GROUP BY {group}{fill}"
                    streamed = v1(server, q, db)
                    assert streamed == v1(server, q + " LIMIT 100000", db), q
                    compared += len(streamed[0].get("series", []))
    assert compared > 100
