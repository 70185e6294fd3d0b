"""One compactor for a cluster (InfluxDB 3 Enterprise's `--mode compact`): the compact node merges
the Parquet files of every ingest node, writing the merged file under {cluster}/compacted/{node}/
and a record under {cluster}/compactions/{node}/; the ingest node that owns the files adopts it
into its own manifest (so each manifest keeps one writer) and deletes the inputs. Of several
compact nodes, the one with the smallest node id whose heartbeat is recent compacts; the others
stand by and take over when it stops.

Real `influxdb3 serve` processes over one s3rver bucket or one shared file-store directory."""
import time

import pytest

from conftest import unique_db, wait_for
from test_cluster import CLUSTER, WAIT, cluster, store  # noqa: F401 (fixtures)

# Snapshots after every WAL file or two, in 1-minute files: a few writes make several files.
INGEST = ["--wal-snapshot-size", "1", "--snapshotted-wal-files-to-keep", "0", "--gen1-duration", "1m"]
COMPACT = ["--compaction-min-files", "3", "--compaction-check-interval", "200ms"]
OLD_NS = 1_700_000_000 * 10**9  # 2023-11-14: a long-closed day


def old_lines(table, start, n, host="h"):
    """n rows one minute apart on a closed day, each batch in its own minutes."""
    return "\n".join(f"{table},host={host} v={i}i {OLD_NS + i * 60 * 10**9}" for i in range(start, start + n))


def write_in_snapshots(node, db, table, batches, per_batch=3, host="h"):
    """`batches` acknowledged writes, each in its own WAL file (and so its own snapshot)."""
    for b in range(batches):
        r = node.write(db, old_lines(table, b * per_batch, per_batch, host))
        assert r.status_code == 204, r.text
        time.sleep(0.3)  # > the 100 ms flush interval: one WAL file per write
    return batches * per_batch


def files_of(node, db):
    return node.rows(db, "SELECT table_name, path, row_count FROM system.parquet_files ORDER BY path")


def compacted(node, db):
    return [f for f in files_of(node, db) if f"{CLUSTER}/compacted/{node.node_id}/" in f["path"]]


def test_one_compact_node_merges_every_ingest_nodes_files(cluster, store):
    ing1 = cluster(store, "ing1", "ingest", INGEST)
    ing2 = cluster(store, "ing2", "ingest", INGEST)
    comp = cluster(store, "comp", "compact", COMPACT)
    q = cluster(store, "q1", "query")
    db = unique_db("compact")
    n1 = write_in_snapshots(ing1, db, "m", 5)
    n2 = write_in_snapshots(ing2, db, "m", 5, host="h2")  # other series than ing1's
    before = sorted((r["host"], r["v"]) for r in ing1.rows(db, "SELECT host, v FROM m"))
    # Each ingest node adopts a merge of its own files: the file the compactor wrote is now in
    # its manifest, and the inputs are gone from its list and from the store.
    for node, n in ((ing1, n1), (ing2, n2)):
        merged = wait_for(lambda: compacted(node, db), timeout=WAIT)
        assert merged, (files_of(node, db), comp.log()[-3000:], node.log()[-3000:])
        assert node.count(db, "m") == n
    assert sorted((r["host"], r["v"]) for r in ing1.rows(db, "SELECT host, v FROM m")) == before
    assert "compactor: merged" in comp.log()
    assert "compaction: merged" in ing1.log() and "compaction: merged" in ing2.log()
    # Only the compact node merges: the ingest nodes adopt, they never plan a merge themselves.
    assert "compactor:" not in ing1.log() and "compactor:" not in ing2.log()
    # Records are deleted once adopted.
    assert wait_for(lambda: not store.keys(f"{CLUSTER}/compactions/"), timeout=WAIT), store.keys(f"{CLUSTER}/compactions/")
    # The query node follows the adopted manifests: every row once.
    assert wait_for(lambda: q.count(db, "m") == n1 + n2, timeout=WAIT), q.count(db, "m")
    # Every Parquet object in the store is listed by its node's manifest, or was: inputs a merge
    # replaced stay for a grace period (query nodes may still read them), then go.
    listed = {f["path"] for node in (ing1, ing2) for f in files_of(node, db)}
    parquet = [k for k in store.keys() if k.endswith(".parquet")]
    assert set(parquet) >= listed
    prefixes = ("ing1/dbs/", "ing2/dbs/", f"{CLUSTER}/compacted/ing1/", f"{CLUSTER}/compacted/ing2/")
    assert all(k.startswith(prefixes) for k in parquet), parquet
    # A restarted ingest node loads the adopted manifest.
    ing1.kill9()
    ing1.start()
    assert ing1.count(db, "m") == n1
    assert compacted(ing1, db)


def test_only_one_of_two_compact_nodes_compacts_and_the_other_takes_over(cluster, store):
    ing = cluster(store, "ing1", "ingest", INGEST)
    a = cluster(store, "comp-a", "compact", COMPACT)
    b = cluster(store, "comp-b", "compact", COMPACT)
    assert wait_for(lambda: "this node compacts" in a.log(), timeout=WAIT), a.log()[-2000:]
    assert wait_for(lambda: "standing by; node comp-a compacts" in b.log(), timeout=WAIT), b.log()[-2000:]
    db = unique_db("standby")
    n = write_in_snapshots(ing, db, "m", 4)
    assert wait_for(lambda: compacted(ing, db), timeout=WAIT), files_of(ing, db)
    assert "compactor: merged" in a.log() and "compactor: merged" not in b.log()
    # The active compactor stops: once its heartbeat is stale, the other one compacts.
    a.kill9()
    m = write_in_snapshots(ing, db, "m2", 4)
    assert wait_for(lambda: "this node compacts" in b.log(), timeout=60), b.log()[-2000:]
    assert wait_for(lambda: [f for f in compacted(ing, db) if f["table_name"] == "m2"], timeout=WAIT), \
        (files_of(ing, db), b.log()[-3000:])
    assert "compactor: merged" in b.log()
    assert ing.count(db, "m") == n and ing.count(db, "m2") == m
