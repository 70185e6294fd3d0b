"""The `influxdb3` command line: client subcommands against a running server, and `serve`
argument errors (COMPAT §7)."""
import json
import os
import subprocess

import pytest

from conftest import BINARY, query_rows, unique_db


def run(*args, env=None, input=None, timeout=60):
    """Runs the binary without the automatic `--host` (for env-var and unreachable-server tests)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB3_")}
    full_env.update(env or {})
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=full_env, input=input,
                          stdin=subprocess.DEVNULL if input is None else None, timeout=timeout)


def failed(result):
    """A client error: non-zero exit and a message on stderr."""
    return result.returncode != 0 and result.stderr.strip() != ""


def databases(server):
    return [row["iox::database"] for row in json.loads(server.cli("show", "databases", "--format", "json").stdout)]


def pretty_cells(text):
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]


def test_write_from_argument_file_and_stdin(server, tmp_path):
    db = unique_db("cli")
    server.cli("write", "--database", db, "--precision", "s", "cpu,host=a usage=1 1")
    lp = tmp_path / "data.lp"
    lp.write_text("cpu,host=b usage=2 2\ncpu,host=c usage=3 3\n")
    server.cli("write", "--database", db, "--precision", "s", "-f", str(lp))
    server.cli("write", "--database", db, "--precision", "s", input="cpu,host=d usage=4 4\n")
    server.cli("w", "-d", db, "--precision", "s", "cpu,host=e usage=5 5")  # short forms
    rows = query_rows(server, db, "SELECT host, usage, time FROM cpu ORDER BY time")
    assert rows == [{"host": h, "usage": float(i + 1), "time": f"1970-01-01T00:00:0{i + 1}"}
                    for i, h in enumerate("abcde")]


def test_write_defaults_to_auto_precision(server):
    db = unique_db("cli")
    server.cli("write", "--database", db, "m v=1 1700000000")
    assert query_rows(server, db, "SELECT time FROM m") == [{"time": "2023-11-14T22:13:20"}]


@pytest.fixture(scope="module")
def cli_db(server):
    db = unique_db("cliq")
    server.cli("write", "--database", db, "--precision", "s",
               input="cpu,host=a usage=1.5 1\ncpu,host=b usage=2.5 2\n")
    return db


def test_query_formats(server, cli_db, tmp_path):
    sql = "SELECT host, usage FROM cpu ORDER BY host"
    pretty = server.cli("query", "--database", cli_db, sql).stdout  # pretty is the default
    assert pretty.lstrip().startswith("+-"), pretty
    assert pretty_cells(pretty) == [["host", "usage"], ["a", "1.5"], ["b", "2.5"]]
    assert pretty_cells(server.cli("query", "--database", cli_db, "--format", "pretty", sql).stdout) == \
        pretty_cells(pretty)
    out = server.cli("query", "--database", cli_db, "--format", "json", sql).stdout
    assert json.loads(out) == [{"host": "a", "usage": 1.5}, {"host": "b", "usage": 2.5}]
    out = server.cli("query", "--database", cli_db, "--format", "jsonl", sql).stdout
    assert [json.loads(line) for line in out.splitlines() if line.strip()] == \
        [{"host": "a", "usage": 1.5}, {"host": "b", "usage": 2.5}]
    out = server.cli("query", "--database", cli_db, "--format", "csv", sql).stdout
    assert out.splitlines() == ["host,usage", "a,1.5", "b,2.5"]
    out = server.cli("q", "-d", cli_db, "--format", "csv", sql).stdout  # short forms
    assert out.splitlines() == ["host,usage", "a,1.5", "b,2.5"]


def test_query_to_parquet_file(server, cli_db, tmp_path):
    target = tmp_path / "out.parquet"
    server.cli("query", "--database", cli_db, "--format", "parquet", "-o", str(target), "SELECT * FROM cpu")
    data = target.read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"


def test_query_to_csv_file(server, cli_db, tmp_path):
    target = tmp_path / "out.csv"
    server.cli("query", "--database", cli_db, "--format", "csv", "-o", str(target), "SELECT host FROM cpu ORDER BY host")
    assert target.read_text().splitlines() == ["host", "a", "b"]


def test_query_from_stdin(server, cli_db):
    out = server.cli("query", "--database", cli_db, "--format", "csv", input="SELECT count(*) AS n FROM cpu\n").stdout
    assert out.splitlines() == ["n", "2"]


def test_create_show_and_delete_database(server):
    db = unique_db("clidb")
    out = server.cli("create", "database", db)
    assert out.stdout.strip() == f'Database "{db}" created successfully'
    assert db in databases(server)
    assert db in server.cli("show", "databases").stdout  # pretty by default
    dup = server.cli("create", "database", db, check=False)
    assert failed(dup), (dup.returncode, dup.stdout, dup.stderr)
    # Without -y it asks, and anything but "yes" keeps the database.
    server.cli("delete", "database", db, input="no\n", check=False)
    assert db in databases(server)
    server.cli("delete", "database", db, check=False)  # stdin at EOF
    assert db in databases(server)
    server.cli("delete", "database", db, "-y")
    assert db not in databases(server)


def test_delete_database_confirmed_on_stdin(server):
    db = unique_db("clidb")
    server.cli("create", "database", db)
    server.cli("delete", "database", db, input="yes\n")
    assert db not in databases(server)


def test_create_table(server):
    db = unique_db("clitable")
    server.cli("create", "database", db)
    server.cli("create", "table", "t", "--database", db, "--tags", "host,region", "--fields", "v:int64,s:utf8")
    rows = query_rows(server, db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't'")
    assert {row["column_name"]: row["data_type"] for row in rows} == {
        "host": "Dictionary(Int32, Utf8)", "region": "Dictionary(Int32, Utf8)", "s": "Utf8", "v": "Int64",
        "time": "Timestamp(Nanosecond, None)"}


def test_client_errors(server, cli_db):
    r = server.cli("query", "--database", unique_db("missing"), "SELECT 1", check=False)
    assert failed(r) and "not found" in r.stderr.lower(), r.stderr
    r = server.cli("query", "--database", cli_db, "SELECT * FROM", check=False)
    assert failed(r), r.stderr
    r = server.cli("write", "--database", unique_db("bad"), "this is not line protocol", check=False)
    assert failed(r), r.stderr
    r = server.cli("delete", "database", unique_db("never"), "-y", check=False)
    assert failed(r), r.stderr
    r = server.cli("query", "SELECT 1", check=False)  # no database
    assert failed(r), r.stderr
    r = server.cli("write", "--database", unique_db("nofile"), "-f", "/nonexistent/riffle.lp", check=False)
    assert failed(r), r.stderr


def test_unreachable_server(free_url):
    r = run("query", "--database", "db", "--host", free_url, "SELECT 1")
    assert failed(r), (r.returncode, r.stderr)
    assert free_url.split("//")[1] in r.stderr, r.stderr  # says which server it could not reach
    r = run("write", "--database", "db", "--host", free_url, "m v=1")
    assert failed(r), (r.returncode, r.stderr)


@pytest.fixture
def free_url():
    from conftest import free_port
    return f"http://127.0.0.1:{free_port()}"


def test_environment_variables(server):
    db = unique_db("clienv")
    env = {"INFLUXDB3_HOST_URL": server.url, "INFLUXDB3_DATABASE_NAME": db}
    r = run("write", "--precision", "s", "envtest v=7 1", env=env)
    assert r.returncode == 0, r.stderr
    r = run("query", "--format", "csv", "SELECT v FROM envtest", env=env)
    assert r.returncode == 0 and r.stdout.splitlines() == ["v", "7.0"], (r.stdout, r.stderr)
    # Flags win over the environment.
    other = unique_db("clienv")
    r = run("write", "--database", other, "--precision", "s", "envtest v=8 1", env=env)
    assert r.returncode == 0, r.stderr
    assert query_rows(server, other, "SELECT v FROM envtest") == [{"v": 8.0}]
    assert query_rows(server, db, "SELECT v FROM envtest") == [{"v": 7.0}]


@pytest.mark.parametrize("args", [
    ["serve", "--bogus-flag"],
    ["serve", "--node-id", "n", "--object-store", "nope"],
    ["serve", "--object-store", "nope"],
])
def test_serve_argument_errors_exit_2(args, tmp_path):
    r = run(*args, "--data-dir", str(tmp_path / "data"), "--http-bind", "127.0.0.1:0", timeout=20)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "an explanation on stderr"
