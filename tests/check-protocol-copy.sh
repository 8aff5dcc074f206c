#!/bin/sh
# check-protocol-copy.sh SRC_DIR - docs/PROTOCOL.md must be byte-identical to
# the shared contract, ../shared/PROTOCOL.md next to the repository. Exit 0
# if it is, 1 (with the diff) if not, 77 (ctest: skipped) when there is no
# ../shared to compare with, e.g. in a lone clone.
set -u
src=${1:?usage: check-protocol-copy.sh SRC_DIR}
shared="$src/../shared/PROTOCOL.md"
copy="$src/docs/PROTOCOL.md"
if [ ! -f "$shared" ]; then
	echo "SKIP: no $shared to compare docs/PROTOCOL.md with"
	exit 77
fi
if cmp -s "$shared" "$copy"; then
	echo "docs/PROTOCOL.md is identical to $shared"
	exit 0
fi
echo "docs/PROTOCOL.md differs from $shared (copy the shared one: cp $shared $copy):"
diff -u "$shared" "$copy" | head -40
exit 1
