#!/usr/bin/env bash
# log-cost.sh - what roomd's durable log costs per delivery (issue 15,
# target 1): bench/compare.sh with two measurement-only variants of roomd
# beside the real one, built from bench/patches/log-variants.patch in a
# throwaway git worktree (never in the product):
#   roomd-excl   every room file in SQLite's locking_mode=EXCLUSIVE (no
#                fcntl locks, no -shm) and no checkpoints while loaded
#                (the WAL grows for the run): the cheapest SQLite log
#   roomd-nolog  no commit at all (ops applied, fanned out and acked as if
#                committed): roomd's cost with a free log
# Same load generator, same scenarios, interleaved, medians of RUNS, in one
# table with floor-batch (../shared/bench/floor.c --batch).
#
# Usage: bench/log-cost.sh   (from a git checkout, after `make build`)
# Environment: RUNS=3 DURATION=10 SCENARIOS="S1 sat" (as compare.sh)
# Not a test; see docs/BENCHMARKS.md "Issue 15: what the log costs".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=$(mktemp -d /tmp/rk-logcost-XXXXXX)
cleanup() {
	git -C "$ROOT" worktree remove --force "$W/src" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
git worktree add --detach "$W/src" HEAD >/dev/null
git -C "$W/src" apply "$ROOT/bench/patches/log-variants.patch"
echo "building the patched roomd in $W/src ..." >&2
if ! cmake -S "$W/src" -B "$W/src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>"$W/cmake.log" 2>&1 ||
	! cmake --build "$W/src/build" -j "$(nproc)" --target roomd >>"$W/cmake.log" 2>&1; then
	cat "$W/cmake.log" >&2
	exit 1
fi
cd "$W/src"
SERVERS=${SERVERS:-"floor-batch roomd roomd-excl roomd-nolog"} \
	SCENARIOS=${SCENARIOS:-"S1 sat"} SHARED=${SHARED:-$ROOT/../shared/bench} \
	bench/compare.sh
