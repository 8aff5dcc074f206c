#!/bin/sh
# fuzz.sh - run every libFuzzer target for a while (make fuzz, make
# fuzz-smoke) and report executions/s and coverage per target.
#
# usage: scripts/fuzz.sh FUZZ_BUILD_DIR SECONDS_PER_TARGET [TARGET...]
#
# Each target reads its seed corpus tests/fuzz/corpus/<t> and crash
# regressions tests/fuzz/regressions/<t>; inputs it finds go to
# FUZZ_BUILD_DIR/corpus/<t> (a scratch dir, never the repository), crashes
# to FUZZ_BUILD_DIR/crashes/<t>-crash-<sha1>. To keep a crash forever: fix
# the bug, then copy the file into tests/fuzz/regressions/<t>/ so the
# fuzz.<t> ctest test replays it.
#
# Exit: 0 no target crashed, 1 a target crashed (its output is shown),
# 2 usage.
set -u
BUILD=${1:-}
SECS=${2:-}
if [ -z "$BUILD" ] || [ -z "$SECS" ]; then
	echo "usage: scripts/fuzz.sh FUZZ_BUILD_DIR SECONDS_PER_TARGET [TARGET...]" >&2
	exit 2
fi
shift 2
SRC=$(cd "$(dirname "$0")/.." && pwd)
TARGETS=${*:-cmsg smsg apply snapshot token url http wsurl}
mkdir -p "$BUILD/corpus" "$BUILD/crashes" "$BUILD/logs"
status=0
printf '%-10s %12s %10s %8s %8s %8s\n' target runs exec/s cov ft corpus
for t in $TARGETS; do
	bin="$BUILD/tests/fuzz/fuzz_$t"
	[ -x "$bin" ] || { echo "Error: $bin not built" >&2; exit 1; }
	mkdir -p "$BUILD/corpus/$t"
	log="$BUILD/logs/$t.log"
	# -max_len: the seed welcome is the largest input (~600 bytes); 8 KiB
	# leaves room for long points lists and tokens.
	"$bin" -max_total_time="$SECS" -print_final_stats=1 -max_len=8192 \
		-timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$BUILD/crashes/$t-" \
		"$BUILD/corpus/$t" "$SRC/tests/fuzz/corpus/$t" \
		"$SRC/tests/fuzz/regressions/$t" >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n 1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -n 1)
	cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$done_line" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	printf '%-10s %12s %10s %8s %8s %8s\n' "$t" "${runs:-?}" "${eps:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}"
	if [ $rc -ne 0 ]; then
		echo "fuzz_$t FAILED (exit $rc); its log, $log:"
		grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|RELOAD)' "$log" | tail -n 60
		status=1
	fi
done
exit $status
