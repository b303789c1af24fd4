#!/usr/bin/env bash
# What a NOTIFY costs a committing transaction: pgbench inserts one row per transaction
# from 1 and from 8 clients, once bare and once with a pg_notify in the transaction, on a
# private durable cluster, alternating PASSES times (default 3). Postgres takes one lock
# for every notifying commit in the cluster and holds it through the commit's WAL flush,
# so notifying commits cannot share a flush. On demand (bench/notes/accept.md); not part
# of ./usher bench. Usage: bench/notify_cost.sh [SECONDS per run, default 5]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"

SECONDS_PER_RUN=${1:-5}
PASSES=${PASSES:-3}
tmp=$(mktemp -d /tmp/usher-notify.XXXXXX)
chmod 755 "$tmp"
cleanup() { pg_stop "$tmp/data"; rm -rf "$tmp"; }
trap cleanup EXIT
pw=$(random_hex 16)
pg_init "$tmp/data" "$pw"
pg_start "$tmp/data" "$tmp/sock" "$tmp/postgres.log"
psql_admin "$tmp/sock" "$pw" postgres -c "CREATE TABLE t (id bigserial PRIMARY KEY, v int)"
printf 'INSERT INTO t (v) VALUES (1);\n' >"$tmp/bare.sql"
printf "BEGIN;\nINSERT INTO t (v) VALUES (1);\nSELECT pg_notify('bench', '');\nCOMMIT;\n" >"$tmp/notify.sql"

tps() { # CLIENTS SCRIPT
	PGPASSWORD=$pw "$(pg_bin)/pgbench" -n -h "$tmp/sock" -p 5432 -U usher_admin -c "$1" \
		-j "$(( $1 < 2 ? 1 : 2 ))" -T "$SECONDS_PER_RUN" -f "$2" postgres 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
printf '%-8s %-14s %-14s %s\n' clients "bare tps" "notify tps" ratio
for pass in $(seq "$PASSES"); do
	for clients in 1 8; do
		bare=$(tps "$clients" "$tmp/bare.sql")
		notify=$(tps "$clients" "$tmp/notify.sql")
		awk -v c="$clients" -v b="$bare" -v n="$notify" \
			'BEGIN { printf "%-8s %-14.0f %-14.0f %.2fx\n", c, b, n, b / n }'
	done
done
