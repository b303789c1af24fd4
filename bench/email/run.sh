#!/usr/bin/env bash
# The email benchmark, one command: bench/email/run.sh [COUNT]
# Builds without sanitizers into build-bench/, starts a private Postgres (default,
# durable settings) and the counting SMTP sink, measures the sink alone, then queues
# COUNT (default 10000) invitations in usher-notificationd with one SendEmails call and
# measures how fast they reach the sink. Prints a summary; see README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib.sh
. "$ROOT/scripts/lib.sh"

COUNT=${1:-10000}
WORKERS=${DELIVERY_WORKERS:-4}
BUILD=${USHER_BENCH_BUILD:-$ROOT/build-bench}

say "building into $BUILD"
cmake -S "$ROOT/bench/email" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUSHER_SANITIZE=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

tmp=$(mktemp -d /tmp/usher-bench.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pg_stop "$tmp/data"
	rm -rf "$tmp"
}
trap cleanup EXIT

admin_pw=$(random_hex 16)
role_pw=$(random_hex 16)
pg_init "$tmp/data" "$admin_pw"
pg_start "$tmp/data" "$tmp/sock" "$tmp/postgres.log" max_connections=100
create_roles "$tmp/sock" "$admin_pw" "$role_pw" "$role_pw" "$role_pw" "$role_pw"
psql_admin "$tmp/sock" "$admin_pw" postgres -c "CREATE DATABASE usher" >/dev/null
psql_admin "$tmp/sock" "$admin_pw" usher -f "$ROOT/scripts/sql/database.sql" >/dev/null

sink() { # sink PORT_FILE ARGS...: starts the counting sink, waits for its port
	local port_file=$1; shift
	"$BUILD/bench-email-sink" --port 0 --port-file "$port_file" "$@" >"$port_file.out" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$port_file" ] && return 0; sleep 0.05; done
	die "the sink did not start"
}

say "1. the sink alone: $COUNT messages over $WORKERS connections"
sink "$tmp/alone.port" --expect "$COUNT"
"$BUILD/bench-email-sink" --port "$(cat "$tmp/alone.port")" --drive "$COUNT" --connections "$WORKERS"
wait "${pids[-1]}" || true
cat "$tmp/alone.port.out"

say "2. usher-notificationd ($WORKERS delivery workers) to the sink: $COUNT messages"
sink "$tmp/sink.port" --expect "$COUNT"
sink_pid=${pids[-1]}
export NOTIFICATION_RPC_URL="ipc://$tmp/notification.sock"
DATABASE_URL="postgresql://usher_notification:$role_pw@/usher?host=$tmp/sock&port=5432" \
RPC_LISTEN="$NOTIFICATION_RPC_URL" LOG_LEVEL=warn DELIVERY_WORKERS="$WORKERS" \
SMTP_URL="smtp://127.0.0.1:$(cat "$tmp/sink.port")" \
	"$BUILD/bin/usher-notificationd" >"$tmp/notificationd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	"$BUILD/bin/usherctl" --timeout 500 health notification >/dev/null 2>&1 && break
	sleep 0.1
done
queued=$("$BUILD/bench-email-queue" "$NOTIFICATION_RPC_URL" "$COUNT")
echo "$queued"
wait "$sink_pid" || true
received=$(cat "$tmp/sink.port.out")
echo "$received"

# The sink counts what arrived; the queue is done when every message is recorded as sent.
sql() { psql_admin "$tmp/sock" "$admin_pw" usher -At -c "$1"; }
for _ in $(seq 300); do
	[ "$(sql "SELECT count(*) FROM notification.messages WHERE state <> 'sent'")" = 0 ] && break
	sleep 0.1
done
recorded=$(sql "SELECT extract(epoch FROM max(updated_at)) FROM notification.messages WHERE state = 'sent'")
unsent=$(sql "SELECT count(*) FROM notification.messages WHERE state <> 'sent'")

returned=$(sed -n 's/.*returned at \([0-9.]*\).*/\1/p' <<<"$queued")
first=$(sed -n 's/.*first at \([0-9.]*\),.*/\1/p' <<<"$received")
last=$(sed -n 's/.*last at \([0-9.]*\):.*/\1/p' <<<"$received")
awk -v n="$COUNT" -v r="$returned" -v f="$first" -v l="$last" -v d="$recorded" -v u="$unsent" 'BEGIN {
	printf "delivery: %d messages at the sink %.3f s after SendEmails returned: %.0f messages/s\n", n, l - r, n / (l - r)
	printf "          first to last message at the sink: %.3f s, %.0f messages/s\n", l - f, (n - 1) / (l - f)
	printf "          all recorded as sent %.3f s after SendEmails returned (%d not sent)\n", d - r, u
}'
grep -v '"level":"debug"' "$tmp/notificationd.log" | grep -v '"msg":"\(serving\|delivering\|migration applied\|stopping on SIGTERM\|stopped\)"' | head -5 || true
