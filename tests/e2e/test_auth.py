"""Issue 6: admin tokens. A new server accepts requests without a token (so the Processing-engine
guide runs as written); `influxdb3 create token --admin` prints a token once and turns
authentication on for every API but /health and /ping; only a SHA-512 hash is stored."""
import base64
import json
import textwrap

import requests

from conftest import Server, query, read_object, write_lp


def make_token(s, *extra):
    r = s.cli("create", "token", "--admin", *extra)
    token = next(line.split("Token: ", 1)[1] for line in r.stdout.splitlines() if line.startswith("Token: "))
    assert token.startswith("apiv3_") and len(token) > 60
    assert "will not be shown again" in r.stdout
    return token


def test_tokens_turn_authentication_on_and_survive_a_restart(tmp_path):
    s = Server(tmp_path).start()
    try:
        assert write_lp(s, "db", "m v=1").status_code == 204  # no token yet: open, as the guide expects
        token = make_token(s)
        stored = read_object(s, "node0/tokens.json").decode()
        assert token not in stored and '"hash"' in stored  # only the hash is kept
        # Without a token: 401 with a JSON error, for writes, queries, configuration and the CLI.
        r = write_lp(s, "db", "m v=2")
        assert r.status_code == 401 and r.json() == {"error": "the request was not authenticated"}
        assert query(s, "db", "SELECT 1").status_code == 401
        assert requests.get(s.url + "/api/v3/configure/database", params={"format": "json"}, timeout=10).status_code == 401
        denied = s.cli("query", "-d", "db", "SELECT 1", check=False)
        assert denied.returncode != 0 and "not authenticated" in denied.stderr
        # Liveness needs nothing.
        assert requests.get(s.url + "/health", timeout=10).status_code == 200
        assert requests.get(s.url + "/ping", timeout=10).status_code == 200
        # Every accepted form of the credential.
        bearer = {"Authorization": f"Bearer {token}"}
        for headers in (bearer, {"Authorization": f"Token {token}"},
                        {"Authorization": "Basic " + base64.b64encode(f"user:{token}".encode()).decode()}):
            r = requests.post(s.url + "/api/v3/write_lp", params={"db": "db"}, data="m v=3", headers=headers, timeout=10)
            assert r.status_code == 204, (headers, r.text)
        assert requests.post(s.url + "/write", params={"db": "db", "p": token}, data="m v=4", timeout=10).status_code == 204
        assert requests.post(s.url + "/api/v3/write_lp", params={"db": "db"}, data="m v=5",
                             headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        assert requests.post(s.url + "/api/v3/write_lp", params={"db": "db"}, data="m v=5",
                             headers={"Authorization": "garbage"}, timeout=10).status_code == 400
        # The CLI takes --token or INFLUXDB3_AUTH_TOKEN.
        out = s.cli("query", "-d", "db", "SELECT count(*) AS n FROM m", "--format", "json", "--token", token).stdout
        assert json.loads(out) == [{"n": 5}]
        s.cli("write", "-d", "db", "m v=6", env={"INFLUXDB3_AUTH_TOKEN": token})
        # A second operator token is refused; regenerating replaces the old secret.
        again = s.cli("create", "token", "--admin", "--token", token, check=False)
        assert again.returncode != 0 and "already exists" in again.stderr
        s.restart()
        assert write_lp(s, "db", "m v=7").status_code == 401
        assert requests.post(s.url + "/api/v3/write_lp", params={"db": "db"}, data="m v=7", headers=bearer,
                             timeout=10).status_code == 204
        new = make_token(s, "--regenerate", "--token", token)
        assert new != token
        assert requests.post(s.url + "/api/v3/write_lp", params={"db": "db"}, data="m v=8", headers=bearer,
                             timeout=10).status_code == 401
        out = s.cli("query", "-d", "db", "SELECT count(*) AS n FROM m", "--format", "json", "--token", new).stdout
        assert json.loads(out) == [{"n": 7}]
    finally:
        s.kill9()


def test_named_tokens_can_be_listed_and_deleted(tmp_path):
    s = Server(tmp_path).start()
    try:
        admin = make_token(s)
        ci = make_token(s, "--name", "ci", "--expiry", "1h", "--token", admin)
        listed = s.cli("show", "tokens", "--token", ci).stdout
        assert "_admin" in listed and "ci" in listed and "expires" in listed and admin not in listed
        gone = s.cli("delete", "token", "--token-name", "_admin", "--token", admin, check=False)
        assert gone.returncode != 0 and "cannot be deleted" in gone.stderr
        s.cli("delete", "token", "--token-name", "ci", "--token", admin)
        assert requests.get(s.url + "/api/v3/configure/token", headers={"Authorization": f"Bearer {ci}"},
                            timeout=10).status_code == 401
    finally:
        s.kill9()


def test_request_triggers_need_a_token_unless_public_and_metrics_can_be_exempted(tmp_path):
    s = Server(tmp_path, ["--disable-authz", "metrics"]).start()
    try:
        (s.plugin_dir / "hi.py").write_text(textwrap.dedent('''
            def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
                return {"hi": request_headers.get("authorization", "hidden")}
        '''))
        s.cli("create", "database", "db")
        s.cli("create", "trigger", "-d", "db", "--trigger-spec", "request:private", "--plugin-filename", "hi.py", "private")
        s.cli("create", "trigger", "-d", "db", "--trigger-spec", "request:open", "--plugin-filename", "hi.py",
              "--public", "open")
        token = make_token(s)
        assert requests.get(s.url + "/api/v3/engine/private", timeout=10).status_code == 401
        r = requests.get(s.url + "/api/v3/engine/private", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200 and r.json() == {"hi": "hidden"}  # the plugin never sees the credential
        assert requests.get(s.url + "/api/v3/engine/open", timeout=10).json() == {"hi": "hidden"}
        assert requests.get(s.url + "/metrics", timeout=10).status_code == 200
        assert requests.get(s.url + "/api/v3/configure/token", timeout=10).status_code == 401
    finally:
        s.kill9()


def test_without_auth_disables_the_token_endpoints(tmp_path):
    s = Server(tmp_path, ["--without-auth"]).start()
    try:
        r = requests.post(s.url + "/api/v3/configure/token/admin", timeout=10)
        assert r.status_code == 405 and "started without auth" in r.json()["error"]
        assert write_lp(s, "db", "m v=1").status_code == 204
        bad = s.cli("create", "token", "--admin", check=False)
        assert bad.returncode != 0 and "without auth" in bad.stderr
    finally:
        s.kill9()


def test_bad_serve_authz_value_is_rejected(tmp_path):
    s = Server(tmp_path, ["--disable-authz", "everything"])
    try:
        s.start()
        raise AssertionError("the server started with an invalid --disable-authz")
    except AssertionError as e:
        assert "everything" in str(e) or "exited with 2" in str(e), e
    finally:
        s.kill9()
