#!/usr/bin/env bash
# roomload-compare.sh - the roomload-driven peer benchmark (bench/compare.sh
# is the main one: roomd against the floor and node-peer in one table): the same roomload scenarios
# against roomd and against bench/node-peer (a room server on Node's `ws`,
# optionally persisting to SQLite with better-sqlite3), one table with ratios.
# Not a test: it is not part of `make test`. See docs/BENCHMARKS.md.
#
# Servers (each scenario gets a fresh server process and a fresh data dir;
# the server is stopped with SIGTERM after the scenario):
#   roomd              roomd, default durability (SQLite WAL, survives a crash)
#   roomd-fsync        roomd --fsync (fsync before any reply: survives power loss)
#   node               node-peer, in memory (no persistence: an upper bound)
#   node-sqlite        node-peer --sqlite (WAL, synchronous=NORMAL)
#   node-sqlite-fsync  node-peer --sqlite --fsync (synchronous=FULL)
# Scenarios (roomload chat of 100-char posts unless said otherwise):
#   S1   100 rooms x 10 clients x 5 ops/s for DURATION s (1,000 connections)
#   S2   1 room x 500 clients x 1 op/s for DURATION s (fan-out 499)
#   S3   1,000 rooms x 10 idle connections (10,000) held IDLE_HOLD s: time to
#        connect them all, server RSS per connection =
#        (VmRSS while held - VmRSS before) / 10,000
#   SAT  S1's shape with the per-client rate raised step by step (SAT_RATES)
#        until delivery p99 > SAT_P99 ms, a check fails, or fewer than 95% of
#        the expected deliveries arrive; reports the last step that held.
#        roomd gets --ops-per-sec/--ops-burst 100000 here (its default per-
#        connection limit of 50 ops/s would reject first; node-peer has none).
# For every run: server CPU time (utime+stime from /proc/PID/stat, whole run
# including connect and drain) per delivered event, and server peak RSS
# (VmHWM) of that server process.
#
# Usage: bench/roomload-compare.sh            (from the repo root, after cmake --build build)
# Environment:
#   BUILD=build        build dir with roomd and roomload
#   QUICK=1            smoke run (about 2 min): DURATION=5, IDLE_HOLD=1, no saturation search
#   DURATION=20        S1/S2 send window, seconds
#   IDLE_HOLD=10       S3 hold time, seconds
#   SAT=1              0 skips the saturation search
#   SAT_DURATION=10    seconds per saturation step
#   SAT_RATES="5 10 15 20 30 40 60 80 120 160"   per-client ops/s steps
#   SAT_P99=50         delivery p99 limit, ms
#   SERVERS="roomd roomd-fsync node node-sqlite node-sqlite-fsync"
#   SCENARIOS="S1 S2 S3"
#   KEEP=1             keep the work dir (JSON reports, logs) instead of deleting it
# Needs: jq, python3, node >= 20 and npm (bench/node-peer is installed with
# `npm ci` on first use; better-sqlite3 is compiled from source against the
# local Node headers, about a minute on 2 cores).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	DURATION=${DURATION:-5}
	IDLE_HOLD=${IDLE_HOLD:-1}
	SAT=${SAT:-0}
fi
DURATION=${DURATION:-20}
IDLE_HOLD=${IDLE_HOLD:-10}
SAT=${SAT:-1}
SAT_DURATION=${SAT_DURATION:-10}
SAT_RATES=${SAT_RATES:-"5 10 15 20 30 40 60 80 120 160"}
SAT_P99=${SAT_P99:-50}
SERVERS=${SERVERS:-"roomd roomd-fsync node node-sqlite node-sqlite-fsync"}
SCENARIOS=${SCENARIOS-"S1 S2 S3"}
[ "$SAT" = 1 ] && SCENARIOS="$SCENARIOS SAT"

ROOMD=$BUILD/roomd/roomd
ROOMLOAD=$BUILD/roomload/roomload
PEER=bench/node-peer
for b in "$ROOMD" "$ROOMLOAD"; do
	[ -x "$b" ] || { echo "Error: $b not built (cmake -S . -B $BUILD && cmake --build $BUILD)" >&2; exit 1; }
done
for c in jq python3 node npm; do
	command -v "$c" >/dev/null || { echo "Error: $c is required" >&2; exit 1; }
done

# ---- node-peer dependencies ------------------------------------------------
if [ ! -d "$PEER/node_modules/ws" ] || [ ! -d "$PEER/node_modules/better-sqlite3" ] ||
	! (cd "$PEER" && node -e "require('better-sqlite3')" 2>/dev/null); then
	echo "Installing bench/node-peer dependencies (npm ci)..." >&2
	# Build better-sqlite3 from source against this Node's headers: no
	# prebuilt-binary or header download (only the npm registry is needed).
	nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
	if [ -f "$nodedir/include/node/common.gypi" ]; then
		export npm_config_nodedir=$nodedir
	fi
	export npm_config_build_from_source=true
	(cd "$PEER" && npm ci --no-audit --no-fund >&2)
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_workdir

CLK_TCK=$(getconf CLK_TCK)

# ---- servers ---------------------------------------------------------------

# start_server KIND TAG [EXTRA roomd args...]: sets SPID, PORT, DATA.
start_server() {
	local kind=$1 tag=$2
	shift 2
	DATA=$WORK/$kind.$tag
	mkdir -p "$DATA"
	local log=$DATA/server.log
	: >"$log"
	case $kind in
	roomd) "$ROOMD" --listen 127.0.0.1:0 --data "$DATA" --log-level warn "$@" 2>"$log" & ;;
	roomd-fsync) "$ROOMD" --listen 127.0.0.1:0 --data "$DATA" --log-level warn --fsync "$@" 2>"$log" & ;;
	node*) start_node "$kind" "$log" || { echo "Error: unknown server $kind" >&2; exit 2; } ;;
	*) echo "Error: unknown server $kind" >&2; exit 2 ;;
	esac
	[ -n "$SPID" ] || SPID=$!
	wait_listening "$kind" "$log"
	PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
}

cpu_ticks() { sed 's/^.*) //' /proc/"$SPID"/stat | awk '{print $12 + $13}'; }
status_kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/"$SPID"/status; }

# load NAME ARGS...: run roomload against the current server, append one
# result line (roomload's report plus server figures) to $RESULTS, and leave
# the report in $LAST. Samples the server's VmRSS while roomload runs.
load() {
	local name=$1
	shift
	LAST=$DATA/$name.json
	local rss0 cpu0 cpu1 rssmax=0 r rc=0 lpid
	rss0=$(status_kb VmRSS)
	cpu0=$(cpu_ticks)
	"$ROOMLOAD" --url "ws://127.0.0.1:$PORT" "$@" --json -q >"$LAST" 2>"$DATA/$name.err" &
	lpid=$!
	while kill -0 "$lpid" 2>/dev/null; do
		r=$(status_kb VmRSS)
		[ "$r" -gt "$rssmax" ] && rssmax=$r
		sleep 0.2
	done
	wait "$lpid" || rc=$?
	cpu1=$(cpu_ticks)
	if ! jq -e . "$LAST" >/dev/null 2>&1; then
		echo "  roomload failed (exit $rc) without a report:" >&2
		sed 's/^/    /' "$DATA/$name.err" | head -5 >&2
		echo '{}' >"$LAST"
	fi
	jq -c --arg server "$SERVER" --arg scenario "$name" --argjson rc "$rc" \
		--argjson cpu_s "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" \
		--argjson rss0 "$rss0" --argjson rssmax "$rssmax" --argjson hwm "$(status_kb VmHWM)" \
		'{server: $server, scenario: $scenario, rc: $rc, srv_cpu_s: $cpu_s,
		  srv_rss0_kb: $rss0, srv_rss_held_kb: $rssmax, srv_hwm_kb: $hwm, report: .}' \
		"$LAST" >>"$RESULTS"
	jq -r --arg rc "$rc" --arg hwm "$(status_kb VmHWM)" --arg cpu "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" '
	  "  \(.connections.established // 0)/\(.connections.target // "?") conns in \((.connections.connect_all_s // 0) * 100 | round / 100) s, "
	  + "\(.deliveries_per_s // 0 | round) deliveries/s, delivery p99 \(.latency_ms.delivery.p99 // "-") ms, "
	  + "violations \(.violations.total // "?"), exit \($rc); server CPU \($cpu) s, VmHWM \($hwm) KiB"' "$LAST" >&2
}

# ---- scenarios -------------------------------------------------------------

scenario() { # KIND SCENARIO
	local kind=$1 sc=$2
	SERVER=$kind
	case $sc in
	S1)
		start_server "$kind" s1
		echo "[$kind] S1: 100 rooms x 10 clients x 5 ops/s, ${DURATION} s" >&2
		load S1 --rooms 100 --clients 10 --rate 5 --duration "$DURATION" --room-prefix s1-
		stop_server ;;
	S2)
		start_server "$kind" s2
		echo "[$kind] S2: 1 room x 500 clients x 1 op/s, ${DURATION} s" >&2
		load S2 --rooms 1 --clients 500 --rate 1 --duration "$DURATION" --room-prefix s2-
		stop_server ;;
	S3)
		start_server "$kind" s3
		sleep 0.5 # let the server settle before the RSS baseline
		echo "[$kind] S3: 1,000 rooms x 10 idle connections, held ${IDLE_HOLD} s" >&2
		load S3 --scenario idle --rooms 1000 --clients 10 --duration "$IDLE_HOLD" --room-prefix s3-
		stop_server ;;
	SAT)
		local rate p99 ok
		for rate in $SAT_RATES; do
			case $kind in
			roomd*) start_server "$kind" "sat$rate" --ops-per-sec 100000 --ops-burst 100000 ;;
			*) start_server "$kind" "sat$rate" ;;
			esac
			echo "[$kind] SAT step: 100 rooms x 10 clients x $rate ops/s, ${SAT_DURATION} s" >&2
			load "SAT@$rate" --rooms 100 --clients 10 --rate "$rate" --duration "$SAT_DURATION" --room-prefix sat-
			stop_server
			# Held: checks passed, delivery p99 within the limit, and at
			# least 95% of the deliveries the schedule asks for arrived.
			ok=$(jq -r --argjson lim "$SAT_P99" --argjson want "$((1000 * rate * 9))" '
			  if (.passed == true) and ((.latency_ms.delivery.p99 // 1e9) <= $lim)
			     and ((.deliveries_per_s // 0) >= 0.95 * $want) then "yes" else "no" end' "$LAST")
			[ "$ok" = yes ] || break
		done ;;
	esac
}

nproc_n=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "compare.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $nproc_n cores ($cpu_model), kernel $(uname -r)" >&2
echo "NOTE: server and roomload share these $nproc_n cores; figures are for both on one box." >&2
echo "servers: $SERVERS; scenarios: $SCENARIOS; DURATION=$DURATION IDLE_HOLD=$IDLE_HOLD" >&2

for sc in $SCENARIOS; do
	for kind in $SERVERS; do
		scenario "$kind" "$sc"
	done
done

# ---- the table ---------------------------------------------------------------

python3 - "$RESULTS" "$nproc_n" "$cpu_model" "$SERVERS" "$SAT_P99" <<'PY'
import json, sys

path, ncpu, model, servers, sat_p99 = sys.argv[1:6]
servers = servers.split()
rows = [json.loads(l) for l in open(path) if l.strip()]
by = {}
sat = {}
for r in rows:
    sc = r["scenario"]
    if sc.startswith("SAT@"):
        sat.setdefault(r["server"], []).append((int(sc[4:]), r))
    else:
        by[(r["server"], sc)] = r

def rep(r, *keys):
    v = r["report"]
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v

def cpu_per_delivery(r):
    ev = rep(r, "events_delivered")
    return r["srv_cpu_s"] * 1e6 / ev if ev else None

def checks(r):
    if rep(r, "passed") is True and r["rc"] == 0:
        return "ok"
    v = rep(r, "violations") or {}
    sent, acked = rep(r, "ops_sent") or 0, rep(r, "ops_acked") or 0
    if v.get("total") and v.get("total") == v.get("diverged") and acked < sent:
        # Only "diverged" with ops unanswered: the server was still behind
        # when roomload's 10 s drain ended (overload), not an ordering bug.
        return "behind(%d/%d acked)" % (acked, sent)
    return "FAIL(v=%s,rc=%s)" % (v.get("total"), r["rc"])

# metric: (label, function(result) -> number or str, better, format)
common = [
    ("deliveries/s", lambda r: rep(r, "deliveries_per_s"), "higher", "{:.0f}"),
    ("delivery p50 ms", lambda r: rep(r, "latency_ms", "delivery", "p50"), "lower", "{:.2f}"),
    ("delivery p99 ms", lambda r: rep(r, "latency_ms", "delivery", "p99"), "lower", "{:.2f}"),
    ("ack p99 ms", lambda r: rep(r, "latency_ms", "ack", "p99"), "lower", "{:.2f}"),
    ("server CPU us/delivery", cpu_per_delivery, "lower", "{:.2f}"),
    ("server peak RSS MiB", lambda r: r["srv_hwm_kb"] / 1024, "lower", "{:.1f}"),
    ("checks", checks, "", "{}"),
]
metrics = {
    "S1": common,
    "S2": common,
    "S3": [
        ("connect all s", lambda r: rep(r, "connections", "connect_all_s"), "lower", "{:.2f}"),
        ("connect p99 ms", lambda r: rep(r, "connections", "connect_ms", "p99"), "lower", "{:.1f}"),
        ("RSS/conn KiB", lambda r: (r["srv_rss_held_kb"] - r["srv_rss0_kb"]) / 10000, "lower", "{:.2f}"),
        ("server peak RSS MiB", lambda r: r["srv_hwm_kb"] / 1024, "lower", "{:.1f}"),
        ("checks", checks, "", "{}"),
    ],
}
titles = {
    "S1": "S1 100 rooms x 10 clients x 5 ops/s",
    "S2": "S2 1 room x 500 clients x 1 op/s",
    "S3": "S3 10,000 idle conns in 1,000 rooms",
    "SAT": "SAT S1 shape, rate raised until delivery p99 > %s ms" % sat_p99,
}
pairs = [("roomd", "node-sqlite"), ("roomd-fsync", "node-sqlite-fsync"), ("roomd", "node")]
pairs = [p for p in pairs if p[0] in servers and p[1] in servers]

def fmt(v, f):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f.format(v)

def ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return "-"
    return "%.2fx" % (a / b)

head = ["metric"] + servers + ["%s/%s" % p for p in pairs] + ["better"]
table = []
def section(title):
    table.append([title] + [""] * (len(head) - 1))

for sc in ["S1", "S2", "S3"]:
    if not any((s, sc) in by for s in servers):
        continue
    section(titles[sc])
    for label, fn, better, f in metrics[sc]:
        vals = {s: (fn(by[(s, sc)]) if (s, sc) in by else None) for s in servers}
        table.append(["  " + label] + [fmt(vals[s], f) for s in servers] +
                     [ratio(vals[a], vals[b]) if better else "" for a, b in pairs] + [better])

if sat:
    section(titles["SAT"])
    best = {}
    for s in servers:
        held = None
        for rate, r in sorted(sat.get(s, []), key=lambda x: x[0]):
            ok = (rep(r, "passed") is True and
                  (rep(r, "latency_ms", "delivery", "p99") or 1e9) <= float(sat_p99) and
                  (rep(r, "deliveries_per_s") or 0) >= 0.95 * 1000 * rate * 9)
            if not ok:
                break
            held = (rate, r)
        best[s] = held
    rowdefs = [
        ("max sustained deliveries/s", lambda h: rep(h[1], "deliveries_per_s"), "higher", "{:.0f}"),
        ("  at ops/s per client", lambda h: h[0], "higher", "{}"),
        ("  delivery p99 ms there", lambda h: rep(h[1], "latency_ms", "delivery", "p99"), "", "{:.2f}"),
        ("  server CPU us/delivery there", lambda h: cpu_per_delivery(h[1]), "lower", "{:.2f}"),
        ("  roomload send lag p99 ms there", lambda h: rep(h[1], "latency_ms", "send_lag", "p99"), "", "{:.2f}"),
    ]
    for label, fn, better, f in rowdefs:
        vals = {s: (fn(best[s]) if best.get(s) else None) for s in servers}
        table.append(["  " + label.strip()] + [fmt(vals[s], f) for s in servers] +
                     [ratio(vals[a], vals[b]) if better else "" for a, b in pairs] + [better])

widths = [max(len(str(row[i])) for row in [head] + table) for i in range(len(head))]
def line(row):
    return "| " + " | ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                             for i, c in enumerate(row)) + " |"
print()
print("Server and roomload share %s cores (%s): a pessimistic, same-box figure." % (ncpu, model))
print(line(head))
print("|" + "|".join(("-" * (w + 2)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|")
for row in table:
    print(line(row))
print()
print("Ratios are roomd / node-peer: above 1 means roomd is higher (better for")
print("'higher', worse for 'lower'). CPU is the server's utime+stime over the whole")
print("roomload run (connect, send, drain), divided by the events delivered.")
print("checks: ok = every roomload check passed (no ordering violation); behind(a/s)")
print("= the server had answered only a of s ops when roomload's 10 s drain ended.")
PY
