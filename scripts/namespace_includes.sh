#!/usr/bin/env bash
# Namespaces common headers (docs/architecture.md, "Includes"): #include "db.h" -> #include "common/db.h" in every tracked (or
# new, not ignored) .c/.h file, the repo root being on the include path. Idempotent.
set -euo pipefail
H=$(cd common && ls *.h | sed 's/\.h$//' | paste -sd'|')
# A service header named like a common one would be rewritten wrongly: refuse.
for h in common/*.h; do
	if git ls-files -co --exclude-standard | grep -v '^common/' | grep -q "/$(basename "$h")$"; then
		echo "collision: $(basename "$h") exists outside common/" >&2; exit 1
	fi
done
git ls-files -co --exclude-standard -- '*.c' '*.h' |
	xargs sed -i -E "s@^([[:space:]]*#[[:space:]]*include[[:space:]]+)\"($H)\.h\"@\1\"common/\2.h\"@"
