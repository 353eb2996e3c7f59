#!/usr/bin/env bash
# Every C source and header is formatted with the checked-in .clang-format.
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/setup-deps installs it)"; exit 1; }
files=$(find include engine io signer server cli util tests bench docs -name '*.[ch]' -not -path '*/corpus/*' | sort)
clang-format --dry-run --Werror $files
echo "format_check: $(echo "$files" | wc -l) files formatted"
