# Thin wrapper over CMake: `make run` and `make test` are the two commands README promises.
BUILD ?= build
JOBS ?= $(shell nproc)
DEB_PACKAGES = build-essential cmake pkg-config libssl-dev libpcre2-dev zlib1g-dev \
	libnghttp2-dev check curl strace nginx libnginx-mod-stream memcached haproxy nghttp2-client python3 python3-websockets python3-h2

.PHONY: all deps build run test test-asan fuzz bench install clean

all: build

# Installs the Debian packages that are missing (one apt-get update, only when needed).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/proxyd -p $(CURDIR)/ -c $(CURDIR)/nginx-like.conf.example -g "daemon off;"

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2

test-asan: deps
	cmake -S . -B build-asan -DPROXYD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j $(JOBS)
	rm -f build-asan/sanitizer.*
	cd build-asan && ASAN_OPTIONS=detect_leaks=0:log_path=$(CURDIR)/build-asan/sanitizer \
	  UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/build-asan/sanitizer ctest --output-on-failure -j 2
	@# a report from a worker process does not always fail a test: any report fails the run
	@if ls build-asan/sanitizer.* >/dev/null 2>&1; then cat build-asan/sanitizer.*; exit 1; fi

fuzz: deps
	@command -v clang >/dev/null || (apt-get install -y -q clang)
	CC=clang cmake -S . -B build-fuzz -DPROXYD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	@for f in build-fuzz/fuzz_*; do echo "== $$f"; $$f -max_total_time=$${FUZZ_SECONDS:-60} || exit 1; done

# Side-by-side benchmark against nginx and HAProxy (bench/README.md); never part of `make test`.
BENCH_PACKAGES = haproxy wrk nghttp2-client openssl
bench: build
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi
	/usr/bin/python3 bench/bench.py --proxyd $(BUILD)/proxyd $(BENCH_ARGS)

install: build
	cmake --install $(BUILD) --prefix $${PREFIX:-/usr/local}

clean:
	rm -rf $(BUILD) build-asan build-fuzz
