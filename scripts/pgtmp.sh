#!/bin/sh
# pgtmp.sh - a throwaway PostgreSQL for tests and benchmarks (Debian's
# postgresql-15), in a directory of its own, on a free TCP port of
# 127.0.0.1. Tests run as root and PostgreSQL refuses root, so initdb and
# pg_ctl run as the postgres user.
#
#   sh scripts/pgtmp.sh start DIR    initdb DIR/pgdata if missing, start on a
#                                    free port (or the one in DIR/port),
#                                    wait until it accepts connections, print
#                                    postgresql://postgres@127.0.0.1:PORT/postgres
#   sh scripts/pgtmp.sh stop DIR     stop (fast: sessions are disconnected)
#   sh scripts/pgtmp.sh kill DIR     stop immediately (a crash: recovery at
#                                    the next start)
#   sh scripts/pgtmp.sh restart DIR  stop fast, start again on the same port
#
# DIR holds pgdata/, port, pg.log and the Unix socket; its parents must be
# searchable by the postgres user (a directory under /tmp is; one under a
# root-only mkdtemp directory is not). Exit 0, or 1 with one
# "Error: ..." line (and the end of pg.log) on stderr. Stopping a stopped
# server is exit 0.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
READY_S=30 # how long start waits for connections

die() {
	echo "Error: pgtmp: $*" >&2
	if [ -n "${DIR:-}" ] && [ -f "$DIR/pg.log" ]; then
		echo "--- last lines of $DIR/pg.log:" >&2
		tail -n 20 "$DIR/pg.log" >&2
	fi
	exit 1
}

usage() {
	echo "usage: sh scripts/pgtmp.sh start|stop|kill|restart DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
case "$DIR" in
/*) ;;
*) DIR=$(pwd)/$DIR ;;
esac

# Run a PostgreSQL binary as the postgres user (as is when not root).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A free TCP port of 127.0.0.1: bound once to port 0 and released (a port
# taken meanwhile makes the start fail, and start tries another).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

running() {
	[ -f "$DIR/pgdata/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" status >/dev/null 2>&1
}

do_stop() {
	mode=$1
	[ -d "$DIR/pgdata" ] || return 0
	running || return 0
	if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m "$mode" -w -t 60 stop >/dev/null 2>&1; then
		running && die "pg_ctl stop -m $mode failed"
	fi
	return 0
}

# Start on port $1; 0 if it accepts connections.
try_start() {
	port=$1
	as_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" -l "$DIR/pg.log" -w -t "$READY_S" \
		-o "-p $port -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null 2>&1 ||
		return 1
	as_pg "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t "$READY_S" || return 1
	echo "$port" >"$DIR/port"
	return 0
}

do_start() {
	mkdir -p "$DIR" || die "cannot create $DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
	as_pg test -w "$DIR" ||
		die "$DIR is not reachable by the postgres user (a parent directory is not searchable: use a directory under /tmp, or chmod o+x its parents)"
	if [ ! -f "$DIR/pgdata/PG_VERSION" ]; then
		rm -rf "$DIR/pgdata"
		as_pg "$PGBIN/initdb" -D "$DIR/pgdata" -A trust -U postgres --no-locale \
			-E UTF8 >"$DIR/initdb.log" 2>&1 ||
			die "initdb failed: $(tail -n 5 "$DIR/initdb.log")"
	fi
	if running; then
		[ -f "$DIR/port" ] || die "a server runs in $DIR/pgdata but $DIR/port is missing"
	elif [ -f "$DIR/port" ]; then
		# A restart keeps its port (clients reconnect to the same URL).
		try_start "$(cat "$DIR/port")" || die "cannot start on port $(cat "$DIR/port")"
	else
		tries=0
		until try_start "$(free_port)"; do
			tries=$((tries + 1))
			[ $tries -lt 5 ] || die "cannot start PostgreSQL (5 ports tried)"
		done
	fi
	echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
}

case "$CMD" in
start) do_start ;;
stop) do_stop fast ;;
kill) do_stop immediate ;;
restart)
	do_stop fast
	do_start
	;;
*) usage ;;
esac
