#!/usr/bin/env bash
# Runs every benchmark against the freshly built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/lineproto_bench ] && build/lineproto_bench --benchmark_min_time=1
[ -x build/query_bench ] && build/query_bench --benchmark_min_time=1
/usr/bin/python3 bench/ingest.py
/usr/bin/python3 bench/query.py
/usr/bin/python3 bench/query_stream.py
/usr/bin/python3 bench/engine.py
/usr/bin/python3 bench/flight.py
/usr/bin/python3 bench/caches.py
/usr/bin/python3 bench/s3.py
/usr/bin/python3 bench/recovery.py
/usr/bin/python3 bench/many_files.py
/usr/bin/python3 bench/console.py
bench/peers.sh  # installs influxdb, victoria-metrics and wrk with apt-get when missing
