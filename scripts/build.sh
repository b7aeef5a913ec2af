#!/bin/sh
# Configure (once) and build one build directory; quiet unless it fails.
#   scripts/build.sh DIR [meson options...]
set -eu
dir=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -f "$dir/build.ninja" ]; then
	meson configure "$dir" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
else
	meson setup "$dir" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
fi
ninja -C "$dir" >"$log" 2>&1 || { grep -v '^\[' "$log" | tail -60; exit 1; }
