"""A command-line flag always wins over its environment variable (INFLUXDB3_HOST_URL,
INFLUXDB3_DATABASE_NAME, INFLUXDB3_AUTH_TOKEN), for every client subcommand. The variables were
applied to every subcommand of a group, used or not, and the group's subcommands share their
argument structs, so a variable overwrote the flag: `delete database x -y -H B` deleted x on the
server in INFLUXDB3_HOST_URL."""
import json
import os
import subprocess

import pytest

from conftest import BINARY, Server, free_port, put_plugin, query_rows, write_lp
from test_engine_lifecycle import make_wheel


def run(*args, env=None):
    """The binary with exactly `env` as its INFLUXDB3_* variables and no automatic --host."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB3_")}
    full_env.update(env or {})
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=full_env,
                          stdin=subprocess.DEVNULL, timeout=120)


def ok(result):
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result.stdout


def databases(server, env=None):
    out = ok(run("show", "databases", "--format", "json", "--host", server.url, env=env))
    return [row["iox::database"] for row in json.loads(out)]


def test_delete_database_goes_to_the_host_flag_not_the_variable(tmp_path):
    """The issue's report, with two real servers: the variable names A, the flag names B."""
    a = Server(tmp_path / "a").start()
    b = Server(tmp_path / "b").start()
    try:
        for s in (a, b):
            assert write_lp(s, "envtest", "m v=1").status_code == 204
        ok(run("delete", "database", "envtest", "-y", "-H", b.url, env={"INFLUXDB3_HOST_URL": a.url}))
        assert "envtest" in databases(a)
        assert "envtest" not in databases(b)
        # The database variable loses to -d in the same way.
        ok(run("create", "table", "t", "-d", "b_db", "--tags", "k", "--host", a.url,
               env={"INFLUXDB3_DATABASE_NAME": "a_db"}))
        assert "b_db" in databases(a) and "a_db" not in databases(a)
        # Without flags the variables still apply.
        ok(run("create", "database", "from_env", env={"INFLUXDB3_HOST_URL": b.url}))
        assert "from_env" in databases(b) and "from_env" not in databases(a)
        missing = run("create", "table", "t2", "--host", a.url)
        assert missing.returncode != 0 and "INFLUXDB3_DATABASE_NAME" in missing.stderr, missing.stderr
    finally:
        a.kill9()
        b.kill9()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A server with authentication on; returns (server, token)."""
    s = Server(tmp_path_factory.mktemp("flags")).start()
    out = s.cli("create", "token", "--admin").stdout
    token = next(line.split("Token: ", 1)[1] for line in out.splitlines() if line.startswith("Token: "))
    yield s, token
    s.kill9()


def test_every_subcommand_takes_its_flags_over_the_variables(secured, tmp_path):
    """Every variable names something wrong (a closed port, a missing database, a bad token);
    every flag names the right thing. Each subcommand must reach the right server, database and
    credentials, and its effect is checked there."""
    s, token = secured
    wrong = {"INFLUXDB3_HOST_URL": f"http://127.0.0.1:{free_port()}", "INFLUXDB3_DATABASE_NAME": "wrong_db",
             "INFLUXDB3_AUTH_TOKEN": "apiv3_wrong"}
    db = "flags_db"

    def cli(*args):
        return ok(run(*args, "--host", s.url, "--token", token, env=wrong))

    def admin_query(sql):
        return json.loads(ok(run("query", "-d", db, "--format", "json", sql, "--host", s.url, "--token", token)))

    put_plugin(s, "flags_wal.py", """
        def process_writes(influxdb3_local, table_batches, args=None):
            influxdb3_local.info("rows", sum(len(b["rows"]) for b in table_batches))
    """)
    put_plugin(s, "flags_req.py", """
        def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
            return {"ok": True}
    """)
    put_plugin(s, "flags_sched.py", """
        def process_scheduled_call(influxdb3_local, call_time, args=None):
            influxdb3_local.info("tick")
    """)

    assert cli("create", "database", db)
    assert db in databases(s, env={"INFLUXDB3_AUTH_TOKEN": token})
    cli("write", "-d", db, "m,host=a v=1 1")
    assert admin_query("SELECT count(*) AS n FROM m") == [{"n": 1}]
    assert json.loads(cli("query", "-d", db, "--format", "json", "SELECT v FROM m")) == [{"v": 1.0}]
    cli("create", "table", "-d", db, "t2", "--tags", "k", "--fields", "f:float64")
    assert {"table_name": "t2"} in admin_query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox'")
    assert any(row["iox::database"] == db for row in json.loads(cli("show", "databases", "--format", "json")))
    cli("update", "database", "-d", db, "--retention-period", "30d")
    cli("create", "trigger", "-d", db, "--trigger-spec", "table:m", "--plugin-filename", "flags_wal.py", "flags_trig")
    cli("disable", "trigger", "-d", db, "flags_trig")
    assert "flags_trig" in cli("show", "triggers", "-d", db)
    cli("enable", "trigger", "-d", db, "flags_trig")
    assert "rows" in cli("test", "wal_plugin", "-d", db, "--lp", "m,host=b v=2 2", "flags_wal.py")
    assert "tick" in cli("test", "schedule_plugin", "-d", db, "flags_sched.py")
    assert "ok" in cli("test", "request_plugin", "-d", db, "flags_req.py")
    assert "processing_engine_triggers" in cli("show", "system", "-d", db, "table-list")
    assert "flags_trig" in cli("show", "system", "-d", db, "table", "processing_engine_triggers")
    assert "flags_wal.py" in cli("show", "plugins", "--format", "json")
    cli("create", "token", "--admin", "--name", "flags_named")
    assert "flags_named" in cli("show", "tokens")
    cli("delete", "token", "--token-name", "flags_named")
    assert "flags_named" not in cli("show", "tokens")
    wheel = make_wheel(tmp_path, "riffle_flags_pkg", "riffle-flags-pkg", "1.0", "VALUE = 1\n")
    assert "installed successfully" in ok(run("install", "package", str(wheel), "--host", s.url, "--token", token,
                                              env={**wrong, "PIP_NO_INDEX": "1"}))
    cli("delete", "trigger", "-d", db, "flags_trig", "--force")
    assert "flags_trig" not in cli("show", "triggers", "-d", db)
    cli("delete", "table", "-d", db, "t2", "-y")
    cli("delete", "database", db, "-y")
    assert db not in databases(s, env={"INFLUXDB3_AUTH_TOKEN": token})
