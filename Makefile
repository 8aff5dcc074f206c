# Thin wrapper around CMake. The two commands of the README:
#   make run   - install missing packages, build, start roomd on its defaults
#   make test  - install, build, run every test, then again under ASan+UBSan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build build-asan test test-fast test-asan run clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRK_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The normal pass, then the sanitizer pass; fails on the first failure.
test: build build-asan
	@echo "== tests (RelWithDebInfo) =="
	@ctest --test-dir $(BUILD) $(CTEST_ARGS)
	@echo "== tests (ASan + UBSan) =="
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) $(CTEST_ARGS)

test-fast: build
	@ctest --test-dir $(BUILD) $(CTEST_ARGS)

run: build
	@$(BUILD)/roomd/roomd

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
