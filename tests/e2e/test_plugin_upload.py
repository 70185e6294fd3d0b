"""Issue 15 (item 7): plugin files over the API, as InfluxDB 3.6+ serves them. `create trigger
--upload` sends a local file or directory (POST /api/v3/plugins/files), `update trigger` replaces
a trigger's code without recreating it (PUT /api/v3/plugins/files, PUT /api/v3/plugins/directory),
and system.plugin_files lists what is installed. Paths never leave the plugin directory."""
import json
import os
import subprocess
import textwrap

import requests

from conftest import BINARY, create_trigger, query_rows, trigger_logs, unique_db, wait_for, write_lp


def local_file(tmp_path, name, code):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def request_plugin(answer):
    return f"""
        def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
            return {{"answer": "{answer}"}}
    """


def engine(server, path):
    r = requests.get(server.url + f"/api/v3/engine/{path}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["answer"]


def test_upload_a_file_then_update_it_in_place(server, tmp_path):
    db = unique_db("upload")
    server.cli("create", "database", db)
    src = local_file(tmp_path / "client", "uploaded_plugin.py", request_plugin("first"))
    # The client's file is not in the server's plugin dir until --upload sends it.
    assert not (server.plugin_dir / "uploaded_plugin.py").exists()
    server.cli("create", "trigger", "-d", db, "--trigger-spec", f"request:up_{db}", "--path", str(src), "--upload",
               f"up_{db}")
    assert (server.plugin_dir / "uploaded_plugin.py").read_text() == src.read_text()
    assert engine(server, f"up_{db}") == "first"
    src.write_text(textwrap.dedent(request_plugin("second")))
    out = server.cli("update", "trigger", "-d", db, "--trigger-name", f"up_{db}", "--path", str(src)).stdout
    assert f"Trigger 'up_{db}' updated successfully" in out
    assert engine(server, f"up_{db}") == "second"  # same trigger, new code, no restart
    files = query_rows(server, "_internal", "SELECT plugin_name, file_name, size_bytes FROM system.plugin_files")
    assert {"plugin_name": f"up_{db}", "file_name": "uploaded_plugin.py",
            "size_bytes": len(src.read_bytes())} in files


def test_upload_and_replace_a_directory_plugin(server, tmp_path):
    db = unique_db("upload")
    server.cli("create", "database", db)
    pkg = tmp_path / "client" / "multi_plugin"
    local_file(pkg, "__init__.py", """
        from .helper import answer
        def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
            return {"answer": answer()}
    """)
    local_file(pkg, "helper.py", 'def answer():\n    return "v1"\n')
    local_file(pkg / "__pycache__", "junk.py", "raise RuntimeError('never uploaded')\n")
    server.cli("create", "trigger", "-d", db, "--trigger-spec", f"request:dir_{db}", "--path", str(pkg), "--upload",
               f"dir_{db}")
    assert sorted(p.name for p in (server.plugin_dir / "multi_plugin").iterdir()) == ["__init__.py", "helper.py"]
    assert engine(server, f"dir_{db}") == "v1"
    # A new version of the package: the helper changes, a module is added; swapped whole.
    local_file(pkg, "helper.py", 'from .extra import value\ndef answer():\n    return value\n')
    local_file(pkg, "extra.py", 'value = "v2"\n')
    out = server.cli("update", "trigger", "-d", db, "-t", f"dir_{db}", "-p", str(pkg)).stdout
    assert "atomic directory replacement" in out
    assert engine(server, f"dir_{db}") == "v2"  # the package is imported afresh
    names = {r["file_name"] for r in query_rows(
        server, "_internal", "SELECT file_name FROM system.plugin_files WHERE plugin_name = $t", params={"t": f"dir_{db}"})}
    assert names == {"multi_plugin/__init__.py", "multi_plugin/helper.py", "multi_plugin/extra.py"}


def test_the_api_refuses_what_it_should(server, tmp_path):
    url = server.url + "/api/v3/plugins/files"
    for name in ("../escape.py", "/etc/evil.py", "a/../../escape.py", ""):
        r = requests.post(url, json={"plugin_name": name, "content": "x = 1"}, timeout=10)
        assert r.status_code == 400 and "error" in r.json(), (name, r.text)
    assert not (server.plugin_dir.parent / "escape.py").exists()
    r = requests.post(url, json={"plugin_name": "ok.py"}, timeout=10)
    assert r.status_code == 400 and "content" in r.json()["error"]
    r = requests.put(url, json={"plugin_name": "no_such_trigger", "content": "x = 1"}, timeout=10)
    assert r.status_code == 404 and "no_such_trigger" in r.json()["error"]
    r = requests.put(server.url + "/api/v3/plugins/directory",
                     json={"plugin_name": "no_such_trigger", "files": [{"relative_path": "helper.py", "content": ""}]},
                     timeout=10)
    assert r.status_code == 400 and "__init__.py" in r.json()["error"]
    # The CLI names a missing local path.
    r = server.cli("create", "trigger", "-d", "x", "--trigger-spec", "request:nope", "--path", str(tmp_path / "nope.py"),
                   "--upload", "nope", check=False)
    assert r.returncode != 0 and "File not found" in r.stderr


def test_uploads_need_a_token_once_auth_is_on(fresh_server, tmp_path):
    s = fresh_server.start()
    out = s.cli("create", "token", "--admin").stdout
    token = next(line.split("Token: ", 1)[1] for line in out.splitlines() if line.startswith("Token: "))
    body = {"plugin_name": "secret.py", "content": "x = 1"}
    assert requests.post(s.url + "/api/v3/plugins/files", json=body, timeout=10).status_code == 401
    assert not (s.plugin_dir / "secret.py").exists()
    r = requests.post(s.url + "/api/v3/plugins/files", json=body, headers={"Authorization": f"Bearer {token}"},
                      timeout=10)
    assert r.status_code == 200 and (s.plugin_dir / "secret.py").read_text() == "x = 1"
