#!/bin/sh
# Install the Debian packages roomkit needs to build, test and run, if any is
# missing. Idempotent and quiet when everything is present. Needs root (or
# sudo) only when something has to be installed.
set -eu

PKGS="build-essential cmake pkg-config libwebsockets-dev libsqlite3-dev sqlite3
libpq-dev postgresql-15 postgresql-client-15
libuv1-dev libwebsockets-evlib-uv libev-dev libwebsockets-evlib-ev libcjson-dev libncurses-dev libcurl4-openssl-dev libcmocka-dev libssl-dev tmux
clang libclang-rt-14-dev clang-format valgrind
python3-websockets curl help2man
chromium haproxy"

# Node.js for clients/js (the JS client, the demo page built into roomd, their
# tests). A node already on PATH is used as it is (the development machines
# have NodeSource's 20, which brings npm); only when there is none are
# Debian's nodejs and npm installed (Debian 12: Node 18; see docs/CLIENT.md).
if ! command -v node >/dev/null 2>&1; then
	PKGS="$PKGS nodejs npm"
elif ! command -v npm >/dev/null 2>&1; then
	PKGS="$PKGS npm"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "Error: missing packages:$missing (run as root or install them)" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
