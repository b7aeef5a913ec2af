#!/bin/sh
# Run every libFuzzer target for a while (default 60 s each):
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Builds build-fuzz/ with clang, ASan and UBSan. New inputs go to a scratch
# corpus; crashes are written to tests/fuzz/ as crash-* files: minimise one,
# add it to tests/fuzz/corpus/<target>/ and fix the bug.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"csv phone config when template channel webhooks auth api"}
sh scripts/deps.sh
CC=clang sh scripts/build.sh build-fuzz -Db_sanitize=address,undefined \
	-Db_lundef=false -Dfuzz=true --buildtype=debugoptimized
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
for t in $targets; do
	work=$(mktemp -d /tmp/loaxa-fuzz-$t.XXXXXX)
	echo "== fuzz-$t for ${secs}s"
	build-fuzz/tests/fuzz-$t -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix=tests/fuzz/ "$work" tests/fuzz/corpus/$t \
		2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed|==|SUMMARY|Done)' || true
	rm -rf "$work"
done
