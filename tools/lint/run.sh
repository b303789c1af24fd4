#!/usr/bin/env bash
# The API's linters, as CI runs them (.ci/run):
#   buf lint      the protos follow buf's STANDARD rules, with the exceptions buf.yaml explains
#   buf breaking  nothing in them breaks the last release (protos/release/usher-*.json)
#   spectral      the HTTP API's OpenAPI document (usher-gatewayd --openapi) is valid OpenAPI
#                 and follows the rules in tools/lint/spectral.yaml
# The linters are npm packages pinned in package-lock.json, installed here by `npm ci`
# (jsep is held at 1.4.0 in package.json: later ones refuse the node 18 of Debian 12).
#
#   tools/lint/run.sh GATEWAY_BINARY       lint everything
#   tools/lint/run.sh baseline VERSION     at a release: record the protos as its baseline
set -euo pipefail
LINT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LINT/../.." && pwd)
# @scarf/scarf, a dependency of Spectral, reports every install to its vendor otherwise.
export SCARF_ANALYTICS=false

if [ ! -x "$LINT/node_modules/.bin/buf" ] || [ "$LINT/package-lock.json" -nt "$LINT/node_modules" ]; then
	(cd "$LINT" && npm ci --no-audit --no-fund --loglevel=error)
	touch "$LINT/node_modules"
fi
BUF=$LINT/node_modules/.bin/buf
cd "$ROOT"

if [ "${1:-}" = baseline ]; then
	[[ ${2:-} =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 baseline X.Y.Z" >&2; exit 2; }
	# JSON, one field a line: a release's diff shows what changed in the API.
	"$BUF" build --exclude-source-info -o "-#format=json" |
		python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=1, sort_keys=True))' \
		>"protos/release/usher-$2.json"
	echo "protos/release/usher-$2.json"
	exit 0
fi

[ $# -eq 1 ] || { echo "usage: $0 GATEWAY_BINARY | baseline X.Y.Z" >&2; exit 2; }
gateway=$1
baseline=$(find protos/release -name 'usher-*.json' | sort -V | tail -n 1)
[ -n "$baseline" ] || { echo "no release baseline in protos/release/" >&2; exit 1; }

echo "buf lint"
"$BUF" lint
echo "buf breaking against $baseline"
"$BUF" breaking --against "$baseline"

echo "spectral lint (usher-gatewayd --openapi)"
doc=$(mktemp --suffix=.json)
trap 'rm -f "$doc"' EXIT
"$gateway" --openapi >"$doc"
"$LINT/node_modules/.bin/spectral" lint --quiet --fail-severity=warn \
	--ruleset "$LINT/spectral.yaml" "$doc"
echo "lint: ok"
