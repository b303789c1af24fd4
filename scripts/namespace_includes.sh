#!/usr/bin/env bash
# Namespaces common headers (docs/architecture.md, "Includes"): rewrites #include "db.h"
# as #include "common/db.h" in every .c and .h file git tracks or would track, the
# repository root being on the include path. Idempotent: run it again after a merge.
set -euo pipefail
cd "$(dirname "$0")/.."
H=$(cd common && ls *.h | sed 's/\.h$//' | paste -sd'|')
# A header elsewhere named like a common one would be rewritten wrongly: refuse.
others=$(git ls-files -co --exclude-standard | grep -v '^common/' || true)
for h in common/*.h; do
	if grep -q "/$(basename "$h")$" <<<"$others"; then
		echo "collision: $(basename "$h") exists outside common/; rename one first" >&2
		exit 1
	fi
done
git ls-files -co --exclude-standard -- '*.c' '*.h' |
	xargs sed -i -E "s@^([[:space:]]*#[[:space:]]*include[[:space:]]+)\"($H)\.h\"@\1\"common/\2.h\"@"
