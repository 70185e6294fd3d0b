#!/usr/bin/env bash
# Installs what Riffle needs on a fresh Debian 12 machine and fetches DuckDB from npm.
# Idempotent: does nothing when everything is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(g++ cmake ninja-build make pkg-config libboost-dev pybind11-dev python3-dev
  python3-venv python3-pip nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libzstd-dev liblz4-dev
  libjemalloc-dev
  zlib1g-dev libdeflate-dev libgtest-dev libgmock-dev libbenchmark-dev python3-pytest python3-pytest-xdist python3-requests curl
  clang libclang-rt-14-dev libssl-dev
  # Arrow Flight over gRPC: protoc + the gRPC C++ plugin and library, flatc for the Arrow IPC
  # flatbuffers; node runs the official JavaScript client in the end-to-end tests, python3-grpcio
  # sends hand-made Flight calls.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler flatbuffers-compiler
  libflatbuffers-dev python3-grpcio
  # InfluxDB 1.x clients the end-to-end tests drive: the influx CLI and python-influxdb.
  influxdb-client python3-influxdb
  # Python libraries the published influxdb3_plugins import, as Debian ships them: plugins see
  # the system site-packages, so these run unmodified.
  python3-numpy python3-pandas python3-scipy python3-psutil python3-pint python3-httpx
  python3-twilio python3-dynaconf
  # The web console's end-to-end tests drive a headless Chromium (with npm puppeteer-core).
  chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from Node.js rather than Debian; install Debian's only when none is on PATH.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

DUCK_DIR=third_party/duckdb
HEADER_TGZ=duckdb-1.4.4.tgz
HEADER_SHA=5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed
LIB_TGZ=duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz
LIB_SHA=732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b
# The headers: duckdb.h (the C API) and, for duck/parsed_statement.cc only, the C++ headers of
# the same release, which the package ships with its sources.
if [ ! -f "$DUCK_DIR/include/duckdb.h" ] || [ ! -f "$DUCK_DIR/include/duckdb/main/capi/capi_internal.hpp" ] ||
   [ ! -f "$DUCK_DIR/lib/libduckdb.so" ]; then
  echo "setup: fetching DuckDB 1.4.4 from the npm registry"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent duckdb@1.4.4 @duckdb/node-bindings-linux-x64@1.4.4-r.4 >/dev/null)
  echo "$HEADER_SHA  $tmp/$HEADER_TGZ" | sha256sum -c --quiet
  echo "$LIB_SHA  $tmp/$LIB_TGZ" | sha256sum -c --quiet
  mkdir -p "$DUCK_DIR/include" "$DUCK_DIR/lib"
  tar xzf "$tmp/$HEADER_TGZ" -C "$tmp" package/src/duckdb/src/include
  rm -rf "$DUCK_DIR/include"
  cp -r "$tmp/package/src/duckdb/src/include" "$DUCK_DIR/include"
  mkdir -p "$tmp/lib" && tar xzf "$tmp/$LIB_TGZ" -C "$tmp/lib" package/libduckdb.so
  cp "$tmp/lib/package/libduckdb.so" "$DUCK_DIR/lib/"
  rm -rf "$tmp"
fi

# The npm packages the Flight end-to-end tests and bench/flight.py run with node (the official
# influxdb3 JavaScript client, grpc-js, proto-loader, apache-arrow), pinned by
# tests/e2e/flight/package-lock.json and installed into build/node/node_modules.
NODE_DIR=build/node
CLIENT_PKG=$NODE_DIR/node_modules/@influxdata/influxdb3-client/package.json
if ! { [ -f "$CLIENT_PKG" ] && grep -q '"version": "2.1.0"' "$CLIENT_PKG" &&
       cmp -s tests/e2e/flight/package-lock.json "$NODE_DIR/package-lock.json"; }; then
  echo "setup: installing the Flight test packages from npm into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp tests/e2e/flight/package.json tests/e2e/flight/package-lock.json "$NODE_DIR/"
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
fi

# The web console's npm packages (Preact, htm, uPlot, and esbuild, which bundles them at build
# time), pinned by src/console/web/package-lock.json and installed into third_party/console.
CONSOLE_DIR=third_party/console
if ! cmp -s src/console/web/package-lock.json "$CONSOLE_DIR/package-lock.json" ||
   [ ! -f "$CONSOLE_DIR/node_modules/esbuild/bin/esbuild" ]; then
  echo "setup: installing the web console's packages from npm into $CONSOLE_DIR"
  mkdir -p "$CONSOLE_DIR"
  cp src/console/web/package.json src/console/web/package-lock.json "$CONSOLE_DIR/"
  npm ci --prefix "$CONSOLE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
fi
