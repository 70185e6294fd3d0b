"""The web console in headless Chromium (Debian's chromium, npm puppeteer-core, driven by
tests/e2e/console/drive.cjs): the first render of the query page, the bytes of its assets as
served (gzip), and the time to draw a 100,000-point chart (10 series of 10,000 points).

    python3 bench/console.py
"""
import gzip
import json
import os
import shutil
import subprocess
import urllib.request

from common import REPO, Riffle


def fetch(url, gz):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip" if gz else "identity"})
    with urllib.request.urlopen(req) as r:
        return r.read()


def main():
    server = Riffle()
    try:
        db = "console"
        lines = [f"cpu,host=h{h} usage={(i * 7 + h * 13) % 100} {1_700_000_000 + i}"
                 for h in range(10) for i in range(10_000)]
        for start in range(0, len(lines), 20_000):
            req = urllib.request.Request(f"{server.url}/api/v3/write_lp?db={db}&precision=s",
                                         data="\n".join(lines[start:start + 20_000]).encode(), method="POST")
            urllib.request.urlopen(req).read()
        assets = ["/", "/ui/app.js", "/ui/app.css", "/ui/uplot.css"]
        packed = sum(len(fetch(server.url + a, True)) for a in assets)
        plain = sum(len(fetch(server.url + a, False)) for a in assets)
        job = {"scenario": "query", "url": server.url, "db": db,
               "sql": "SELECT host, usage, time FROM cpu ORDER BY time",
               "influxql": "SELECT mean(usage) FROM cpu GROUP BY time(1m), host"}
        env = {**os.environ, "NODE_PATH": str(REPO / "build" / "node" / "node_modules"),
               "CHROMIUM": shutil.which("chromium") or "/usr/bin/chromium"}
        runs = []
        for _ in range(3):
            p = subprocess.run(["node", str(REPO / "tests" / "e2e" / "console" / "drive.cjs"), json.dumps(job)],
                               capture_output=True, text=True, timeout=300, env=env, check=True)
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
        for r in runs:
            assert "failure" not in r, r
        first = sorted(r["first_render_ms"] for r in runs)
        chart = sorted(float(r["sql"]["chart_time"].split()[3]) for r in runs)
        print(f"console assets (page, script, styles):  {packed / 1024:8.1f} KB gzipped ({plain / 1024:.1f} KB plain)")
        print(f"query page, load to databases listed:   {first[1]:8.0f} ms (median of 3; {first[0]}–{first[2]})")
        print(f"100,000-point chart (10 series) drawn:  {chart[1]:8.0f} ms (median of 3; {chart[0]:.0f}–{chart[2]:.0f})")
        print(f"  query and render: {runs[1]['sql']['summary'].split('CSV')[0].strip()}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
