"""Databases and tables over HTTP and through the CLI client."""
import json
import subprocess

import requests

from conftest import BINARY, query_rows, unique_db, write_lp


def test_database_lifecycle_over_http(server):
    db = unique_db("cfg")
    url = server.url + "/api/v3/configure/database"
    assert requests.post(url, json={"db": db}).status_code == 200
    r = requests.post(url, json={"db": db})
    assert r.status_code == 409 and "already exists" in r.json()["error"]
    assert requests.get(url).status_code == 400  # format is required
    names = [row["iox::database"] for row in requests.get(url, params={"format": "json"}).json()]
    assert db in names
    assert requests.post(url, json={"db": "bad name"}).status_code == 400
    assert requests.post(url, data="{}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert requests.post(url, data="{nope", headers={"Content-Type": "application/json"}).status_code == 400
    assert write_lp(server, db, "m v=1").status_code == 204
    assert requests.delete(url, params={"db": db}).status_code == 200
    assert requests.delete(url, params={"db": db}).status_code == 404
    # The name is free again: a new write creates a new, empty database.
    assert write_lp(server, db, "n v=1").status_code == 204
    tables = {t["table_name"] for t in query_rows(server, db, "SHOW TABLES") if t["table_schema"] == "iox"}
    assert tables == {"n"}


def test_table_lifecycle_over_http(server):
    db = unique_db("cfg")
    url = server.url + "/api/v3/configure/table"
    spec = {"db": db, "table": "t", "tags": ["host"], "fields": [{"name": "v", "type": "int64"},
                                                                 {"name": "s", "type": "utf8"}]}
    assert requests.post(url, json=spec).status_code == 200
    assert requests.post(url, json=spec).status_code == 409
    assert query_rows(server, db, "SELECT * FROM t") == []
    cols = query_rows(server, db, "SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 't' ORDER BY column_name")
    assert [c["data_type"] for c in cols] == ["Dictionary(Int32, Utf8)", "Utf8", "Timestamp(Nanosecond, None)", "Int64"]
    r = write_lp(server, db, "t,host=a v=1.5")
    assert r.status_code == 400 and "expected int64" in r.text
    assert requests.delete(url, params={"db": db, "table": "t"}).status_code == 200
    assert requests.delete(url, params={"db": db, "table": "t"}).status_code == 404
    bad = dict(spec, fields=[{"name": "v", "type": "decimal"}])
    assert requests.post(url, json=bad).status_code == 400


def test_cli_write_and_query(server, tmp_path):
    db = unique_db("cli")
    out = server.cli("write", "--database", db, "cpu,host=a usage=1 1", "--precision", "s")
    assert out.returncode == 0
    f = tmp_path / "data.lp"
    f.write_text("cpu,host=b usage=2 2\n")
    server.cli("write", "--database", db, "-f", str(f), "--precision", "s")
    server.cli("write", "--database", db, "--precision", "s", input="cpu,host=c usage=3 3\n")
    pretty = server.cli("query", "--database", db, "SELECT host, usage FROM cpu ORDER BY host").stdout
    assert "| host | usage |" in pretty and "| c    | 3.0   |" in pretty
    j = server.cli("query", "--database", db, "--format", "json", "SELECT host FROM cpu ORDER BY host").stdout
    assert json.loads(j) == [{"host": "a"}, {"host": "b"}, {"host": "c"}]
    csv = server.cli("query", "--database", db, "--format", "csv", "SELECT host FROM cpu ORDER BY host").stdout
    assert csv.splitlines() == ["host", "a", "b", "c"]
    jsonl = server.cli("query", "--database", db, "--format", "jsonl", "SELECT host FROM cpu ORDER BY host").stdout
    assert len(jsonl.splitlines()) == 3
    parquet = tmp_path / "out.parquet"
    server.cli("query", "--database", db, "--format", "parquet", "-o", str(parquet), "SELECT * FROM cpu")
    assert parquet.read_bytes()[:4] == b"PAR1"
    stdin_query = server.cli("query", "--database", db, "--format", "csv", input="SELECT count(*) AS n FROM cpu").stdout
    assert stdin_query.splitlines() == ["n", "3"]
    env = {"INFLUXDB3_DATABASE_NAME": db}
    r = subprocess.run([BINARY, "query", "--format", "csv", "SELECT count(*) AS n FROM cpu"], capture_output=True,
                       text=True, env={"INFLUXDB3_HOST_URL": server.url, **env})
    assert r.returncode == 0 and r.stdout.splitlines() == ["n", "3"]


def test_cli_database_commands(server):
    db = unique_db("clidb")
    out = server.cli("create", "database", db)
    assert out.stdout.strip() == f'Database "{db}" created successfully'
    assert db in server.cli("show", "databases").stdout
    listed = json.loads(server.cli("show", "databases", "--format", "json").stdout)
    assert {"iox::database": db} in listed
    refused = server.cli("delete", "database", db, input="no\n", check=False)
    assert refused.returncode != 0
    assert db in server.cli("show", "databases").stdout
    server.cli("delete", "database", db, "-y")
    assert db not in server.cli("show", "databases").stdout


def test_cli_errors_are_clear(server):
    r = server.cli("query", "--database", "does_not_exist", "SELECT 1", check=False)
    assert r.returncode != 0 and "database not found" in r.stderr
    r = server.cli("write", "--database", unique_db(), "bad line", check=False)
    assert r.returncode != 0 and "partial write" in r.stderr
    r = subprocess.run([BINARY, "query", "--database", "x", "--host", "http://127.0.0.1:1", "SELECT 1"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "could not reach the server" in r.stderr
    for args in (["serve", "--bogus-flag"], ["serve", "--node-id", "n", "--object-store", "nope"],
                 ["serve", "--node-id", "n", "--wal-flush-interval", "soon"], ["serve"], ["frobnicate"]):
        r = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("Error:")
