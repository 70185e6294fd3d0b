"""Large-result benchmark: `SELECT * FROM cpu` over N TSBS cpu-only rows, read as a client that
streams the body (requests, stream=True, 1 MiB chunks, discarded). For each binary, row count and
format it prints time to first byte, total time, MB/s, rows/s and the server's RSS growth during
the response, so a build that streams its results (HTTP chunked transfer) can be compared with one
that renders the whole result in memory first.

    python3 bench/query_stream.py [--bin [LABEL=]PATH]... [--baseline-commit REV]
                                  [--rows 1000000,10000000] [--formats csv,json]

--bin may be repeated (default: build/influxdb3, labelled "current"). --baseline-commit REV builds
that git revision side by side (a detached worktree in build-baseline/src, built into
build-baseline/build) and adds it labelled "baseline"; comparisons are printed against it.

Each (row count, binary) gets a fresh server with bench/query.py's flags and a temporary data dir,
loaded with exactly N rows (no_sync, 20,000-line batches, 8 clients), checked with count(*) and
left to settle (snapshots, compaction) before the queries. The biggest row count runs last.

Measured per query:
  TTFB        from sending the request to the first body chunk received
  total       from sending the request to the end of the body
  MB, MB/s    body bytes received (identity encoding) and their rate over `total`
  rows/s      N / total
  RSS growth  the server's peak VmRSS during the request (sampled every 5 ms) minus its VmRSS
              just before it. The allocator may keep memory freed by the previous format's
              query, so the first format of a run is the cleanest figure; `RSS0` shows the
              starting point.
  rows        rows counted in the body (csv: lines - 1, json: objects, jsonl: lines); a mismatch
              with N is flagged.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

import common
from common import REPO, Riffle, run_concurrently
from ingest import make_batches

DB = "bench"
HOSTS = 1000
STEP_NS = 10_000_000_000  # make_batches: one round of HOSTS lines every 10 s
BASE_MAX = 1_000_000  # lines generated once and re-sent with shifted timestamps beyond that
MAX_BODY = 10 * 1024 * 1024  # the server's default --max-http-request-size
QUERY = "SELECT * FROM cpu"


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Binaries


def parse_bins(values):
    bins = []
    for v in values or [str(REPO / "build" / "influxdb3")]:
        label, sep, path = v.partition("=")
        if not sep or "/" in label:  # a bare path (which may itself contain '=')
            label, path = None, v
        p = Path(path).expanduser()
        if not p.is_absolute() and not p.exists() and (REPO / p).exists():
            p = REPO / p
        p = p.resolve()
        if label is None:
            label = "current" if p == (REPO / "build" / "influxdb3").resolve() else str(path)
        bins.append([label, p])
    return bins


def unique_labels(bins):
    seen = {}
    for b in bins:
        n = seen.get(b[0], 0)
        seen[b[0]] = n + 1
        if n:
            b[0] = f"{b[0]}#{n + 1}"
    return bins


def run(cmd, **kw):
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def git(*args, cwd=REPO):
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def build_baseline(rev):
    """Builds REV in a detached worktree (build-baseline/src) into build-baseline/build and
    returns the path of its influxdb3."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    root = REPO / "build-baseline"
    src, build = root / "src", root / "build"
    if src.exists():
        # `git -C src` would fall back to the enclosing repository if src were not a worktree.
        try:
            top = Path(git("rev-parse", "--show-toplevel", cwd=src)).resolve()
        except subprocess.CalledProcessError:
            top = None
        if top != src.resolve():
            sys.exit(f"{src} exists but is not a git worktree; remove it (git worktree remove / rm -r)")
        head = git("rev-parse", "HEAD", cwd=src)
        if head != commit:
            if git("status", "--porcelain", "--untracked-files=no", cwd=src):
                sys.exit(f"{src} is at {head[:12]} with local changes; cannot move it to {commit[:12]}")
            log(f"baseline worktree: {head[:12]} -> {commit[:12]}")
            run(["git", "-C", src, "checkout", "--quiet", "--detach", commit])
        else:
            log(f"baseline worktree: reusing {src} at {commit[:12]}")
    else:
        root.mkdir(exist_ok=True)
        run(["git", "-C", REPO, "worktree", "add", "--detach", src, commit])
    # DuckDB is fetched into the (untracked) third_party/ by scripts/setup.sh: share this checkout's.
    tp = src / "third_party"
    if not (tp / "duckdb").exists():
        if not (REPO / "third_party" / "duckdb").exists():
            sys.exit(f"{REPO / 'third_party' / 'duckdb'} is missing: run scripts/setup.sh (or make build) first")
        if tp.is_dir() and not tp.is_symlink():
            (tp / "duckdb").symlink_to(REPO / "third_party" / "duckdb", target_is_directory=True)
        else:
            if tp.is_symlink():
                tp.unlink()  # a dangling link
            tp.symlink_to(REPO / "third_party", target_is_directory=True)
    run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
        stdout=subprocess.DEVNULL)
    run(["cmake", "--build", build, "-j", "2", "--target", "influxdb3"])
    binary = build / "influxdb3"
    if not os.access(binary, os.X_OK):
        sys.exit(f"baseline build produced no {binary}")
    return binary


# ---------------------------------------------------------------------------------------------
# Data


class Data:
    """TSBS cpu-only rows (bench/ingest.py's generator): a base of up to 1M lines generated once,
    re-sent with timestamps shifted past the base for more rows, so every row is distinct."""

    def __init__(self, max_rows, batch_lines):
        base = -(-min(max_rows, BASE_MAX) // HOSTS) * HOSTS  # whole rounds of HOSTS lines
        t = time.perf_counter()
        batches = []
        for b in make_batches(base, batch_lines, hosts=HOSTS):
            while len(b) > MAX_BODY * 0.95:  # keep every request under the server's limit
                lines = b.splitlines(keepends=True)
                half = len(lines) // 2
                batches.append(b"".join(lines[:half]))
                b = b"".join(lines[half:])
            batches.append(b)
        self.batches = batches
        self.lines = [b.count(b"\n") for b in batches]
        self.stamps = [sorted(set(re.findall(rb" (\d{19})\n", b))) for b in batches]
        self.shift = base // HOSTS * STEP_NS
        log(f"generated {base:,} base lines in {len(batches)} batches "
            f"(<= {max(len(b) for b in batches) / 2**20:.1f} MiB) in {time.perf_counter() - t:.1f}s")

    def jobs(self, rows):
        """(repetition, batch, lines to keep) covering exactly `rows` lines."""
        out, left, rep = [], rows, 0
        while left > 0:
            for i, n in enumerate(self.lines):
                if left <= 0:
                    break
                keep = min(n, left)
                out.append((rep, i, keep))
                left -= keep
            rep += 1
        return out

    def body(self, rep, i, keep):
        body = self.batches[i]
        if keep < self.lines[i]:
            pos = -1
            for _ in range(keep):
                pos = body.index(b"\n", pos + 1)
            body = body[:pos + 1]
        if rep:
            for ts in self.stamps[i]:
                body = body.replace(b" " + ts + b"\n", b" " + str(int(ts) + rep * self.shift).encode() + b"\n")
        return body


def load(url, data, rows, clients):
    parsed = urlparse(url)
    jobs = data.jobs(rows)
    jobs.reverse()
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
        try:
            while not errors:
                with lock:
                    if not jobs:
                        break
                    job = jobs.pop()
                conn.request("POST", f"/api/v3/write_lp?db={DB}&precision=ns&no_sync=true", body=data.body(*job),
                             headers={"Content-Type": "text/plain"})
                r = conn.getresponse()
                text = r.read()
                if r.status != 204:
                    errors.append(f"HTTP {r.status}: {text[:200]!r}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            conn.close()

    run_concurrently(worker, clients)
    if errors:
        raise RuntimeError(f"{len(errors)} failed writes, e.g. {errors[0]}")


def count_rows(url):
    r = requests.post(url + "/api/v3/query_sql", json={"db": DB, "q": "SELECT count(*) AS n FROM cpu"}, timeout=600)
    r.raise_for_status()
    return r.json()[0]["n"]


def wait_count(url, rows, timeout=300):
    # no_sync writes become visible at the next WAL flush.
    deadline = time.time() + timeout
    while True:
        n = count_rows(url)
        if n == rows:
            return
        if n > rows or time.time() > deadline:
            raise RuntimeError(f"count(*) is {n:,}, expected {rows:,}")
        time.sleep(0.2)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid, timeout=600):
    """Waits until the server uses < 5% of a core for 2 s in a row (a snapshot or compaction
    started by the load has finished). Returns the seconds waited."""
    start = time.time()
    quiet = 0
    last = cpu_seconds(pid)
    while time.time() - start < timeout:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.025 else 0
        last = now
        if quiet >= 4:
            break
    else:
        log(f"  server still busy after {timeout}s; measuring anyway")
    return time.time() - start


# ---------------------------------------------------------------------------------------------
# Measurement


class RssSampler(threading.Thread):
    """Samples /proc/<pid>/status VmRSS every `interval` seconds; keeps the peak (kB)."""

    def __init__(self, pid, interval=0.005):
        super().__init__(daemon=True)
        self.fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        self.interval = interval
        self.halt = threading.Event()
        self.peak = 0
        self.samples = 0

    def read_kb(self):
        data = os.pread(self.fd, 8192, 0)
        i = data.find(b"VmRSS:")
        return int(data[i + 6:data.index(b"kB", i)]) if i >= 0 else 0

    def run(self):
        while not self.halt.is_set():
            try:
                self.peak = max(self.peak, self.read_kb())
                self.samples += 1
            except (OSError, ValueError):
                return  # the process exited
            self.halt.wait(self.interval)

    def finish(self):
        self.halt.set()
        self.join()
        try:
            self.peak = max(self.peak, self.read_kb())
        except (OSError, ValueError):
            pass
        os.close(self.fd)


ROW_MARK = {"csv": (b"\n", -1), "jsonl": (b"\n", 0), "json_lines": (b"\n", 0), "json": (b"{", 0),
            "pretty": (b"\n", -4)}


def measure(url, pid, fmt):
    sampler = RssSampler(pid)
    before_kb = sampler.read_kb()
    sampler.start()
    mark, adjust = ROW_MARK.get(fmt, (None, 0))
    marks = nbytes = 0
    first = None
    t0 = time.perf_counter()
    try:
        r = requests.get(url + "/api/v3/query_sql", params={"db": DB, "q": QUERY, "format": fmt}, stream=True,
                         timeout=(10, 1800), headers={"Accept-Encoding": "identity"})
        with r:
            if r.status_code != 200:
                raise RuntimeError(f"{fmt}: HTTP {r.status_code}: {r.text[:300]}")
            for chunk in r.iter_content(1 << 20):
                if not chunk:
                    continue
                if first is None:
                    first = time.perf_counter()
                nbytes += len(chunk)
                if mark:
                    marks += chunk.count(mark)
            total = time.perf_counter() - t0
            chunked = "chunked" in r.headers.get("Transfer-Encoding", "").lower()
    finally:
        sampler.finish()
    body_rows = None
    if mark:
        body_rows = max(marks + adjust, 0)
        if fmt == "pretty" and marks == 3:  # header only: "+--+ | names | +--+"
            body_rows = 0
    return {
        "format": fmt,
        "ttfb_ms": ((first or time.perf_counter()) - t0) * 1000,
        "total_s": total,
        "bytes": nbytes,
        "chunked": chunked,
        "rss_before_mb": before_kb / 1024,
        "rss_peak_mb": sampler.peak / 1024,
        "rss_growth_mb": max(sampler.peak - before_kb, 0) / 1024,
        "rss_samples": sampler.samples,
        "body_rows": body_rows,
    }


def start_server(binary):
    common.BINARY = str(binary)  # Riffle() starts common.BINARY with bench/query.py's flags
    server = Riffle.__new__(Riffle)
    try:
        server.__init__()
    except BaseException:
        if hasattr(server, "proc"):
            log_tail(server)
            server.stop()
        raise
    return server


def log_tail(server, lines=15):
    try:
        text = (server.dir / "server.log").read_text(errors="replace").splitlines()
    except OSError:
        return
    for line in text[-lines:]:
        log(f"    | {line}")


def bench_one(label, binary, rows, formats, data, clients):
    server = start_server(binary)
    results = []
    try:
        t = time.perf_counter()
        load(server.url, data, rows, clients)
        wait_count(server.url, rows)
        load_s = time.perf_counter() - t
        idle_s = wait_idle(server.proc.pid)
        log(f"[{label}] {rows:,} rows loaded in {load_s:.1f}s ({rows / load_s:,.0f} rows/s); "
            f"settled in {idle_s:.1f}s; server RSS {RssSampler(server.proc.pid).read_kb() / 1024:,.0f} MB")
        for fmt in formats:
            try:
                m = measure(server.url, server.proc.pid, fmt)
            except Exception as e:  # noqa: BLE001 - one failed format does not end the run
                log(f"[{label}] {rows:,} {fmt}: FAILED: {e}")
                if server.proc.poll() is not None:
                    log(f"    server exited with {server.proc.returncode}")
                    log_tail(server)
                    break
                continue
            m.update(binary=label, path=str(binary), rows=rows)
            results.append(m)
            log(f"[{label}] {rows:,} {fmt}: " + fmt_row(m))
    finally:
        if server.proc.poll() is not None and not results:
            log_tail(server)
        server.stop()
    return results


# ---------------------------------------------------------------------------------------------
# Output


def check(m):
    if m["body_rows"] is None:
        return "-"
    return "ok" if m["body_rows"] == m["rows"] else f"GOT {m['body_rows']:,}"


def fmt_row(m):
    return (f"TTFB {m['ttfb_ms']:,.1f} ms, total {m['total_s']:.2f} s, {m['bytes'] / 1e6:,.1f} MB, "
            f"{m['bytes'] / 1e6 / m['total_s']:,.1f} MB/s, {m['rows'] / m['total_s']:,.0f} rows/s, "
            f"RSS +{m['rss_growth_mb']:,.1f} MB (from {m['rss_before_mb']:,.0f}), "
            f"{'chunked' if m['chunked'] else 'content-length'}, rows {check(m)}")


def print_table(results):
    head = ["binary", "rows", "format", "TTFB ms", "total s", "MB", "MB/s", "rows/s", "RSS growth MB", "RSS0 MB",
            "chunked", "rows check"]
    table = [[m["binary"], f"{m['rows']:,}", m["format"], f"{m['ttfb_ms']:,.1f}", f"{m['total_s']:.2f}",
              f"{m['bytes'] / 1e6:,.1f}", f"{m['bytes'] / 1e6 / m['total_s']:,.1f}",
              f"{m['rows'] / m['total_s']:,.0f}", f"{m['rss_growth_mb']:,.1f}", f"{m['rss_before_mb']:,.0f}",
              "yes" if m["chunked"] else "no", check(m)] for m in results]
    widths = [max(len(str(r[c])) for r in [head] + table) for c in range(len(head))]
    left = {0, 2, 10, 11}

    def line(r):
        return "  ".join(str(v).ljust(w) if c in left else str(v).rjust(w) for c, (v, w) in enumerate(zip(r, widths)))

    print()
    print(f"{QUERY}, GET /api/v3/query_sql, body read in 1 MiB chunks and discarded")
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print(line(r))


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def same_or(a, b):
    return "same" if a == b else f"{a:,} -> {b:,}"


def print_comparisons(results, labels):
    if len(labels) < 2:
        return
    ref = "baseline" if "baseline" in labels else labels[0]
    by = {(m["rows"], m["format"], m["binary"]): m for m in results}
    keys = sorted({(m["rows"], m["format"]) for m in results}, key=lambda k: (k[0], k[1]))
    print()
    print(f"compared with {ref} (x: the other binary's figure over {ref}'s)")
    for rows, fmt in keys:
        r = by.get((rows, fmt, ref))
        for label in labels:
            m = by.get((rows, fmt, label))
            if label == ref or m is None:
                continue
            if r is None:
                print(f"  {rows:>12,} {fmt:6} {label} vs {ref}: no {ref} result")
                continue
            print(f"  {rows:>12,} {fmt:6} {label} vs {ref}: "
                  f"TTFB {r['ttfb_ms']:,.1f} -> {m['ttfb_ms']:,.1f} ms ({ratio(m['ttfb_ms'], r['ttfb_ms'])}), "
                  f"total {r['total_s']:.2f} -> {m['total_s']:.2f} s ({ratio(m['total_s'], r['total_s'])}), "
                  f"rows/s {ratio(r['total_s'], m['total_s'])}, "
                  f"RSS growth {r['rss_growth_mb']:,.1f} -> {m['rss_growth_mb']:,.1f} MB, "
                  f"bytes {same_or(r['bytes'], m['bytes'])}")


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", metavar="[LABEL=]PATH",
                    help="server binary, repeatable (default: build/influxdb3 labelled 'current')")
    ap.add_argument("--baseline-commit", metavar="REV",
                    help="build REV in build-baseline/ (git worktree + cmake) and add it labelled 'baseline'")
    ap.add_argument("--rows", default="1000000,10000000", help="comma-separated row counts (default %(default)s)")
    ap.add_argument("--formats", default="csv,json", help="comma-separated formats (default %(default)s)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent writers while loading (default %(default)s)")
    ap.add_argument("--batch-lines", type=int, default=20_000,
                    help="lines per write request, ~8 MB (default %(default)s; the server takes up to 10 MiB)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args()

    rows_list = sorted({int(x.replace("_", "")) for x in args.rows.split(",") if x.strip()})
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not rows_list or min(rows_list) <= 0 or not formats:
        ap.error("--rows and --formats need at least one positive value each")
    bins = parse_bins(args.bin)
    if args.baseline_commit:
        bins.append(["baseline", build_baseline(args.baseline_commit)])
    bins = unique_labels(bins)
    for label, path in bins:
        if not os.access(path, os.X_OK):
            sys.exit(f"{label}: {path} is not an executable file")
    labels = [b[0] for b in bins]
    for label, path in bins:
        log(f"binary {label}: {path}")

    data = Data(max(rows_list), args.batch_lines)
    results = []
    # Row counts ascending (the biggest last); within one count the binaries run back to back.
    for rows in rows_list:
        for label, path in bins:
            try:
                results += bench_one(label, path, rows, formats, data, args.clients)
            except Exception as e:  # noqa: BLE001 - report and go on with the next binary
                log(f"[{label}] {rows:,}: FAILED: {e}")

    if not results:
        sys.exit("no results")
    print_table(results)
    print_comparisons(results, labels)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    expected = len(rows_list) * len(bins) * len(formats)
    bad = [m for m in results if check(m) not in ("ok", "-")]
    if len(results) < expected or bad:
        print(f"\n{expected - len(results)} of {expected} measurements failed; {len(bad)} with a wrong row count",
              flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
