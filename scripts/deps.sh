#!/bin/sh
# Install the Debian 12 packages loaxa needs to build, run and test.
# Idempotent: only calls apt-get when something is missing.
set -eu
pkgs="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
libuv1-dev libcurl4-openssl-dev libsqlite3-dev libinih-dev libjansson-dev
libmicrohttpd-dev libsystemd-dev libcmocka-dev libssl-dev python3 sqlite3 curl
libsodium-dev debhelper dpkg-dev fakeroot python3-prometheus-client"
# The test command also drives the web console in a real headless browser.
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs chromium chromium-driver python3-selenium"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
