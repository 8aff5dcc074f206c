#!/bin/sh
# run-roomd.sh - measure roomd with roomload on this machine (not a test).
#
# Starts a release roomd on a free port with a temp data dir, then runs:
#   S1    100 rooms x 10 clients x 5 ops/s chat for 20 s (1,000 connections)
#   IDLE  1,000 rooms x 10 idle connections (10,000) held for 10 s
# and prints deliveries/s, delivery latency p50/p99/max, roomload CPU per
# received event, time to connect, and the RSS of roomload and roomd.
#
# Usage: bench/run-roomd.sh [BUILD_DIR]   (default: build; needs jq)
# For roomd side by side with a Node `ws` peer, see bench/compare.sh and bench/roomload-compare.sh.
# Both processes share the machine's cores: the figures are for roomd and
# roomload together on one box, which is the pessimistic case.
set -eu

BUILD=${1:-build}
ROOMD=$BUILD/roomd/roomd
ROOMLOAD=$BUILD/roomload/roomload
for b in "$ROOMD" "$ROOMLOAD"; do
	[ -x "$b" ] || { echo "Error: $b not built (cmake --build $BUILD)" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "Error: jq is required" >&2; exit 1; }

DATA=$(mktemp -d /tmp/rk-bench-XXXXXX)
LOG=$DATA/roomd.log
: >"$LOG"
"$ROOMD" --listen 127.0.0.1:0 --data "$DATA" --log-level warn 2>"$LOG" &
PID=$!
cleanup() {
	kill "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

# Wait for the ready line (up to 10 s).
i=0
until PORT=$(sed -n 's/.*roomd listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$LOG") && [ -n "$PORT" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "Error: roomd did not start:" >&2; cat "$LOG" >&2; exit 1; }
	kill -0 "$PID" 2>/dev/null || { echo "Error: roomd exited:" >&2; cat "$LOG" >&2; exit 1; }
	sleep 0.1
done
URL=ws://127.0.0.1:$PORT
echo "roomd pid $PID on $URL, data in $DATA"

roomd_rss() { awk '/VmHWM/ {print $2}' /proc/"$PID"/status; }

run() { # name, roomload args...
	name=$1
	shift
	echo
	echo "== $name: roomload $*"
	set +e
	"$ROOMLOAD" --url "$URL" "$@" --json -q >"$DATA/$name.json"
	rc=$?
	set -e
	jq -r --arg rc "$rc" --arg rss "$(roomd_rss)" '
	  "exit status          \($rc) (passed: \(.passed))",
	  "connections          \(.connections.established)/\(.connections.target) in \(.connections.connect_all_s * 100 | round / 100) s (connect p50 \(.connections.connect_ms.p50) ms, p99 \(.connections.connect_ms.p99) ms)",
	  "ops sent/acked       \(.ops_sent) / \(.ops_acked), rejected \(.ops_rejected)",
	  "events delivered     \(.events_delivered) (\(.deliveries_per_s | round)/s)",
	  "delivery latency     p50 \(.latency_ms.delivery.p50) ms, p99 \(.latency_ms.delivery.p99) ms, max \(.latency_ms.delivery.max) ms",
	  "ack latency          p50 \(.latency_ms.ack.p50) ms, p99 \(.latency_ms.ack.p99) ms, max \(.latency_ms.ack.max) ms",
	  "roomload send lag    p99 \(.latency_ms.send_lag.p99) ms, max \(.latency_ms.send_lag.max) ms",
	  "ordering violations  \(.violations.total)",
	  "roomload CPU         \(.cpu_s * 100 | round / 100) s, \(.cpu_us_per_event * 100 | round / 100) us per received event, \(.cpu_us_per_msg * 100 | round / 100) us per message",
	  "roomload peak RSS    \(.rss_kb) KiB",
	  "roomd peak RSS       \($rss) KiB (so far)"' "$DATA/$name.json"
}

run S1 --rooms 100 --clients 10 --rate 5 --duration 20 --room-prefix s1-
run IDLE --scenario idle --rooms 1000 --clients 10 --duration 10 --room-prefix idle-
