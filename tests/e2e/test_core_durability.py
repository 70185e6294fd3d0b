"""Acknowledged writes survive restarts, kill -9 and damaged WAL files; so does the catalog."""
import subprocess
import time

import requests

from conftest import BINARY, free_port, object_keys, query_rows, read_object, write_lp, write_object


def count(server, db, table):
    return query_rows(server, db, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_restart_keeps_data_and_schema(fresh_server):
    s = fresh_server.start()
    assert write_lp(s, "db", "m,host=a v=1i 1\nm,host=b v=2i 2", precision="s").status_code == 204
    assert requests.post(s.url + "/api/v3/configure/database", json={"db": "empty"}).status_code == 200
    s.restart()
    assert query_rows(s, "db", "SELECT host, v FROM m ORDER BY host") == [{"host": "a", "v": 1}, {"host": "b", "v": 2}]
    r = write_lp(s, "db", "m,host=c v=1.5")
    assert r.status_code == 400 and "expected int64" in r.text
    assert "empty" in s.cli("show", "databases").stdout
    wal_files = object_keys(s, "node0/wal/")
    assert wal_files and all(f.endswith(".wal") for f in wal_files)


def test_kill9_loses_no_acknowledged_write(fresh_server):
    s = fresh_server.start()
    acknowledged = 0
    for batch in range(20):
        body = "\n".join(f"k,batch=b{batch} v={i} {batch * 1000 + i}" for i in range(50))
        assert write_lp(s, "db", body, precision="s").status_code == 204
        acknowledged += 50
    s.kill9()
    s.start()
    assert count(s, "db", "k") == acknowledged
    # And again, with writes racing the kill.
    assert write_lp(s, "db", "k,batch=last v=1 999999").status_code == 204
    s.kill9()
    s.start()
    assert count(s, "db", "k") == acknowledged + 1


def test_a_truncated_wal_file_is_skipped_and_the_rest_kept(fresh_server):
    s = fresh_server.start()
    assert write_lp(s, "db", "w v=1 1", precision="s").status_code == 204
    assert write_lp(s, "db", "w v=2 2", precision="s").status_code == 204
    assert write_lp(s, "db", "w v=3 3", precision="s").status_code == 204
    s.stop()
    files = object_keys(s, "node0/wal/")
    assert len(files) == 3
    middle = read_object(s, files[1])
    write_object(s, files[1], middle[: len(middle) // 2])
    s.start()
    assert query_rows(s, "db", "SELECT v FROM w ORDER BY time") == [{"v": 1.0}, {"v": 3.0}]
    assert "skipping WAL file" in s.log()
    # New writes do not reuse the damaged file's sequence number.
    assert write_lp(s, "db", "w v=4 4", precision="s").status_code == 204
    s.restart()
    assert count(s, "db", "w") == 3


def test_memory_object_store_serves():
    port = free_port()
    proc = subprocess.Popen([BINARY, "serve", "--node-id", "n", "--object-store", "memory",
                             "--http-bind", f"127.0.0.1:{port}", "--wal-flush-interval", "50ms"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if requests.get(url + "/health", timeout=0.5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        assert requests.post(url + "/api/v3/write_lp", params={"db": "m"}, data=b"t v=1").status_code == 204
        r = requests.post(url + "/api/v3/query_sql", json={"db": "m", "q": "SELECT v FROM t"})
        assert r.json() == [{"v": 1.0}]
    finally:
        proc.kill()
        proc.wait()
