#!/bin/sh
# Fails, naming the files, if any C source differs from what .clang-format makes of it.
cd "$1" || exit 2
files=$(git ls-files -co --exclude-standard '*.c' '*.h')
# One clang-format for all (fast); file by file only to name the culprits.
# shellcheck disable=SC2086
if clang-format --dry-run --Werror $files >/dev/null 2>&1; then
	echo "all C files formatted"
	exit 0
fi
echo "not clang-formatted (run: clang-format -i FILE):"
for f in $files; do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done
exit 1
