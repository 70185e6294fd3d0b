"""Riffle next to its peers in one run: Debian 12's influxdb (1.6.7) and victoria-metrics (1.79),
each started here as a child process on a free port with a temp data dir (never the packages'
services), one server at a time, on the same TSBS cpu-only rows. Prints one markdown table.

    bench/peers.sh [--rows 1000000] [--seq-rows 200000] [--latency-writes 50] [--runs 15]
    RIFFLE_BIN=/path/to/influxdb3 python3 bench/peers.py ...     (default build/influxdb3)

Per server:
  1. ingest: wrk -t2 -c8 POSTs the --rows rows as 5,000-line batches, each batch exactly once
     (bench/peers_wrk.lua): lines/s from the first write to the last acknowledgement, peak RSS
     (VmHWM); then a count check. All three servers.
  2. queries (Riffle, influxdb): TSBS cpu-only queries on those rows, TSBS's InfluxQL on influxdb,
     an equivalent SQL and the same InfluxQL on Riffle; median of --runs after one warm-up, and
     the server's CPU time per run (the sum of its threads' /proc/PID/task/*/schedstat).
  3. write latency (Riffle, influxdb): one 1-line write to the idle server, --latency-writes
     times, 50 ms apart (another database): p50, p90.
  4. sequential (Riffle, influxdb): one client (requests.Session) POSTs --seq-rows rows as
     10,000-line batches one after another (another database): lines/s.
Every point is distinct. Riffle runs with its defaults (sync writes: acknowledged once the WAL
is durable, WAL flushed every 1 s); influxdb 1.x fsyncs its WAL per write; VictoriaMetrics
acknowledges writes before they are on disk.
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from common import REPO, cpu_seconds, free_port, influxdb_config, peak_rss_mb
from ingest import FIELDS, make_batches

S = 1_000_000_000
START_NS = 1_451_606_400 * S  # 2016-01-01T00:00:00Z; make_batches puts round k at START_NS + k * 10 s
LUA = Path(__file__).resolve().with_name("peers_wrk.lua")
SYSTEMS = ("riffle", "influxdb", "vm")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Server:
    """A server process on a free port with its own temp dir; stop() ends it and removes the dir."""
    live = []

    def __init__(self, name, ready_path, write_path, filler_path, filler_status=200):
        self.name, self.ready_path = name, ready_path
        self.write_path, self.filler_path, self.filler_status = write_path, filler_path, filler_status
        self.dir = Path(tempfile.mkdtemp(prefix=f"peers-{name}-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        Server.live.append(self)

    def launch(self, args, timeout=120):
        log_path = self.dir / "server.log"
        with open(log_path, "ab") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            try:
                if requests.get(self.url + self.ready_path, timeout=1).status_code in (200, 204):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        why = (f"exited with status {self.proc.returncode}" if self.proc.poll() is not None
               else f"no answer on {self.ready_path} within {timeout} s")
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise SystemExit(f"error: {self.name} could not start ({why}).\n  command: {' '.join(map(str, args))}\n"
                         f"  last lines of its log:\n{tail}")

    def write(self, db):
        return self.write_path.format(db=db)

    def rss_mb(self):
        return peak_rss_mb(self.proc.pid)

    def cpu_s(self):
        return cpu_seconds(self.proc.pid)

    def settle(self, timeout=30):
        """Waits until the server uses under 5% of a core for 0.5 s (background work such as
        compaction after the load has finished), at most `timeout` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            before = self.cpu_s()
            time.sleep(0.5)
            if self.cpu_s() - before < 0.025:
                return

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in Server.live:
            Server.live.remove(self)


def start_riffle(binary):
    s = Server("riffle", "/health", "/api/v3/write_lp?db={db}&precision=ns", "/health")
    return s.launch([binary, "serve", "--node-id", "bench", "--object-store", "file", "--data-dir", str(s.dir / "data"),
                     "--http-bind", f"127.0.0.1:{s.port}", "--without-auth"])


def start_influxdb(binary):
    # /ping answers 204 like a write, so the filler is a cheap query answering 200.
    s = Server("influxdb", "/ping", "/write?db={db}&precision=ns", "/query?q=SHOW%20DATABASES")
    conf = s.dir / "influxdb.conf"
    conf.write_text(influxdb_config(s.dir, s.port))
    s.launch([binary, "-config", str(conf)])
    for db in ("bench", "seq", "lat"):
        r = requests.post(s.url + "/query", data={"q": f"CREATE DATABASE {db}"}, timeout=30)
        if r.status_code != 200 or "error" in r.text:
            raise SystemExit(f"error: influxdb: CREATE DATABASE {db}: HTTP {r.status_code} {r.text[:200]}")
    return s


def start_vm(binary):
    s = Server("vm", "/health", "/write?db={db}", "/health")
    # The rows start in 2016: outside the default one-month retention VictoriaMetrics would drop them.
    return s.launch([binary, f"-storageDataPath={s.dir / 'data'}", f"-httpListenAddr=127.0.0.1:{s.port}",
                     "-retentionPeriod=100y"])


# ---------------------------------------------------------------------------------------------
# ingest, sequential writes, latency


def wrk_ingest(server, batch_dir, nbatches, threads, connections, timeout_s):
    """Every batch file POSTed once by wrk; returns seconds from the first write to the last ack."""
    for f in batch_dir.glob("done-*"):
        f.unlink()
    url = server.url + "/"
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{timeout_s}s", "--timeout", "30s", "-s", str(LUA), url, "--",
           str(batch_dir), str(nbatches), str(threads), server.write("bench"), server.filler_path,
           str(server.filler_status)]
    out_path = batch_dir / "wrk.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        while proc.poll() is None:
            if len(list(batch_dir.glob("done-*"))) == threads:
                time.sleep(0.05)  # the last done file may still be being written
                proc.send_signal(signal.SIGINT)
                break
            if server.proc.poll() is not None:
                raise SystemExit(f"error: {server.name} exited during the ingest (status {server.proc.returncode})")
            time.sleep(0.02)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = [f.read_text().split(" ", 4) for f in sorted(batch_dir.glob("done-*"))]
    if len(done) < threads:
        raise SystemExit(f"error: {server.name}: wrk ended before every batch was acknowledged "
                         f"(timeout {timeout_s} s):\n{out_path.read_text()[-1500:]}")
    writes = sum(int(d[2]) for d in done)
    failed = sum(int(d[3]) for d in done)
    if writes != nbatches:
        raise SystemExit(f"error: {server.name}: {writes} writes acknowledged, expected {nbatches}")
    if failed:
        first = next(d[4].strip() for d in done if int(d[3]))
        raise SystemExit(f"error: {server.name}: {failed} of {nbatches} batches failed, e.g. HTTP {first}")
    starts = [int(d[0]) for d in done if int(d[0])]
    return (max(int(d[1]) for d in done) - min(starts)) / S


def sequential(server, db, batches):
    with requests.Session() as sess:
        t = time.perf_counter()
        for body in batches:
            r = sess.post(server.url + server.write(db), data=body, headers={"Content-Type": "text/plain"}, timeout=300)
            if r.status_code // 100 != 2:
                raise SystemExit(f"error: {server.name}: sequential write HTTP {r.status_code}: {r.text[:200]}")
        return time.perf_counter() - t


def latency(server, path, lines):
    """lines[0] is a warm-up (creates the database and table); the rest are timed, 50 ms apart."""
    times = []
    with requests.Session() as sess:
        for i, line in enumerate(lines):
            t = time.perf_counter()
            r = sess.post(server.url + path, data=line, headers={"Content-Type": "text/plain"}, timeout=60)
            elapsed = (time.perf_counter() - t) * 1000
            if r.status_code // 100 != 2:
                raise SystemExit(f"error: {server.name}: 1-line write HTTP {r.status_code}: {r.text[:200]}")
            if i:
                times.append(elapsed)
            time.sleep(0.05)
    return statistics.median(times), statistics.quantiles(times, n=10, method="inclusive")[8]


def count_rows(server, rows):
    """The rows each server holds after the load (a warning when short)."""
    if server.name == "riffle":
        n = riffle_sql(server, "query_sql", "SELECT count(*) AS n FROM cpu")[1][0]["n"]
    elif server.name == "influxdb":
        series = influx_ql(server, "SELECT count(usage_user) FROM cpu")[1]
        n = series[0]["values"][0][1] if series else 0
    else:
        # VictoriaMetrics stores one sample per field; force_flush makes buffered rows searchable.
        deadline = time.time() + 20
        while True:
            requests.get(server.url + "/internal/force_flush", timeout=30)
            text = requests.get(server.url + "/metrics", timeout=30).text
            m = re.search(r"^vm_rows_added_to_storage_total (\d+)", text, re.M)
            n = int(m.group(1)) // len(FIELDS) if m else -1
            if n >= rows or time.time() > deadline:
                break
            time.sleep(0.5)
    return n


# ---------------------------------------------------------------------------------------------
# queries


class QueryError(Exception):
    pass


def riffle_sql(server, endpoint, q, sess=requests):
    t = time.perf_counter()
    r = sess.post(f"{server.url}/api/v3/{endpoint}", json={"db": "bench", "q": q, "format": "json"}, timeout=600)
    elapsed = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise QueryError(f"HTTP {r.status_code}: {r.text[:300]}")
    return elapsed, r.json()


def influx_ql(server, q, sess=requests):
    t = time.perf_counter()
    r = sess.get(f"{server.url}/query", params={"db": "bench", "q": q}, timeout=600)
    elapsed = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise QueryError(f"HTTP {r.status_code}: {r.text[:300]}")
    result = r.json()["results"][0]
    if "error" in result:
        raise QueryError(result["error"])
    return elapsed, result.get("series", [])


def iso(ns):
    return datetime.fromtimestamp(ns // S, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_queries(hosts, rows, seed, hour_buckets):
    """TSBS cpu-only queries: (name, InfluxQL as TSBS's influx generator writes it, equivalent SQL).
    Random hosts and minute-aligned windows inside the data (seeded: the same for every server)."""
    rnd = random.Random(seed)
    notes = []
    minute = 60 * S
    lo = START_NS + minute  # the first whole minute holding every host's points
    hi = (START_NS + rows // hosts * 10 * S) // minute * minute

    def window(hours):
        d = hours * 3600 * S
        if hi - lo < d:
            notes.append(f"the data spans {(hi - lo) / 3600 / S:.1f} h, less than a {hours} h window: "
                         f"use more --rows or fewer --hosts")
            return lo, hi
        a = lo + rnd.randrange((hi - lo - d) // minute + 1) * minute
        return a, a + d

    def pick(n):
        return [f"host_{h}" for h in sorted(rnd.sample(range(hosts), min(n, hosts)))]

    def iql_hosts(hs):
        return "(" + " or ".join(f"hostname = '{h}'" for h in hs) + ")"

    def sql_hosts(hs):
        return "hostname IN (" + ", ".join(f"'{h}'" for h in hs) + ")"

    sql_bucket = {"1m": "1 minute", "1h": "1 hour"}

    def groupby_time(name, nhosts, nfields, hours, bucket, sep=", "):
        a, b = window(hours)
        hs = pick(nhosts)
        fields = FIELDS[:nfields]
        iql = (f"SELECT {sep.join(f'max({f})' for f in fields)} from cpu where {iql_hosts(hs)} "
               f"and time >= '{iso(a)}' and time < '{iso(b)}' group by time({bucket})")
        sql = (f"SELECT date_bin(INTERVAL '{sql_bucket[bucket]}', time) AS time, "
               f"{', '.join(f'max({f}) AS {f}' for f in fields)} FROM cpu WHERE {sql_hosts(hs)} "
               f"AND time >= '{iso(a)}' AND time < '{iso(b)}' GROUP BY 1 ORDER BY 1")
        return (f"{name} (by {bucket})", iql, sql)

    coarse = "1h" if hour_buckets else "1m"
    queries = [groupby_time("single-groupby-1-1-1", 1, 1, 1, "1m"),
               groupby_time("single-groupby-5-8-12", 8, 5, 12, coarse)]
    a, b = window(12)
    queries.append(("double-groupby-1",
                    f"SELECT mean(usage_user) from cpu where time >= '{iso(a)}' and time < '{iso(b)}' "
                    f"group by time(1h),hostname",
                    f"SELECT hostname, date_bin(INTERVAL '1 hour', time) AS time, avg(usage_user) AS mean FROM cpu "
                    f"WHERE time >= '{iso(a)}' AND time < '{iso(b)}' GROUP BY 1, 2 ORDER BY 1, 2"))
    queries.append(("lastpoint",
                    'SELECT * from cpu group by "hostname" order by time desc limit 1',
                    "SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC"))
    # Not a TSBS query: the last point of the hosts of one region, as a dashboard filtered by a
    # tag asks for it.
    queries.append(("lastpoint of one region",
                    "SELECT * from cpu where region = 'us-west-1' group by \"hostname\" order by time desc limit 1",
                    "SELECT DISTINCT ON (hostname) * FROM cpu WHERE region = 'us-west-1' "
                    "ORDER BY hostname, time DESC"))
    a, b = window(12)
    hs = pick(1)
    queries.append(("high-cpu-1",
                    f"SELECT * from cpu where usage_user > 90.0 and {iql_hosts(hs)} "
                    f"and time >= '{iso(a)}' and time < '{iso(b)}'",
                    f"SELECT * FROM cpu WHERE usage_user > 90.0 AND {sql_hosts(hs)} "
                    f"AND time >= '{iso(a)}' AND time < '{iso(b)}' ORDER BY time"))
    a, b = window(1)
    # TSBS's influx generator omits "order by time desc" and so returns the first 5 minutes of
    # the data; its SQL generators (ORDER BY minute DESC) return the last 5 before the end.
    queries.append(("groupby-orderby-limit",
                    f"SELECT max(usage_user) from cpu WHERE time < '{iso(b)}' group by time(1m) "
                    f"order by time desc limit 5",
                    f"SELECT date_bin(INTERVAL '1 minute', time) AS time, max(usage_user) AS max FROM cpu "
                    f"WHERE time < '{iso(b)}' GROUP BY 1 ORDER BY 1 DESC LIMIT 5"))
    queries.append(groupby_time("cpu-max-all-8", 8, 10, 8, coarse, sep=","))
    return queries, sorted(set(notes))


def time_query(run, runs, server):
    """Median ms of `runs` after one warm-up, the row count, and the server's CPU ms per run
    (all its threads, from /proc: steadier than the wall time on a shared VM); or None, the error
    and None."""
    try:
        rows = run()[1]
        cpu_before = server.cpu_s()
        times = [run()[0] for _ in range(runs)]
        cpu_ms = (server.cpu_s() - cpu_before) * 1000 / runs
        return statistics.median(times), rows, cpu_ms
    except (QueryError, requests.RequestException, ValueError) as e:
        return None, str(e), None


def run_queries(server, queries, runs, res, notes):
    with requests.Session() as sess:
        for name, iql, sql in queries:
            variants = ([("sql", lambda: count_result(riffle_sql(server, "query_sql", sql, sess))),
                         ("influxql", lambda: count_result(riffle_sql(server, "query_influxql", iql, sess)))]
                        if server.name == "riffle" else
                        [("influxql", lambda: count_result(influx_ql(server, iql, sess)))])
            for lang, run in variants:
                ms, rows, cpu_ms = time_query(run, runs, server)
                if ms is None:
                    notes.append(f"{server.name} {lang} {name} failed: {rows}")
                    rows = None
                res[(name, lang)] = ms
                res[(name, lang, "rows")] = rows
                res[(name, lang, "cpu")] = cpu_ms
                log(f"  {name} [{lang}]: {ms if ms is None else round(ms, 1)} ms, {rows} rows, "
                    f"server CPU {cpu_ms if cpu_ms is None else round(cpu_ms, 1)} ms per run")


def count_result(timed):
    elapsed, body = timed
    if body and isinstance(body[0], dict) and "values" in body[0]:  # influxdb series
        return elapsed, sum(len(s.get("values", [])) for s in body)
    return elapsed, len(body)


# ---------------------------------------------------------------------------------------------


def version_of(cmd, pattern, default):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        m = re.search(pattern, out)
        return m.group(1) if m else default
    except OSError:
        return default


def fmt(value, kind):
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "mb":
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def ratio(riffle, peers, kind):
    """> 1: Riffle better (more lines/s, or less time / memory) than the best peer."""
    got = [(v, n) for v, n in peers if v is not None]
    if riffle is None or not got:
        return "—"
    if kind == "rate":
        best, name = max(got)
        r = riffle / best
    else:
        best, name = min(got)
        r = best / riffle if riffle > 0 else float("inf")
    text = f"{r:.1f}" if r >= 10 else f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
    return text + (f" ({name})" if len(got) > 1 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows loaded by wrk and queried (default 1M)")
    ap.add_argument("--hosts", type=int, default=0,
                    help="hosts (series) of those rows; default rows/5000 between 8 and 100, so that the 10 s "
                         "points of each host span more than the 12 h windows of the queries")
    ap.add_argument("--seq-rows", type=int, default=200_000, help="rows of the sequential one-client test")
    ap.add_argument("--latency-writes", type=int, default=50)
    ap.add_argument("--runs", type=int, default=15, help="timed runs of each query (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t")
    ap.add_argument("--connections", type=int, default=8, help="wrk -c")
    ap.add_argument("--hour-buckets", action="store_true",
                    help="group single-groupby-5-8-12 and cpu-max-all-8 by 1 h (TSBS's InfluxQL groups both by 1m)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the queries' random hosts and windows")
    ap.add_argument("--only", default=",".join(SYSTEMS), help="comma list of riffle,influxdb,vm")
    args = ap.parse_args()

    riffle_bin = Path(os.environ.get("RIFFLE_BIN", "build/influxdb3"))
    if not riffle_bin.is_absolute():
        riffle_bin = REPO / riffle_bin
    binaries = {"riffle": str(riffle_bin), "influxdb": shutil.which("influxd"), "vm": shutil.which("victoria-metrics")}
    systems = [s for s in args.only.split(",") if s]
    missing = [n for n, b in binaries.items() if n in systems and (not b or not os.access(b, os.X_OK))]
    if not shutil.which("wrk"):
        missing.append("wrk")
    if missing:
        raise SystemExit(f"error: missing {', '.join(missing)} (Riffle: build it or set RIFFLE_BIN={riffle_bin}; "
                         f"the peers: bench/peers.sh installs them with apt-get)")
    if set(systems) - set(SYSTEMS):
        raise SystemExit(f"error: --only takes {','.join(SYSTEMS)}")

    influx_v = version_of(["influxd", "version"], r"v(\d+\.\d+\.\d+)", "1.x")
    vm_v = version_of(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"], r"^(\d+\.\d+)", "")
    names = {"riffle": "Riffle", "influxdb": f"influxdb {influx_v}", "vm": f"VictoriaMetrics {vm_v}".strip()}
    hosts = args.hosts or max(8, min(100, args.rows // 5000))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    work = Path(tempfile.mkdtemp(prefix="peers-batches-"))
    results = {s: {} for s in SYSTEMS}
    notes = []
    try:
        log(f"generating {args.rows:,} TSBS cpu rows ({hosts} hosts x {args.rows // hosts:,} points 10 s apart), "
            f"{args.seq_rows:,} more for the sequential test ...")
        nbatches = 0
        for i, body in enumerate(make_batches(args.rows, 5000, hosts=hosts)):
            (work / f"b{i:06d}.lp").write_bytes(body)
            nbatches += 1
        # The other tests write to their own databases, with other points (a year later).
        seq_batches = make_batches(args.seq_rows, 10_000, hosts=hosts, start_ns=START_NS + 366 * 86400 * S)
        lat_lines = make_batches(args.latency_writes + 1, 1, hosts=1, start_ns=START_NS + 2 * 366 * 86400 * S)
        queries, qnotes = build_queries(hosts, args.rows, args.seed, args.hour_buckets)
        notes += qnotes
        timeout_s = max(300, args.rows // 1000)

        for name in systems:
            log(f"{names[name]}: starting ...")
            server = {"riffle": start_riffle, "influxdb": start_influxdb, "vm": start_vm}[name](binaries[name])
            res = results[name]
            try:
                log(f"{names[name]}: ingest, wrk -t{args.threads} -c{args.connections}, {nbatches} batches ...")
                elapsed = wrk_ingest(server, work, nbatches, args.threads, args.connections, timeout_s)
                res["ingest"] = args.rows / elapsed
                res["rss_ingest"] = server.rss_mb()
                log(f"  {res['ingest']:,.0f} lines/s ({elapsed:.1f} s), peak RSS {res['rss_ingest']:.0f} MB")
                n = count_rows(server, args.rows)
                if n != args.rows:
                    notes.append(f"{names[name]} holds {n:,} rows after the ingest, expected {args.rows:,}")
                if name == "vm":
                    continue
                server.settle()
                log(f"{names[name]}: queries ...")
                run_queries(server, queries, args.runs, res, notes)
                server.settle()
                log(f"{names[name]}: write latency ...")
                res["lat"] = latency(server, server.write("lat"), lat_lines)
                if name == "riffle":
                    res["lat_nosync"] = latency(server, server.write("lat_nosync") + "&no_sync=true", lat_lines)
                log(f"  p50/p90 {res['lat']}, no_sync {res.get('lat_nosync')}")
                log(f"{names[name]}: sequential writes ...")
                res["seq"] = args.seq_rows / sequential(server, "seq", seq_batches)
                log(f"  {res['seq']:,.0f} lines/s")
            finally:
                res["rss_end"] = server.rss_mb()
                server.stop()
    finally:
        for server in list(Server.live):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    # row counts must agree across servers and languages
    for qname, _, _ in queries:
        counts = {f"{names[s]} {lang}": results[s].get((qname, lang, "rows"))
                  for s in ("riffle", "influxdb") if s in systems for lang in ("sql", "influxql")
                  if (qname, lang) in results[s]}
        if len({c for c in counts.values() if c is not None}) > 1:
            notes.append(f"WARNING: {qname}: row counts differ: "
                         + ", ".join(f"{k} {v}" for k, v in counts.items()))

    R, I, V = (results[s] for s in SYSTEMS)
    rows = [(f"ingest, wrk -t{args.threads} -c{args.connections}, 5,000-line batches, lines/s", "rate",
             R.get("ingest"), I.get("ingest"), V.get("ingest")),
            ("peak RSS after the ingest, MB", "mb", R.get("rss_ingest"), I.get("rss_ingest"), V.get("rss_ingest")),
            ("sequential, 1 client, 10,000-line batches, lines/s", "rate", R.get("seq"), I.get("seq"), None)]
    for i, p in ((0, "p50"), (1, "p90")):
        rows.append((f"write latency, 1 line, idle server, {p} ms", "ms",
                     R["lat"][i] if "lat" in R else None, I["lat"][i] if "lat" in I else None, None))
    for i, p in ((0, "p50"), (1, "p90")):
        rows.append((f"write latency, Riffle `no_sync=true` (not durable at the ack), {p} ms", "info",
                     R["lat_nosync"][i] if "lat_nosync" in R else None, None, None))
    for qname, _, _ in queries:
        qrows = next((r[(qname, lang, "rows")] for r in (I, R) for lang in ("influxql", "sql")
                      if r.get((qname, lang, "rows")) is not None), None)
        label = f"{qname}, {qrows} rows" if qrows is not None else qname
        rows.append((f"{label}: Riffle SQL, ms", "ms", R.get((qname, "sql")), I.get((qname, "influxql")), None))
        rows.append((f"{label}: Riffle InfluxQL, ms", "ms", R.get((qname, "influxql")), I.get((qname, "influxql")),
                     None))
        rows.append((f"{label}: server CPU per query (Riffle SQL), ms", "ms", R.get((qname, "sql", "cpu")),
                     I.get((qname, "influxql", "cpu")), None))
    rows.append(("peak RSS over the whole run, MB", "mb", R.get("rss_end"), I.get("rss_end"), V.get("rss_end")))

    print(f"Riffle {riffle_bin} vs {names['influxdb']} (influxd) and {names['vm']} (victoria-metrics), one server at "
          f"a time, {os.cpu_count()} cores.")
    print(f"Data: {args.rows:,} TSBS cpu-only rows ({hosts} hosts x {args.rows // hosts:,} points, 10 s apart, "
          f"10 tags, 10 float fields, every point distinct). Ingest: wrk, Lua script bench/peers_wrk.lua, each "
          f"pre-generated 5,000-line batch POSTed exactly once over {args.connections} connections "
          f"(lines/s from the first write to the last acknowledgement). Sequential: Python requests.Session, "
          f"{args.seq_rows:,} other rows. Latency: {args.latency_writes} 1-line writes, 50 ms apart. Queries: median "
          f"of {args.runs} after one warm-up, HTTP round trip with the JSON body, and the server process's CPU time per run (all threads; a query run on two threads counts both); influxdb runs TSBS's InfluxQL, "
          f"Riffle an equivalent SQL (query_sql) and the same InfluxQL (query_influxql).")
    print("Riffle: default flags (sync writes: acknowledged once its WAL flush is durable; an idle server flushes at once); "
          "influxdb: WAL fsync per write; VictoriaMetrics: acknowledged before it is on disk.")
    for n in notes:
        print(n)
    print()
    print(f"| what | Riffle | {names['influxdb']} | {names['vm']} | Riffle ÷ best peer |")
    print("|---|---:|---:|---:|---:|")
    for label, kind, r, i, v in rows:
        peers = [(i, "influxdb"), (v, "VM")]
        print(f"| {label} | {fmt(r, kind)} | {fmt(i, kind)} | {fmt(v, kind)} | "
              f"{'—' if kind == 'info' else ratio(r, peers, kind)} |")
    print("\nRatio: > 1 means Riffle is better: Riffle's lines/s ÷ the best peer's; for times and memory the best "
          "(lowest) peer's ms or MB ÷ Riffle's, so > 1 means Riffle is faster or smaller.")


if __name__ == "__main__":
    main()
