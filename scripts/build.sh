#!/bin/sh
# Configure (once) and build one build directory.
#   scripts/build.sh DIR [meson options...]
set -eu
dir=$1
shift
if [ -f "$dir/build.ninja" ]; then
	meson configure "$dir" "$@" >/dev/null
else
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
