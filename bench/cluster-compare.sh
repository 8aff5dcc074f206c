#!/usr/bin/env bash
# cluster-compare.sh - issue 13's benchmark: the same roomload run against
#   sqlite1   one roomd, embedded default (one SQLite file per room)
#   pg1       one roomd --pg (PostgreSQL, no router): PostgreSQL's cost alone
#   pg1h      one roomd --pg behind HAProxy: the router's cost alone
#   pg3       three roomd --pg nodes behind HAProxy (balance by room)
# all on this box, one table. Not a test (not part of `make test`); see
# docs/CLUSTER.md "Performance".
#
# Figures per run: deliveries/s, ack and delivery p50/p99 (roomload), commit
# latency (mean of roomd_commit_seconds for SQLite, roomd_pg_commit_seconds
# for PostgreSQL: one group commit), ops per PostgreSQL round trip (ops
# committed / group commits), CPU µs per delivery of the whole server side
# (every roomd node + HAProxy + PostgreSQL's processes: utime+stime deltas).
#
# Usage: bench/cluster-compare.sh      (repo root, after `make build`)
# Environment: BUILD=build  DURATION=20  ROOMS=100  CLIENTS=10  RATE=5
#   SETUPS="sqlite1 pg1 pg3"  RUNS=1 (medians when > 1)  KEEP=1 keeps the work dir
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-20}
ROOMS=${ROOMS:-100}
CLIENTS=${CLIENTS:-10}
RATE=${RATE:-5}
SETUPS=${SETUPS:-"sqlite1 pg1 pg3"}
RUNS=${RUNS:-1}
ROOMD=$BUILD/roomd/roomd
ROOMLOAD=$BUILD/roomload/roomload
for b in "$ROOMD" "$ROOMLOAD"; do
	[ -x "$b" ] || { echo "Error: $b not built (make build)" >&2; exit 1; }
done
for c in jq haproxy curl; do
	command -v "$c" >/dev/null || { echo "Error: $c is required (sh scripts/install-deps.sh)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/rk-cluster-XXXXXX)
chmod 755 "$WORK" # the postgres user runs the throwaway PostgreSQL in it
PIDS=()
PGDIR=
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "$PGDIR" ] && sh scripts/pgtmp.sh stop "$PGDIR" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then echo "Work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
CLK_TCK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_roomd LOG ARGS...: start roomd on a free port; echo "PID PORT".
start_roomd() {
	local log=$1
	shift
	"$ROOMD" --listen 127.0.0.1:0 --log-level warn --ops-per-sec 100000 --ops-burst 100000 "$@" 2>"$log" &
	local pid=$! i=0
	until grep -q "listening on" "$log"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "Error: roomd did not start:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "$pid $(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)"
}

# ticks PID...: utime+stime of the processes and their children
ticks() {
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')))
	done
	echo "$t"
}

# PostgreSQL's processes (postmaster and its backends)
pg_pids() { pgrep -u postgres -f "postgres" | tr '\n' ' '; }

metric() { # metric PORT NAME: sum of the series NAME (no labels)
	curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {s += $2} END {print s + 0}'
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"

run_setup() {
	local setup=$1 run=$2 url ports=() pids=() hpid=
	local dir=$WORK/$setup.$run
	mkdir -p "$dir"
	case $setup in
	sqlite1)
		read -r pid port < <(start_roomd "$dir/roomd.log" --data "$dir/data")
		pids=("$pid"); ports=("$port"); url=ws://127.0.0.1:$port ;;
	pg1 | pg1h | pg3)
		PGDIR=$dir/pg
		local pgurl
		pgurl=$(sh scripts/pgtmp.sh start "$PGDIR")
		local n=1
		[ "$setup" = pg3 ] && n=3
		for i in $(seq 1 $n); do
			read -r pid port < <(start_roomd "$dir/roomd$i.log" --pg "$pgurl" --node "n$i")
			pids+=("$pid"); ports+=("$port")
		done
		url=ws://127.0.0.1:${ports[0]}
		if [ "$setup" != pg1 ]; then
			local hport
			hport=$(free_port)
			{
				# deploy/haproxy.cfg as shipped, in the foreground here:
				# without its daemon/chroot/user/log lines, our bind and
				# servers.
				grep -vE '^\s*(daemon|chroot|user|group|log /dev/log)|^\s*server ' deploy/haproxy.cfg |
					sed "s/^\(\s*bind\) .*/\1 127.0.0.1:$hport/"
				for i in $(seq 0 $((n - 1))); do printf '    server n%d 127.0.0.1:%s check\n' "$((i + 1))" "${ports[$i]}"; done
			} >"$dir/haproxy.cfg"
			haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
			hpid=$!
			PIDS+=("$hpid")
			sleep 1
			url=ws://127.0.0.1:$hport
		fi ;;
	esac
	PIDS+=("${pids[@]}")
	local pgp=""
	[ "$setup" != sqlite1 ] && pgp=$(pg_pids)
	# shellcheck disable=SC2086
	local t0 t1
	t0=$(ticks "${pids[@]}" $hpid $pgp)
	"$ROOMLOAD" --url "$url" --rooms "$ROOMS" --clients "$CLIENTS" --rate "$RATE" \
		--duration "$DURATION" --json -q >"$dir/load.json" 2>"$dir/load.err" || true
	# shellcheck disable=SC2086
	t1=$(ticks "${pids[@]}" $hpid $pgp)
	local ops=0 rounds=0 csum=0 ccount=0
	for p in "${ports[@]}"; do
		ops=$((ops + $(metric "$p" roomd_ops_committed_total)))
		if [ "$setup" = sqlite1 ]; then
			csum=$(echo "$csum + $(metric "$p" roomd_commit_seconds_sum)" | bc -l)
			ccount=$((ccount + $(metric "$p" roomd_commit_seconds_count)))
		else
			csum=$(echo "$csum + $(metric "$p" roomd_pg_commit_seconds_sum)" | bc -l)
			ccount=$((ccount + $(metric "$p" roomd_pg_commit_seconds_count)))
		fi
	done
	for p in "${pids[@]}" $hpid; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	[ -n "$PGDIR" ] && sh scripts/pgtmp.sh stop "$PGDIR" >/dev/null && PGDIR=
	jq -c --arg setup "$setup" --argjson ticks "$((t1 - t0))" --argjson hz "$CLK_TCK" \
		--argjson ops "$ops" --argjson ccount "$ccount" --argjson csum "$csum" '{
		setup: $setup, passed: .passed,
		dps: .deliveries_per_s, delivered: .events_delivered,
		ack50: .latency_ms.ack.p50, ack99: .latency_ms.ack.p99,
		del50: .latency_ms.delivery.p50, del99: .latency_ms.delivery.p99,
		cpu_us: (if .events_delivered > 0 then ($ticks / $hz * 1e6 / .events_delivered) else null end),
		commit_ms: (if $ccount > 0 then ($csum / $ccount * 1000) else null end),
		ops_per_commit: (if $ccount > 0 then ($ops / $ccount) else null end)}' \
		"$dir/load.json" >>"$RESULTS"
}

for run in $(seq 1 "$RUNS"); do
	for setup in $SETUPS; do
		echo "run $run: $setup ..." >&2
		run_setup "$setup" "$run"
	done
done

echo
printf '%-8s %6s %10s %8s %8s %8s %8s %10s %10s %9s\n' setup passed deliv/s ack_p50 ack_p99 del_p50 del_p99 cpu_us/del commit_ms ops/commit
for setup in $SETUPS; do
	jq -s --arg s "$setup" '[.[] | select(.setup == $s)] as $r |
		def med(f): ($r | map(f) | map(select(. != null)) | sort | if length == 0 then null else .[(length / 2 | floor)] end);
		[$s, ($r | all(.passed)), med(.dps), med(.ack50), med(.ack99), med(.del50), med(.del99), med(.cpu_us), med(.commit_ms), med(.ops_per_commit)] | @tsv' \
		-r "$RESULTS" | awk -F'\t' '{printf "%-8s %6s %10.0f %8.2f %8.2f %8.2f %8.2f %10.2f %10.3f %9.1f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
done
