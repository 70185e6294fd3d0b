"""Arrow Flight vs HTTP for large results: `SELECT * FROM cpu` over N TSBS cpu-only rows (bench/
query_stream.py's data and server), read

  flight-native   bench/flight_grpc_count.py: gRPC's C core (python3-grpcio), FlightData as raw bytes,
                  only each IPC message header read (RecordBatch row counts): what a native client
                  (pyarrow, Go, Java, Grafana) gets
  flight-lean     bench/flight_count.cjs: the same reader on grpc-js, whose HTTP/2 costs more CPU than
                  the server spends producing the stream
  flight-batches  the official @influxdata/influxdb3-client 2.1.0 (tests/e2e/flight/client.cjs, mode
                  batches): its Flight + apache-arrow decoding of every RecordBatch, no per-row objects
  flight-rows     the official client's query(): one JS object per row, counted and dropped (what an
                  application iterating rows pays)
  http-json, http-csv
                  GET /api/v3/query_sql?format=..., body streamed in 1 MiB chunks and discarded

    python3 bench/flight.py [--rows 1000000,10000000] [--methods flight-lean,flight-batches,flight-rows,http-json,http-csv]
                            [--client-rows-max 1000000]

For each row count a fresh server is loaded with exactly N rows (as bench/query_stream.py does) and
left to settle. Per method: total time (the node scripts time themselves from the call to the end of
the stream, excluding node's start-up), MB received (FlightData bytes for flight-lean; the body for
HTTP; not measured for the official client), MB/s, rows/s, and the server's peak VmRSS during the
read (sampled every 5 ms) with its growth over the RSS just before. Needs the npm packages
scripts/setup.sh installs into build/node.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from common import REPO
from query_stream import (DB, QUERY, Data, RssSampler, load, log, log_tail, measure, start_server, wait_count,
                          wait_idle)

NODE_MODULES = REPO / "build" / "node" / "node_modules"
LEAN = REPO / "bench" / "flight_count.cjs"
CLIENT = REPO / "tests" / "e2e" / "flight" / "client.cjs"
NATIVE = REPO / "bench" / "flight_grpc_count.py"
METHODS = ["flight-native", "flight-lean", "flight-batches", "flight-rows", "http-json", "http-csv"]


def run_reader(interpreter, script, arg):
    """Runs a reader script with its job as argv[1]; its last JSON line, or an error."""
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    p = subprocess.run([interpreter, str(script), json.dumps(arg)], capture_output=True, text=True, env=env,
                       timeout=3600)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{script.name} exit {p.returncode}: {p.stdout[-500:]} {p.stderr[-500:]}")
    out = json.loads(lines[-1])
    if "error" in out:
        raise RuntimeError(f"{script.name}: {out['error']}")
    return out


def node(script, arg):
    return run_reader("node", script, arg)


def native(arg):
    return run_reader("/usr/bin/python3", NATIVE, arg)


def measure_flight(url, pid, method):
    sampler = RssSampler(pid)
    before = sampler.read_kb()
    sampler.start()
    wall = time.perf_counter()
    try:
        if method in ("flight-lean", "flight-native"):
            job = {"host": url, "database": DB, "sql": QUERY}
            out = node(LEAN, job) if method == "flight-lean" else native(job)
            nbytes, rows, ttfb = out["bytes"], out["rows"], out["ttfb_ms"]
            extra = f"{out['batches']:,} batches in {out['messages']:,} FlightData"
        else:
            mode = "batches" if method == "flight-batches" else "count"
            res = node(CLIENT, {"host": url, "database": DB, "timeout": 3_600_000,
                                "queries": [{"sql": QUERY, "mode": mode}]})["results"][0]
            out = {"elapsed_ms": res["elapsed_ms"]}
            nbytes, rows, ttfb = None, res["count"], None
            extra = f"{res['batches']:,} batches" if mode == "batches" else ""
    finally:
        sampler.finish()
    return {"format": method, "total_s": out["elapsed_ms"] / 1000, "wall_s": time.perf_counter() - wall,
            "ttfb_ms": ttfb, "bytes": nbytes, "body_rows": rows, "rss_before_mb": before / 1024,
            "rss_peak_mb": sampler.peak / 1024, "rss_growth_mb": max(sampler.peak - before, 0) / 1024, "extra": extra}


def measure_http(url, pid, method):
    m = measure(url, pid, method.removeprefix("http-"))
    m["format"] = method
    m["wall_s"] = m["total_s"]
    m["extra"] = "chunked" if m["chunked"] else "content-length"
    return m


def fmt(m):
    mb = f"{m['bytes'] / 1e6:,.1f} MB, {m['bytes'] / 1e6 / m['total_s']:,.1f} MB/s, " if m["bytes"] else ""
    ttfb = f"TTFB {m['ttfb_ms']:,.1f} ms, " if m["ttfb_ms"] is not None else ""
    return (f"{ttfb}total {m['total_s']:.2f} s, {mb}{m['rows'] / m['total_s']:,.0f} rows/s, "
            f"server RSS peak {m['rss_peak_mb']:,.0f} MB (+{m['rss_growth_mb']:,.1f}), rows {check(m)} {m['extra']}")


def check(m):
    return "ok" if m["body_rows"] == m["rows"] else f"GOT {m['body_rows']:,}" if m["body_rows"] is not None else "-"


def print_table(results):
    head = ["rows", "method", "TTFB ms", "total s", "MB", "MB/s", "rows/s", "RSS peak MB", "RSS growth MB",
            "rows check", "notes"]
    table = []
    for m in results:
        table.append([f"{m['rows']:,}", m["format"], "-" if m["ttfb_ms"] is None else f"{m['ttfb_ms']:,.1f}",
                      f"{m['total_s']:.2f}", "-" if not m["bytes"] else f"{m['bytes'] / 1e6:,.1f}",
                      "-" if not m["bytes"] else f"{m['bytes'] / 1e6 / m['total_s']:,.1f}",
                      f"{m['rows'] / m['total_s']:,.0f}", f"{m['rss_peak_mb']:,.0f}", f"{m['rss_growth_mb']:,.1f}",
                      check(m), m["extra"]])
    widths = [max(len(str(r[c])) for r in [head] + table) for c in range(len(head))]
    left = {1, 9, 10}

    def line(r):
        return "  ".join(str(v).ljust(w) if c in left else str(v).rjust(w) for c, (v, w) in enumerate(zip(r, widths)))

    print()
    print(f"{QUERY}: Arrow Flight (DoGet) vs GET /api/v3/query_sql")
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print(line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000,10000000", help="comma-separated row counts (default %(default)s)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods (default %(default)s)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent writers while loading (default %(default)s)")
    ap.add_argument("--batch-lines", type=int, default=20_000, help="lines per write request (default %(default)s)")
    ap.add_argument("--client-rows-max", type=int, default=1_000_000,
                    help="skip flight-rows (the official client's per-row objects, slow) above this many rows "
                         "(default %(default)s)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args()
    rows_list = sorted({int(x.replace("_", "")) for x in args.rows.split(",") if x.strip()})
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown or not rows_list or min(rows_list) <= 0:
        ap.error(f"bad --rows or --methods (unknown: {sorted(unknown)})")
    if any(m.startswith("flight") for m in methods) and \
            not (NODE_MODULES / "@influxdata" / "influxdb3-client" / "package.json").exists():
        sys.exit(f"{NODE_MODULES} has no @influxdata/influxdb3-client: run scripts/setup.sh")

    data = Data(max(rows_list), args.batch_lines)
    results = []
    for rows in rows_list:
        server = start_server(REPO / "build" / "influxdb3")
        try:
            t = time.perf_counter()
            load(server.url, data, rows, args.clients)
            wait_count(server.url, rows)
            load_s = time.perf_counter() - t
            idle_s = wait_idle(server.proc.pid)
            log(f"{rows:,} rows loaded in {load_s:.1f}s ({rows / load_s:,.0f} rows/s); settled in {idle_s:.1f}s; "
                f"server RSS {RssSampler(server.proc.pid).read_kb() / 1024:,.0f} MB")
            for method in methods:
                if method == "flight-rows" and rows > args.client_rows_max:
                    log(f"{rows:,} {method}: skipped (--client-rows-max {args.client_rows_max:,})")
                    continue
                try:
                    fn = measure_flight if method.startswith("flight") else measure_http
                    m = fn(server.url, server.proc.pid, method)
                except Exception as e:  # noqa: BLE001 - one failed method does not end the run
                    log(f"{rows:,} {method}: FAILED: {e}")
                    if server.proc.poll() is not None:
                        log(f"    server exited with {server.proc.returncode}")
                        log_tail(server)
                        break
                    continue
                m["rows"] = rows
                results.append(m)
                log(f"{rows:,} {method}: " + fmt(m))
        finally:
            server.stop()
    if not results:
        sys.exit("no results")
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    bad = [m for m in results if check(m) not in ("ok", "-")]
    expected = sum(1 for r in rows_list for m in methods if m != "flight-rows" or r <= args.client_rows_max)
    if len(results) < expected or bad:
        print(f"\n{expected - len(results)} of {expected} measurements failed; {len(bad)} with a wrong row count")
        sys.exit(1)


if __name__ == "__main__":
    main()
