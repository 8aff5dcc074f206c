#!/usr/bin/env bash
# compare.sh - the side-by-side benchmark, one table: roomd against the
# physical floor of this machine and against a Node `ws` peer, with one
# neutral load generator (../shared/bench/loadgen.c) driving
#   floor              ../shared/bench/floor.c: the cheapest correct fan-out
#                      server (one thread, epoll, no parsing, no storage, one
#                      send() per delivery) - what the kernel charges
#   floor-batch        the same with --batch (each connection's frames of one
#                      loop turn in one send()) - the best any server can do
#   roomd              roomd, every op durable (SQLite WAL; survives kill -9)
#   roomd-fsync        roomd --fsync (survives power loss)
#   node               bench/node-peer (Node's ws, in memory: no durability)
#   node-sqlite        node-peer --sqlite (WAL, synchronous=NORMAL)
#   node-sqlite-fsync  node-peer --sqlite --fsync (synchronous=FULL)
# The floor speaks loadgen's own protocol; roomd and node-peer speak
# PROTOCOL.md (loadgen --proto room). floor.c and loadgen.c stay in shared/:
# they are compiled into the work dir at every run, never copied here.
# (bench/roomload-compare.sh is the older roomload-driven run against the
# Node peers: protocol checks, ack latency, a saturation search.)
#
# Scenarios (the issue's shapes; 100-byte messages):
#   S1    100 rooms x 10 clients x 5 msg/s    (45,000 deliveries/s)
#   S1f   100 rooms x 10 clients x 7.5 msg/s  (67,500 deliveries/s: the
#         --fsync target, p99 <= 50 ms)
#   sat   100 rooms x 10 clients x 10 msg/s   (90,000 deliveries/s)
#   S2    1 room x 500 clients x 1 msg/s (fan-out 499)
#   idle  1,000 rooms x 10 idle connections: 10,000 connects, RSS per conn
#         (loadgen: (VmRSS with all connected - before) / connections)
# Runs are interleaved (run 1 of every server in every scenario, then run 2,
# ...) and the table shows medians of RUNS. CPU us/delivery = server
# utime+stime while the load ran (loadgen's cpu_s_run, from /proc/PID/stat)
# / deliveries. The ratio columns divide roomd's and roomd-fsync's figure by
# floor-batch's of the same runs (for p99: by floor-batch's p99).
#
# Usage: bench/compare.sh   (from the repo root, after `make build`)
# Environment:
#   BUILD=build  RUNS=3  DURATION=10
#   QUICK=1      RUNS=1 DURATION=5 (smoke run)
#   SERVERS="floor floor-batch roomd roomd-fsync node"
#   SCENARIOS="S1 S1f sat S2 idle"
#   SHARED=../shared/bench   where floor.c and loadgen.c are
#   KEEP=1       keep the work dir (JSON lines, logs)
# Needs: cc, jq, python3; node and npm for the node* servers.
# Not a test (not part of `make test`); see docs/BENCHMARKS.md.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if [ "${QUICK:-0}" = 1 ]; then
	RUNS=${RUNS:-1}
	DURATION=${DURATION:-5}
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
SERVERS=${SERVERS:-"floor floor-batch roomd roomd-fsync node"}
SCENARIOS=${SCENARIOS:-"S1 S1f sat S2 idle"}
SHARED=${SHARED:-../shared/bench}
ROOMD=$BUILD/roomd/roomd
PEER=bench/node-peer

for f in "$SHARED/floor.c" "$SHARED/loadgen.c"; do
	[ -f "$f" ] || { echo "Error: $f not found (set SHARED=)" >&2; exit 1; }
done
[ -x "$ROOMD" ] || { echo "Error: $ROOMD not built (make build)" >&2; exit 1; }
for c in jq cc; do
	command -v "$c" >/dev/null || { echo "Error: $c is required" >&2; exit 1; }
done
case " $SERVERS " in *" node"*)
	command -v node >/dev/null || { echo "Error: node is required for the node servers" >&2; exit 1; }
	[ -d "$PEER/node_modules/ws" ] || (cd "$PEER" && npm ci --no-audit --no-fund --omit=optional >&2) ;;
esac
case " $SERVERS " in *" node-sqlite"*)
	(cd "$PEER" && node -e "require('better-sqlite3')" 2>/dev/null) || {
		echo "Error: better-sqlite3 is not built in $PEER (run bench/roomload-compare.sh once: it builds it)" >&2
		exit 1
	} ;;
esac

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_workdir

cc -O2 -Wall -o "$WORK/floor" "$SHARED/floor.c" -lcrypto
cc -O2 -Wall -o "$WORK/loadgen" "$SHARED/loadgen.c"
ulimit -n 20000

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server KIND TAG: sets SPID, PORT, PROTO.
start_server() {
	local kind=$1 tag=$2 log
	DATA=$WORK/$kind.$tag
	mkdir -p "$DATA"
	log=$DATA/server.log
	PROTO=room
	case $kind in
	floor | floor-batch)
		PROTO=anchor
		PORT=$(free_port)
		if [ "$kind" = floor-batch ]; then
			"$WORK/floor" --batch --port "$PORT" >"$log" 2>&1 &
		else
			"$WORK/floor" --port "$PORT" >"$log" 2>&1 &
		fi
		;;
	roomd) "$ROOMD" --listen 127.0.0.1:0 --data "$DATA" --log-level warn \
		--ops-per-sec 100000 --ops-burst 100000 --max-conns 20000 2>"$log" & ;;
	roomd-fsync) "$ROOMD" --listen 127.0.0.1:0 --data "$DATA" --log-level warn --fsync \
		--ops-per-sec 100000 --ops-burst 100000 --max-conns 20000 2>"$log" & ;;
	node*) start_node "$kind" "$log" || { echo "Error: unknown server $kind" >&2; exit 2; } ;;
	*) echo "Error: unknown server $kind" >&2; exit 2 ;;
	esac
	[ -n "$SPID" ] || SPID=$!
	wait_listening "$kind" "$log"
	case $kind in floor*) ;; *) PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1) ;; esac
}

run_one() { # KIND SCENARIO RUN
	local kind=$1 sc=$2 run=$3 args
	case $sc in
	S1) args="-R 100 -C 10 -M 5 -D $DURATION" ;;
	S1f) args="-R 100 -C 10 -M 7.5 -D $DURATION" ;;
	sat) args="-R 100 -C 10 -M 10 -D $DURATION" ;;
	S2) args="-R 1 -C 500 -M 1 -D $DURATION" ;;
	idle) args="-R 1000 -C 10 -M 0 -D 3" ;;
	*) echo "Error: unknown scenario $sc" >&2; exit 2 ;;
	esac
	start_server "$kind" "$sc.$run"
	local out=$DATA/loadgen.json
	# shellcheck disable=SC2086
	"$WORK/loadgen" --url "ws://127.0.0.1:$PORT" --path '/ws/{room}' $args --pid "$SPID" \
		--proto "$PROTO" --prefix "$sc$run-" --label "$kind" >"$out" 2>"$DATA/loadgen.err" || true
	stop_server
	if ! jq -e . "$out" >/dev/null 2>&1; then
		echo "  [$kind $sc run $run] loadgen gave no report:" >&2
		head -3 "$DATA/loadgen.err" >&2
		return
	fi
	jq -c --arg s "$kind" --arg sc "$sc" --argjson run "$run" '{server: $s, scenario: $sc, run: $run, r: .}' \
		"$out" >>"$RESULTS"
	jq -r --arg s "$kind" --arg sc "$sc" --argjson run "$run" '
	  "  [\($s) \($sc) run \($run)] \(.connected) conns in \(.connect_s) s, \(.deliveries_per_s | round) deliveries/s, "
	  + "p50 \(.lat_ms.p50) p99 \(.lat_ms.p99) ms, undelivered \(.undelivered), server CPU \(.server.cpu_s_run) s"' "$out" >&2
}

for run in $(seq 1 "$RUNS"); do
	for sc in $SCENARIOS; do
		for s in $SERVERS; do
			run_one "$s" "$sc" "$run"
		done
	done
done

# ---- table: medians of RUNS ------------------------------------------------
# Columns: every server, then roomd and roomd-fsync as ratios of floor-batch
# (when those servers ran).
jq -s -r --arg servers "$SERVERS" --arg scenarios "$SCENARIOS" '
  def median: map(select(. != null)) | sort
              | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
  ($servers | split(" ") | map(select(length > 0))) as $sv
  | ($scenarios | split(" ") | map(select(length > 0))) as $scs
  | ([("roomd", "roomd-fsync") | select(. as $x | $sv | index($x))]
     | if ($sv | index("floor-batch")) then . else [] end) as $rs
  | . as $all
  | def cell($s; $sc; f): [$all[] | select(.server == $s and .scenario == $sc) | .r | f] | median;
    def us($s; $sc): cell($s; $sc; if .delivered > 0 then .server.cpu_s_run * 1e6 / .delivered else null end);
    def ratio($a; $b): if $a != null and $b != null and $b > 0 then ($a / $b | r2) + "x" else "-" end;
    def row($lab; f):
      "| \($lab) | " + ($sv | map(f | r2) | join(" | ")) + " |"
      + ($rs | map(. as $r | " " + ratio($r | f; "floor-batch" | f) + " |") | join(""));
    def row_nr($lab; f): "| \($lab) | " + ($sv | map(f) | join(" | ")) + " |" + ($rs | map(" |") | join(""));
  ("| | " + ($sv | join(" | ")) + " |" + ($rs | map(" \(.) / floor-batch |") | join(""))),
  ("|---" + ($sv | map("|---:") | join("")) + "|" + ($rs | map("---:|") | join(""))),
  ($scs[] as $sc |
    if $sc == "idle" then
      row("idle: RSS KiB per connection"; cell(.; $sc; .server.rss_per_conn_kb)),
      row("idle: 10,000 connects, s"; cell(.; $sc; .connect_s))
    else
      row("\($sc): CPU us/delivery"; us(.; $sc)),
      row_nr("\($sc): deliveries/s"; cell(.; $sc; .deliveries_per_s) | if . == null then "-" else (round | tostring) end),
      row_nr("\($sc): p50 ms"; cell(.; $sc; .lat_ms.p50) | r2),
      row("\($sc): p99 ms"; cell(.; $sc; .lat_ms.p99)),
      row_nr("\($sc): undelivered"; cell(.; $sc; .undelivered) | if . == null then "-" else tostring end)
    end)
' "$RESULTS"
echo "(medians of $RUNS interleaved runs, DURATION=$DURATION s; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ))"
