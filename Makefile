# Thin wrapper around CMake. The two commands of the README:
#   make run   - install missing packages, build roomd only, start it
#                (make run ARGS='--listen 0.0.0.0:8080 --fsync'); quiet but
#                for roomd's own output (the build log is shown on failure);
#                prints the demo page's URL
#   make test  - install, build, run every test, then again under ASan+UBSan,
#                then a libFuzzer smoke pass (make fuzz-smoke)
# Installing (README "Run it as a service"):
#   make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage] - binaries, man
#                pages, the systemd unit, the example config
# Hardening (README "Hardening and testing"):
#   make fuzz           - every libFuzzer target for FUZZ_SECONDS each (~1 min)
#   make fuzz-smoke     - the same for FUZZ_SMOKE_SECONDS each (~15 s)
#   make check-valgrind - unit + integration tests with every binary under
#                         valgrind memcheck (slow: see README)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 8
FUZZ_SMOKE_SECONDS ?= 2
CTEST_ARGS ?= --output-on-failure -j $(JOBS)
PREFIX ?= /usr/local
ARGS ?=

.PHONY: all deps build build-asan build-fuzz test test-fast test-asan run install clean \
	fuzz fuzz-smoke check-valgrind

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRK_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer targets: clang, ASan + UBSan, rkcommon instrumented.
build-fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRK_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

# The normal pass, then the sanitizer pass, then the fuzz smoke pass; fails
# on the first failure.
test: build build-asan build-fuzz
	@echo "== tests (RelWithDebInfo) =="
	@ctest --test-dir $(BUILD) $(CTEST_ARGS)
	@echo "== tests (ASan + UBSan) =="
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) $(CTEST_ARGS)
	@echo "== fuzz smoke ($(FUZZ_SMOKE_SECONDS) s per target) =="
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)

fuzz: build-fuzz
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: build-fuzz
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)

# Unit and integration tests with roomd, roomctl, roomload and roomtui under
# valgrind memcheck; see scripts/check-valgrind.sh.
check-valgrind: build
	@sh scripts/check-valgrind.sh $(BUILD)

test-fast: build
	@ctest --test-dir $(BUILD) $(CTEST_ARGS)

# Only roomd and what it links; cmake's output goes to a log shown only if
# the build fails, so what you see is roomd's own output.
run: deps
	@mkdir -p $(BUILD)
	@if ! { cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) && \
		cmake --build $(BUILD) -j $(JOBS) --target roomd; } >$(BUILD)/make-run.log 2>&1; then \
		cat $(BUILD)/make-run.log; \
		echo "Error: building roomd failed (log: $(BUILD)/make-run.log)" >&2; exit 1; fi
	@echo "Demo page: http://127.0.0.1:8080/?room=demo (on the default --listen; open it in two windows)"
	@exec $(BUILD)/roomd/roomd $(ARGS)

# The binaries, man pages, systemd unit and example config (deploy/).
install: build
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
