# The two commands a newcomer needs: `make serve` and `make test`. Both install what is
# missing (Debian packages, DuckDB from npm) and build first; both are quick when nothing changed.
BUILD ?= build
JOBS ?= 2
PORT_BIND ?= 127.0.0.1:8181

.PHONY: all setup build serve test unit e2e sanitize bench clean

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

e2e: build
	/usr/bin/python3 -m pytest -q tests/e2e

# Unit tests, then the end-to-end suite; the last line printed is pytest's summary.
test: unit e2e

sanitize: setup
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRIFFLE_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/run.sh

clean:
	rm -rf $(BUILD) build-asan
