"""Backup and restore (issue 19, item 2): `influxdb3 create backup` (full or incremental),
`show backups`, `delete backup` and `create restore`, as InfluxDB 3 Enterprise spells them. A
backup is consistent while writes go on; restoring it into an empty data dir gives exactly the
acknowledged rows up to the backup point, compared row by row."""
import shutil
import subprocess
import time

import requests

from conftest import BINARY, Server, TimedWriters, query_rows, wait_for, write_lp

NOW_NS = 1_700_000_000 * 10**9


def restore(s, name, target, check=True):
    """Restores backup `name` of server `s` into the data dir of a Server(target)."""
    out = subprocess.run([BINARY, "create", "restore", "--backup", name, "--from-data-dir", str(s.data_dir),
                          "--data-dir", str(target / "data"), "--node-id", "node0"],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert not check or out.returncode == 0, out.stderr
    return out


def rows_of(s):
    return {r["n"] for r in query_rows(s, "db", "SELECT n FROM cpu")}


def test_a_backup_taken_during_writes_restores_exactly_the_acknowledged_rows(tmp_path):
    # No compaction: files the full backup holds stay listed, so the incremental one can skip them.
    s = Server(tmp_path / "live", ["--force-snapshot-rows", "50", "--snapshotted-wal-files-to-keep", "0",
                                   "--compaction-min-files", "100000"]).start()
    restored = []
    try:
        writers = TimedWriters(s, "db", lambda n: f"cpu,host=h{n % 5},w=w{n // 1_000_000} n={n}i {NOW_NS + n}")
        assert wait_for(lambda: writers.acked, timeout=30)
        assert wait_for(lambda: query_rows(s, "db", "SELECT count(*) AS c FROM system.parquet_files")[0]["c"] > 0,
                        timeout=30)
        points = {}
        for name, extra in (("base", []), ("inc-1", ["--incremental", "--parent", "base"])):
            asked = time.monotonic()
            out = s.cli("create", "backup", "--name", name, *extra)
            points[name] = (asked, time.monotonic())
            assert f'Backup "{name}" completed' in out.stdout, out.stdout
            time.sleep(0.8)
        writers.stop()
        assert "snapshot:" in s.log()
        listed = requests.get(s.url + "/api/v3/enterprise/backup", timeout=10).json()
        assert [b["backup_name"] for b in listed] == ["base", "inc-1"]
        inc = listed[1]
        assert inc["type"] == "incremental" and inc["parent"] == "base"
        assert inc["copied_bytes"] < inc["bytes"], inc  # the parent's Parquet files are not copied again
        for name, (asked, answered) in points.items():
            target = tmp_path / f"restored-{name}"
            out = restore(s, name, target)
            assert "Restored backup" in out.stdout
            r = Server(target).start()
            restored.append(r)
            got = rows_of(r)
            before, after = writers.acked_before(asked), writers.sent_after(answered)
            assert before <= got, sorted(before - got)[:10]
            assert not (got & after), sorted(got & after)[:10]
            assert got <= set(writers.acked)
            # What the restored server holds is the live server's rows up to its newest one per writer.
            for k in range(2):
                mine = sorted(n for n in got if n // 1_000_000 == k)
                assert mine == list(range(k * 1_000_000, k * 1_000_000 + len(mine))), (name, k)
            # It takes writes and restarts as any server.
            assert write_lp(r, "db", f"cpu,host=new n=-1i {NOW_NS}").status_code == 204
            r.kill9()
            r.start()
            assert rows_of(r) == got | {-1}
        # The live server is unaffected.
        assert rows_of(s) == set(writers.acked)
    finally:
        for r in restored:
            r.kill9()
        s.kill9()


def test_backup_mistakes_are_refused_clearly(tmp_path):
    s = Server(tmp_path / "live").start()
    try:
        r = requests.post(s.url + "/api/v3/enterprise/backup", json={"backup_name": "b0", "type": "weekly"}, timeout=10)
        assert r.status_code == 400 and "expected full or incremental" in r.json()["error"], r.text
        assert write_lp(s, "db", f"cpu,host=a n=1i {NOW_NS}").status_code == 204
        s.cli("create", "backup", "--name", "b1")
        for args, says in ((["--name", "b1"], "exists"), (["--name", "bad/name"], "invalid backup name"),
                           (["--name", "x", "--incremental"], "--incremental and --parent"),
                           (["--name", "x", "--incremental", "--parent", "nope"], "no backup named 'nope'")):
            out = s.cli("create", "backup", *args, check=False)
            assert out.returncode != 0 and says in out.stderr, (args, out.stderr)
        s.cli("create", "backup", "--name", "b1", "--force")
        s.cli("create", "backup", "--name", "b2", "--incremental", "--parent", "b1")
        out = s.cli("delete", "backup", "--name", "b1", "-y", check=False)
        assert out.returncode != 0 and "parent of incremental backup 'b2'" in out.stderr
        # Restoring needs an empty target, and an existing backup.
        out = restore(s, "b2", s.data_dir.parent, check=False)
        assert out.returncode != 0 and "already holds data" in out.stderr, out.stderr
        out = restore(s, "zzz", tmp_path / "empty", check=False)
        assert out.returncode != 0 and "no backup named 'zzz'" in out.stderr
        r = requests.post(s.url + "/api/v3/enterprise/restore", json={"backup_name": "b2"}, timeout=10)
        assert r.status_code == 405 and "influxdb3 create restore" in r.json()["error"], r.text
        s.cli("delete", "backup", "--name", "b2", "-y")
        s.cli("delete", "backup", "--name", "b1", "-y")
        assert "no backups" in s.cli("show", "backups").stdout
        assert not list((s.data_dir / "node0" / "backups").rglob("*.json"))
    finally:
        s.kill9()


def test_a_backup_killed_halfway_is_not_listed_and_can_be_taken_again(tmp_path):
    s = Server(tmp_path / "live", ["--force-snapshot-rows", "5"], env={"RIFFLE_FAULT": "backup_mid_copy"}).start()
    try:
        body = "\n".join(f"cpu,host=h{i % 3} n={i}i {NOW_NS + i}" for i in range(20))
        assert write_lp(s, "db", body).status_code == 204
        out = s.cli("create", "backup", "--name", "b", check=False)
        assert out.returncode != 0
        assert wait_for(lambda: not s.alive(), timeout=10)
        s.env = {}
        s.start()
        assert rows_of(s) == set(range(20))
        assert "no backups" in s.cli("show", "backups").stdout
        s.cli("create", "backup", "--name", "b")
        target = tmp_path / "restored"
        restore(s, "b", target)
        r = Server(target).start()
        try:
            assert rows_of(r) == set(range(20))
        finally:
            r.kill9()
        # A restore interrupted before its catalog was written can simply be run again.
        again = tmp_path / "again"
        restore(s, "b", again)
        shutil.rmtree(again / "data" / "node0" / "catalog")
        restore(s, "b", again)
    finally:
        s.kill9()


def test_a_backup_in_a_bucket_restores_into_another_bucket(tmp_path):
    """On S3 the backup lives in the server's bucket; `create restore --object-store s3
    --from-bucket` copies it into an empty bucket of the same endpoint."""
    from conftest import new_bucket, session_s3_target
    s = Server(tmp_path / "live", ["--force-snapshot-rows", "10"], object_store="s3").start()
    target = None
    try:
        body = "\n".join(f"cpu,host=h{i % 3} n={i}i {NOW_NS + i}" for i in range(30))
        assert write_lp(s, "db", body).status_code == 204
        assert wait_for(lambda: query_rows(s, "db", "SELECT count(*) AS c FROM system.parquet_files")[0]["c"] > 0)
        assert write_lp(s, "db", f"cpu,host=wal n=99i {NOW_NS}").status_code == 204
        s.cli("create", "backup", "--name", "nightly")
        s3 = session_s3_target()
        bucket = new_bucket(s3.store)
        out = subprocess.run([BINARY, "create", "restore", "--backup", "nightly", "--node-id", "node0",
                              "--object-store", "s3", "--bucket", bucket, "--from-bucket", s.bucket,
                              "--aws-endpoint", s3.endpoint, "--aws-access-key-id", s3.access_key,
                              "--aws-secret-access-key", s3.secret_key, "--aws-default-region", s3.region,
                              "--aws-allow-http"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and f"into bucket {bucket}" in out.stdout, out.stderr
        target = Server(tmp_path / "restored", object_store="s3", s3=s3)
        target.bucket = bucket
        target.start()
        assert rows_of(target) == rows_of(s) == set(range(30)) | {99}
    finally:
        if target:
            target.kill9()
        s.kill9()
