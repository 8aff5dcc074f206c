# lib.sh - sourced by bench/compare.sh and bench/roomload-compare.sh: the
# work dir and the one server process a benchmark runs at a time.
#   bench_workdir     WORK (a new /tmp/rk-compare-* dir), RESULTS (an empty
#                     results.jsonl in it), SPID (the server's pid, empty when
#                     none runs); on exit the server is killed and WORK removed
#                     (kept, and named, with KEEP=1)
#   stop_server       SIGTERM the server, wait for it, clear SPID

bench_cleanup() {
	if [ -n "$SPID" ]; then
		kill "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "Work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}

bench_workdir() {
	WORK=$(mktemp -d /tmp/rk-compare-XXXXXX)
	RESULTS=$WORK/results.jsonl
	: >"$RESULTS"
	SPID=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

stop_server() {
	kill -TERM "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	SPID=
}

# start_node KIND LOG: start node-peer ($PEER) as node, node-sqlite or
# node-sqlite-fsync (data in $DATA/rooms) on a free port, stderr to LOG;
# sets SPID. Returns 1 for another KIND.
start_node() {
	case $1 in
	node) node "$PEER/server.js" --listen 127.0.0.1:0 2>"$2" & ;;
	node-sqlite) node "$PEER/server.js" --listen 127.0.0.1:0 --sqlite "$DATA/rooms" 2>"$2" & ;;
	node-sqlite-fsync) node "$PEER/server.js" --listen 127.0.0.1:0 --sqlite "$DATA/rooms" --fsync 2>"$2" & ;;
	*) return 1 ;;
	esac
	SPID=$!
}

# wait_listening KIND LOG: wait (10 s at most) until the server SPID logged
# its "listening" line; exit 1 with its log if it died or never did.
wait_listening() {
	local i=0
	until grep -q "listening" "$2"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$SPID" 2>/dev/null; then
			echo "Error: $1 did not start:" >&2
			cat "$2" >&2
			exit 1
		fi
		sleep 0.1
	done
}
