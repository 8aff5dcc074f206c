#!/bin/sh
# roomd-deps.sh - roomd's file-level call graph, from the built objects:
# "a.c -> b.c" when a.c calls (or takes the address of) a function defined
# in b.c. Fails if the graph has a circle (two or more files that call each
# other, directly or around a loop), so the message path stays one-way.
# Function pointers handed down (worker_ops, conn_sink, the alarm list's
# fire callback, the loader's and syncer's completion callbacks) are how a
# lower file reaches a higher one; they are not calls and not edges.
#
# Usage: scripts/roomd-deps.sh [OBJDIR]   (default build/roomd/CMakeFiles/roomd.dir)
#        prints the edges, then "acyclic" (exit 0) or the loop (exit 1).
set -eu
dir=${1:-build/roomd/CMakeFiles/roomd.dir}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "$dir"/*.c.o; do
	f=$(basename "$o" .o)
	case $f in demo_assets.c) continue ;; esac
	nm -P --defined-only "$o" | awk -v f="$f" '$2 ~ /^[TDBR]$/ {print $1, f}' >>"$tmp/defs"
	nm -P --undefined-only "$o" | awk -v f="$f" '{print f, $1}' >>"$tmp/uses"
done
# file -> file, self-edges and calls outside roomd dropped
awk 'NR == FNR {def[$1] = $2; next} ($2 in def) && def[$2] != $1 {print $1, def[$2]}' \
	"$tmp/defs" "$tmp/uses" | sort -u >"$tmp/edges"
awk '{print $1 " -> " $2}' "$tmp/edges"
if tsort "$tmp/edges" >/dev/null 2>"$tmp/err"; then
	echo "acyclic"
else
	echo "CIRCLE in roomd's call graph:" >&2
	cat "$tmp/err" >&2
	exit 1
fi
