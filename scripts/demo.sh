#!/bin/sh
# The main job on an embedded default: installs what is missing, builds
# loaxa, starts loaxad on a scratch state directory with Đông Hà commune's
# four village groups, imports etc/households.sample.csv through the CLI,
# shows the groups and households, and stops the daemon cleanly.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
CC=${CC:-gcc} sh scripts/build.sh build
loaxad=build/daemon/loaxad
loaxa=build/cli/loaxa

scratch=$(mktemp -d /tmp/loaxa-demo.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

cat >"$scratch/loaxa.ini" <<INI
; demo configuration: everything else at its default (see etc/loaxa.ini)
[daemon]
state_dir = $scratch/state

[api]
socket = $scratch/api.sock
INI
# No [groups] section: the built-in default is Đông Hà's four groups.

echo "== loaxad --check-config"
$loaxad --config "$scratch/loaxa.ini" --check-config

echo "== starting loaxad (state in $scratch/state)"
$loaxad --config "$scratch/loaxa.ini" 2>"$scratch/loaxad.log" &
pid=$!
export LOAXA_SOCKET="$scratch/api.sock"
i=0
until $loaxa status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "loaxad did not start:" >&2
		cat "$scratch/loaxad.log" >&2
		exit 1
	fi
	sleep 0.1
done

echo "== loaxa groups"
$loaxa groups
echo
echo "== loaxa import etc/households.sample.csv"
$loaxa import etc/households.sample.csv
echo
echo "== loaxa groups (after the import)"
$loaxa groups
echo
echo "== loaxa households --group 'Đông Tân'"
$loaxa households --group "Đông Tân"
echo
echo "== loaxa households (all)"
$loaxa households
echo
echo "== loaxa status"
$loaxa status
echo
echo "== stopping loaxad (SIGTERM)"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
echo "loaxad exited with status $rc; its log:"
sed 's/^/  /' "$scratch/loaxad.log"
exit $rc
