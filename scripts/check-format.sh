#!/bin/sh
# check-format.sh - every C file of the tree is formatted as .clang-format
# says (clang-format 14, Debian 12's). Prints the files that are not and
# exits 1; exit 0 when all are. To fix: scripts/check-format.sh --fix
# (clang-format -i on the same files).
#
# Usage: scripts/check-format.sh [--fix] [SRCDIR]   (default: the repo root)
set -eu
fix=0
if [ "${1:-}" = --fix ]; then
	fix=1
	shift
fi
root=${1:-$(dirname "$0")/..}
cd "$root"
command -v clang-format >/dev/null || { echo "Error: clang-format is not installed (scripts/install-deps.sh)" >&2; exit 1; }
# The tree's own C files: not build dirs, not node_modules.
files=$(find libcommon libcli libstore roomd roomctl roomload roomtui tests bench \
	-name node_modules -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print | sort)
if [ "$fix" = 1 ]; then
	echo "$files" | xargs clang-format -i
	exit 0
fi
bad=0
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (scripts/check-format.sh --fix)"
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "all $(echo "$files" | wc -l) C files formatted as .clang-format says"
exit $bad
