#!/bin/sh
# The test command: installs what is missing, builds loaxa twice and runs the
# whole suite in both builds:
#   build/       gcc, -Werror, the ordinary build;
#   build-asan/  clang with AddressSanitizer + UndefinedBehaviorSanitizer
#                (-Werror too), which also builds the libFuzzer targets.
# Prints meson's per-test results, then one closing line
# "N passed, N failed" counted from both runs' test logs.
set -u
cd "$(dirname "$0")/.."
sh scripts/deps.sh --test || exit 1

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="exitcode=23"

status=0
echo "== build (gcc)"
CC=gcc sh scripts/build.sh build || status=1
echo "== build-asan (clang, address+undefined)"
CC=clang sh scripts/build.sh build-asan -Db_sanitize=address,undefined \
	-Db_lundef=false -Dfuzz=true --buildtype=debug || status=1
if [ $status -ne 0 ]; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== tests in build"
meson test -C build --print-errorlogs --num-processes 2 "$@" || status=1
# The sanitizer build runs everything but the 'slow' suite (building the
# Debian package twice proves nothing more).
echo "== tests in build-asan"
meson test -C build-asan --print-errorlogs --num-processes 2 \
	--no-suite slow "$@" || status=1

python3 scripts/count-results.py build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog.json || status=1
exit $status
