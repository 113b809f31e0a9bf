#!/bin/sh
# run_fuzz.sh BIN CORPUS [SEED...] -- [LIBFUZZER-OPTION...]
# Runs libFuzzer target BIN on a fresh corpus directory CORPUS filled with the
# seeds (files, or directories whose files are copied): given to libFuzzer as
# files, seeds would each run once instead of being fuzzed. New inputs land in
# CORPUS (the build tree), never in the committed corpus.
set -e
bin=$1 corpus=$2
shift 2
rm -rf "$corpus"
mkdir -p "$corpus"
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	if [ -d "$1" ]; then
		cp -R "$1"/. "$corpus"/
	else
		cp "$1" "$corpus"/
	fi
	shift
done
[ $# -gt 0 ] && shift
exec "$bin" "$@" "$corpus"
