#!/usr/bin/env bash
# idle-memory.sh - where an idle connection's memory goes in roomd: 10,000
# idle connections into 1,000 rooms (loadgen -R 1000 -C 10 -M 0 -D 6
# --proto room, ../shared/bench/loadgen.c, compiled into the work dir), with
# roomd's VmRSS per connection
#   at_connect  right after the last connect (what bench/compare.sh reports:
#               some rooms are still loading then)
#   at_end      after 6 s of idleness: rooms loaded and dozing (their SQLite
#               handles closed) with HIB=30000 (the default), or hibernated
#               with HIB=1500
# and /proc/PID/smaps split into [heap], anonymous mappings (the worker
# threads' malloc arenas: SQLite handles and states the loader built),
# -shm mappings (WAL indexes) and the rest, at 2.2 s and at 5.7 s.
#
# Usage: bench/idle-memory.sh [ROOMD]   (default build/roomd/roomd)
# Environment: HIB=30000 (--hibernate-after ms)  SHARED=../shared/bench
# Not a test; see docs/BENCHMARKS.md "Issue 15: idle memory".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOMD=${1:-build/roomd/roomd}
HIB=${HIB:-30000}
SHARED=${SHARED:-../shared/bench}
[ -x "$ROOMD" ] || { echo "Error: $ROOMD not built (make build)" >&2; exit 1; }
for c in jq cc curl; do
	command -v "$c" >/dev/null || { echo "Error: $c is required" >&2; exit 1; }
done
W=$(mktemp -d /tmp/rk-idlemem-XXXXXX)
P=
cleanup() {
	if [ -n "$P" ]; then
		kill "$P" 2>/dev/null || true
		wait "$P" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
cc -O2 -Wall -o "$W/loadgen" "$SHARED/loadgen.c"
ulimit -n 20000
mkdir "$W/data"
"$ROOMD" --listen 127.0.0.1:0 --data "$W/data" --log-level warn --ops-per-sec 100000 \
	--ops-burst 100000 --max-conns 20000 --hibernate-after "$HIB" 2>"$W/log" &
P=$!
for _ in $(seq 100); do grep -q listening "$W/log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$W/log" | head -1)
[ -n "$PORT" ] || { echo "Error: roomd did not start:" >&2; cat "$W/log" >&2; exit 1; }

smaps() { # TAG
	awk -v tag="$1" '/^[0-9a-f]+-/ { name = $6 }
	/^Rss:/ { if (name ~ /-shm$/) s += $2; else if (name == "[heap]") h += $2;
		  else if (name == "") a += $2; else o += $2 }
	END { printf "%s: [heap] %d KB, anonymous %d KB, -shm %d KB, other %d KB\n", tag, h, a, s, o }' \
		"/proc/$P/smaps"
}
(
	sleep 2.2
	smaps "t=2.2s"
	sleep 3.5
	smaps "t=5.7s"
	curl -s "http://127.0.0.1:$PORT/metrics" |
		grep -E '^roomd_(rooms_loaded|rooms_hibernated|room_dozes_total|room_wakes_total) ' |
		tr '\n' ' '
	echo
) &
"$W/loadgen" --url "ws://127.0.0.1:$PORT" --path '/ws/{room}' -R 1000 -C 10 -M 0 -D 6 \
	--pid "$P" --proto room --prefix "im$RANDOM-" --label roomd >"$W/lg.json" 2>"$W/lg.err" || true
wait %2 2>/dev/null || true
jq -r '"connect \(.connect_s) s; at_connect \(.server.rss_per_conn_kb) KiB/conn; "
  + "at_end \(((.server.rss_end_kb - .server.rss_before_kb) / .connected * 100 | round) / 100) KiB/conn "
  + "(\(.connected) conns, VmRSS before \(.server.rss_before_kb) KB)"' "$W/lg.json"
