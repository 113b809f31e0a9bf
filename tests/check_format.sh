#!/bin/sh
# Fails, naming the files, if any C source differs from what .clang-format makes of it.
cd "$1" || exit 2
bad=$(git ls-files -co --exclude-standard '*.c' '*.h' | while read -r f; do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$bad" ]; then
	echo "not clang-formatted (run: clang-format -i FILE):"
	echo "$bad"
	exit 1
fi
echo "all C files formatted"
