# The two commands a newcomer needs: `make serve` and `make test`. Both install what is
# missing (Debian packages, DuckDB from npm) and build first; both are quick when nothing changed.
BUILD ?= build
JOBS ?= 2
PORT_BIND ?= 127.0.0.1:8181

UNIT_TESTS := $(basename $(notdir $(wildcard tests/*_test.cc)))

.PHONY: all setup build serve test unit e2e e2e-s3 test-ceph sanitize sanitize-e2e fuzz bench clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja: CMakeLists.txt | setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

serve: build
	mkdir -p data plugins
	$(BUILD)/influxdb3 serve --node-id node0 --object-store file --data-dir ./data \
	  --plugin-dir ./plugins --http-bind $(PORT_BIND)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The end-to-end suites run JOBS test processes at once (pytest-xdist): each test starts its own
# servers on free ports and waits for what it checks, so they do not see each other.
PYTEST := /usr/bin/python3 -m pytest -q -n $(JOBS)

e2e: build
	$(PYTEST) tests/e2e

# The suites that write, persist, restart and crash, again with every server on the S3 object
# store: a fresh bucket each, on s3rver (build/node, from scripts/setup.sh) behind the tests'
# SigV4-checking proxy, or on the S3 endpoint in RIFFLE_TEST_S3_ENDPOINT (with
# RIFFLE_TEST_S3_ACCESS_KEY and RIFFLE_TEST_S3_SECRET_KEY, e.g. from scripts/ceph_s3.sh).
E2E_S3 ?= tests/e2e/test_write.py tests/e2e/test_core_write.py tests/e2e/test_persistence.py \
  tests/e2e/test_durability.py tests/e2e/test_core_durability.py tests/e2e/test_duplicates.py \
  tests/e2e/test_newest_bound.py
e2e-s3: build
	RIFFLE_TEST_OBJECT_STORE=s3 $(PYTEST) $(E2E_S3)

# The S3 suites against a real Ceph RADOS Gateway (scripts/ceph_s3.sh installs Ceph 16 from
# Debian and runs a one-host cluster in CEPH_S3_DIR, a fresh temporary directory by default),
# which is torn down whatever the tests did; the exit code is pytest's (or the setup's).
S3_SUITES ?= $(E2E_S3) tests/e2e/test_s3.py
CEPH_S3_DIR ?= $$(mktemp -d /tmp/riffle-ceph.XXXXXX)
test-ceph: build
	@dir=$(CEPH_S3_DIR) && trap 'rc=$$?; scripts/ceph_s3.sh down "$$dir"; exit $$rc' EXIT && \
	  trap 'exit 130' INT TERM HUP && \
	  scripts/ceph_s3.sh up "$$dir" >/dev/null && . "$$dir/env" && \
	  RIFFLE_TEST_OBJECT_STORE=s3 /usr/bin/python3 -m pytest -q $(S3_SUITES)

# Sanitized unit tests and server, a short fuzz run, the unit tests, then the end-to-end suite;
# the last line printed is pytest's summary.
test: sanitize sanitize-e2e fuzz unit e2e-s3 e2e

# The unit tests under ASan+UBSan.
sanitize: setup
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRIFFLE_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS) --target $(UNIT_TESTS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# The server itself under ASan+UBSan, through the end-to-end tests that stress it most
# (snapshots and crashes, bad input, auth, plugin runtime). Any report kills the server and
# fails the test.
SANITIZE_E2E ?= tests/e2e/test_persistence.py tests/e2e/test_bad_input.py tests/e2e/test_auth.py \
  tests/e2e/test_engine_runtime.py tests/e2e/test_engine_observability.py tests/e2e/test_duplicates.py \
  tests/e2e/test_influxql.py tests/e2e/test_query_stream.py tests/e2e/test_client_details.py tests/e2e/test_metrics.py \
  tests/e2e/test_flight.py tests/e2e/test_caches.py tests/e2e/test_query_limits.py \
  tests/e2e/test_db_isolation.py tests/e2e/test_plugin_workers.py tests/e2e/test_row_deletes.py \
  tests/e2e/test_backup.py tests/e2e/test_staged_rows.py tests/e2e/test_staged_time_skip.py
sanitize-e2e: sanitize
	cmake --build build-asan -j $(JOBS) --target influxdb3
	ASAN_OPTIONS=detect_leaks=0 RIFFLE_SANITIZED=1 RIFFLE_BIN=$(CURDIR)/build-asan/influxdb3 $(PYTEST) $(SANITIZE_E2E)

# libFuzzer on the line-protocol parser (FUZZ_SECONDS, default 20).
FUZZ_SECONDS ?= 15
PREDICATE_FUZZ_SECONDS ?= 5
fuzz: setup
	mkdir -p build-fuzz/corpus
	clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/lineproto/line_protocol.cc \
	  tests/fuzz/lineproto_fuzz.cc -o build-fuzz/lineproto_fuzz
	printf 'cpu,host=a,region=b usage=1.5,n=3i,s="x\\"y" 1700000000\n# c\nm\\ x,t\\=k=v\\,w f=t\n' > build-fuzz/corpus/seed
	build-fuzz/lineproto_fuzz -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus > build-fuzz/lineproto.log 2>&1; \
	  rc=$$?; tail -1 build-fuzz/lineproto.log; exit $$rc
	mkdir -p build-fuzz/predicate-corpus
	clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/rowdelete/predicate.cc \
	  tests/fuzz/delete_predicate_fuzz.cc -o build-fuzz/delete_predicate_fuzz
	printf 'host = "a" AND region=\x27us\x27 and _measurement="cpu"' > build-fuzz/predicate-corpus/seed
	printf '2023-11-14T22:13:20.5+01:00' > build-fuzz/predicate-corpus/time
	build-fuzz/delete_predicate_fuzz -max_total_time=$(PREDICATE_FUZZ_SECONDS) build-fuzz/predicate-corpus \
	  > build-fuzz/predicate.log 2>&1; rc=$$?; tail -1 build-fuzz/predicate.log; exit $$rc

bench: build
	bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
