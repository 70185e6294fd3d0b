"""Database and table configuration over HTTP (COMPAT §6.0, §6.4)."""
import pytest
import requests

from conftest import query, query_rows, unique_db, write_lp

DB_URL = "/api/v3/configure/database"
TABLE_URL = "/api/v3/configure/table"


def json_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body


def list_dbs(server, **params):
    r = requests.get(server.url + DB_URL, params={"format": "json", **params}, timeout=30)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert all("iox::database" in row for row in rows), rows
    return [row["iox::database"] for row in rows]


def iox_tables(server, db):
    return {row["table_name"] for row in query_rows(server, db, "SHOW TABLES") if row.get("table_schema") == "iox"}


def test_create_database(server):
    db = unique_db("cfg")
    r = requests.post(server.url + DB_URL, json={"db": db}, timeout=30)
    assert r.status_code == 200, r.text
    assert db in list_dbs(server)
    assert iox_tables(server, db) == set()  # exists, and is empty
    body = json_error(requests.post(server.url + DB_URL, json={"db": db}, timeout=30), 409)
    assert db in body["error"]


def test_list_requires_format(server):
    json_error(requests.get(server.url + DB_URL, timeout=30), 400)


def test_list_formats(server):
    db = unique_db("cfg")
    assert requests.post(server.url + DB_URL, json={"db": db}, timeout=30).status_code == 200
    r = requests.get(server.url + DB_URL, params={"format": "csv"}, timeout=30)
    assert r.status_code == 200 and r.text.splitlines()[0] == "iox::database" and db in r.text.splitlines(), r.text
    r = requests.get(server.url + DB_URL, params={"format": "jsonl"}, timeout=30)
    assert r.status_code == 200 and f'"iox::database":"{db}"' in r.text.replace(" ", ""), r.text


@pytest.mark.parametrize("name", ["bad name", "_bad", "", "dbé"])
def test_create_database_with_a_bad_name(server, name):
    json_error(requests.post(server.url + DB_URL, json={"db": name}, timeout=30), 400)


def test_delete_database(server):
    db = unique_db("cfg")
    assert write_lp(server, db, "old_table v=1").status_code == 204
    r = requests.delete(server.url + DB_URL, params={"db": db}, timeout=30)
    assert r.status_code == 200, r.text
    assert db not in list_dbs(server)
    json_error(query(server, db, "SELECT * FROM old_table"), 404)
    # The name is free again: a write creates a new, empty database.
    assert write_lp(server, db, "new_table v=1").status_code == 204
    assert iox_tables(server, db) == {"new_table"}
    assert db in list_dbs(server)


def test_delete_unknown_database(server):
    json_error(requests.delete(server.url + DB_URL, params={"db": unique_db("never")}, timeout=30), 404)
    r = requests.delete(server.url + DB_URL, timeout=30)  # no db
    assert r.status_code == 400, r.text


def test_deleted_database_shows_with_show_deleted(server):
    db = unique_db("cfg")
    assert requests.post(server.url + DB_URL, json={"db": db}, timeout=30).status_code == 200
    assert requests.delete(server.url + DB_URL, params={"db": db}, timeout=30).status_code == 200
    names = list_dbs(server, show_deleted="true")
    assert any(name.startswith(db + "-") for name in names), names


def test_create_table(server):
    db = unique_db("cfg")
    spec = {"db": db, "table": "t", "tags": ["host", "region"],
            "fields": [{"name": "i", "type": "int64"}, {"name": "u", "type": "uint64"},
                       {"name": "f", "type": "float64"}, {"name": "s", "type": "utf8"},
                       {"name": "b", "type": "bool"}]}
    r = requests.post(server.url + TABLE_URL, json=spec, timeout=30)  # the database is created too
    assert r.status_code == 200, r.text
    assert "t" in iox_tables(server, db)
    assert query_rows(server, db, "SELECT * FROM t") == []
    rows = query_rows(server, db, "SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 't'")
    assert {row["column_name"]: row["data_type"] for row in rows} == {
        "b": "Boolean", "f": "Float64", "host": "Dictionary(Int32, Utf8)", "i": "Int64",
        "region": "Dictionary(Int32, Utf8)", "s": "Utf8", "time": "Timestamp(Nanosecond, None)", "u": "UInt64"}
    # The declared types are enforced on write.
    r = write_lp(server, db, "t,host=a i=1.5 1", precision="s")
    assert r.status_code == 400 and "'i'" in r.json()["data"][0]["error_message"], r.text
    assert write_lp(server, db, 't,host=a i=1i,u=2u,f=3,s="x",b=true 1', precision="s").status_code == 204
    assert query_rows(server, db, "SELECT host, i, u, f, s, b FROM t") == [
        {"host": "a", "i": 1, "u": 2, "f": 3.0, "s": "x", "b": True}]
    json_error(requests.post(server.url + TABLE_URL, json=spec, timeout=30), 409)


def test_create_table_rejects_bad_specs(server):
    db = unique_db("cfg")
    base = {"db": db, "table": "t", "tags": ["host"], "fields": [{"name": "v", "type": "int64"}]}
    for bad in (dict(base, fields=[{"name": "v", "type": "decimal"}]),
                dict(base, tags=["time"]),
                dict(base, fields=[{"name": "host", "type": "int64"}]),
                {"table": "t", "tags": [], "fields": []}):
        r = requests.post(server.url + TABLE_URL, json=bad, timeout=30)
        assert r.status_code == 400, (bad, r.status_code, r.text)


def test_delete_table(server):
    db = unique_db("cfg")
    assert write_lp(server, db, "keep v=1 1\ndrop_me v=1 1", precision="s").status_code == 204
    r = requests.delete(server.url + TABLE_URL, params={"db": db, "table": "drop_me"}, timeout=30)
    assert r.status_code == 200, r.text
    assert iox_tables(server, db) == {"keep"}
    assert query(server, db, "SELECT * FROM drop_me").status_code == 400
    rows = query_rows(server, db, "SELECT DISTINCT table_name FROM information_schema.columns")
    assert "drop_me" not in {row["table_name"] for row in rows}
    json_error(requests.delete(server.url + TABLE_URL, params={"db": db, "table": "drop_me"}, timeout=30), 404)
    json_error(requests.delete(server.url + TABLE_URL, params={"db": unique_db("never"), "table": "x"}, timeout=30), 404)
    assert query_rows(server, db, "SELECT v FROM keep") == [{"v": 1.0}]


@pytest.mark.parametrize("path,body", [(DB_URL, '{"db": "ct_db"}'),
                                        (TABLE_URL, '{"db": "ct_db", "table": "t", "tags": [], "fields": []}')])
def test_json_endpoints_require_json_content_type(server, path, body):
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = requests.post(server.url + path, data=body, headers={"Content-Type": content_type}, timeout=30)
        assert r.status_code == 415, (content_type, r.status_code, r.text)
        assert "error" in r.json()
    r = requests.post(server.url + path, data=body[:-3], headers={"Content-Type": "application/json"}, timeout=30)
    json_error(r, 400)
    assert "ct_db" not in list_dbs(server)
